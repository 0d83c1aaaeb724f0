-- OpenBLAS inside a backend: the serial build, and no thread after a BLAS
-- call (a pthread build starts its pool when the library loads).
SELECT rerank.gram_matrix(v) FROM (VALUES ('{1,2,3}'::real[])) t(v);
SELECT parallel, blas_threads, backend_threads,
       config LIKE 'OpenBLAS%' AS is_openblas
  FROM rerank.blas_info();
