-- Vector aggregates: sums, means, weighted means, Gram matrix, NULL and
-- empty handling, bad input and crafted states, parallel plans.
SET extra_float_digits = 0;

CREATE TABLE agg_vectors (grp int, v real[], w float8);
INSERT INTO agg_vectors VALUES
    (1, '{1,2,3}', 1), (1, '{3,2,1}', 3), (1, NULL, 5), (1, '{0,0,6}', NULL),
    (2, '{10,20}', 0.5), (3, NULL, 1);

SELECT grp, rerank.vector_sum(v) AS sum, rerank.vector_avg(v) AS avg,
       rerank.vector_avg(v, w) AS weighted
  FROM agg_vectors GROUP BY grp ORDER BY grp;

-- no rows, only NULL rows, zero total weight: NULL
SELECT rerank.vector_sum(v) IS NULL AS sum_none, rerank.vector_avg(v) IS NULL AS avg_none,
       rerank.vector_avg(v, 1) IS NULL AS weighted_none
  FROM agg_vectors WHERE false;
SELECT rerank.vector_avg(v, 0) IS NULL AS zero_weight FROM agg_vectors WHERE grp = 2;
SELECT rerank.vector_sum(v) FROM (VALUES ('{}'::real[]), ('{}')) t(v);

-- integer and real weights are accepted
SELECT rerank.vector_avg(v, 2) AS int_weight, rerank.vector_avg(v, 2::real) AS real_weight
  FROM agg_vectors WHERE grp = 2;

-- bad input
SELECT rerank.vector_sum(v) FROM (VALUES ('{1,2}'::real[]), ('{1,2,3}')) t(v);
SELECT rerank.vector_avg(v) FROM (VALUES ('{1,NULL}'::real[])) t(v);
SELECT rerank.vector_avg(v) FROM (VALUES ('{1,NaN}'::real[])) t(v);
SELECT rerank.vector_avg(v) FROM (VALUES ('{{1,2},{3,4}}'::real[])) t(v);
SELECT rerank.vector_avg(v, -1) FROM (VALUES ('{1,2}'::real[])) t(v);
SELECT rerank.vector_avg(v, 'NaN') FROM (VALUES ('{1,2}'::real[])) t(v);
SELECT rerank.vector_sum(v) FROM (VALUES ('{3e38}'::real[]), ('{3e38}')) t(v);

-- hand-crafted states handed to the state, combine and final functions
SELECT rerank.vector_accum('{1}', '{1,2}');
SELECT rerank.vector_accum('{1,1,NaN}', '{1}');
SELECT rerank.vector_sum_final('{1,1,NaN}');
SELECT rerank.vector_accum('{-1,1,1}', '{1}');
SELECT rerank.vector_accum('{1.5,1,1}', '{1}');
SELECT rerank.vector_accum('{1,-2,1}', '{1}');
SELECT rerank.vector_accum('{{1,1},{1,1}}', '{1}');
SELECT rerank.vector_accum('{1,1,NULL}', '{1}');
SELECT rerank.vector_accum('{1,1,1,1}', '{1}');
SELECT rerank.vector_combine('{1,1,1}', '{1,1,1,1}');
SELECT rerank.vector_avg_final('{2,0,1}') IS NULL AS zero_weight_state;
-- valid states work when called directly, and are not modified
SELECT rerank.vector_accum('{1,1,1,2}', '{1,1}') AS accum,
       rerank.vector_combine('{1,1,1,2}', '{2,2,3,4}') AS combined,
       rerank.vector_combine('{}', '{2,2,3,4}') AS combined_empty,
       rerank.vector_avg_final('{2,4,2,8}') AS avg_final;
-- (state_after is the very datum the functions were handed)
SELECT rerank.vector_accum(s, '{1,1}') AS accum, rerank.vector_combine(s, s) AS combined,
       s AS state_after
  FROM (SELECT array_cat('{1,1,1,2}'::float8[], '{}') AS s OFFSET 0) t;

-- the SQLSTATE of each kind of bad input
SELECT q AS query, sqlstate_of(q) AS sqlstate FROM (VALUES
    ($q$SELECT rerank.vector_sum(v) FROM (VALUES ('{1,2}'::real[]), ('{1}')) t(v)$q$),
    ($q$SELECT rerank.vector_avg(v, -1) FROM (VALUES ('{1,2}'::real[])) t(v)$q$),
    ($q$SELECT rerank.vector_sum(v) FROM (VALUES ('{3e38}'::real[]), ('{3e38}')) t(v)$q$),
    ($q$SELECT rerank.vector_accum('{1,1,NaN}', '{1}')$q$)
) t(q);

-- Gram matrix YᵀY
SELECT rerank.gram_matrix(v) FROM (VALUES ('{1,2}'::real[]), ('{3,4}')) t(v);
SELECT rerank.gram_matrix(v) IS NULL AS gram_none FROM agg_vectors WHERE false;
SELECT rerank.gram_matrix(v) FROM (VALUES ('{1,2}'::real[]), ('{3}')) t(v);
SELECT rerank.gram_accum('{1,1,1,2,3}', '{1,2}');
SELECT rerank.gram_final('{1,1,1,2,3,4,5}');
SELECT rerank.gram_combine('{1,1,1,0,0,1}', '{1,1,1,0,0,1}');

-- parallel query uses the combine functions
CREATE TABLE agg_big AS
    SELECT i, ARRAY[(i % 7)::real, (i % 11)::real, 1::real] AS v
      FROM generate_series(1, 200000) i;
ANALYZE agg_big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT rerank.vector_avg(v) FROM agg_big;
EXPLAIN (COSTS OFF) SELECT rerank.vector_avg(v, i) FROM agg_big;
EXPLAIN (COSTS OFF) SELECT rerank.gram_matrix(v) FROM agg_big;
-- and gets the serial answer
SELECT rerank.vector_sum(v) AS parallel_sum, rerank.vector_avg(v, i) AS parallel_weighted,
       rerank.gram_matrix(v) AS parallel_gram
  FROM agg_big;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SET max_parallel_workers_per_gather = 0;
SELECT rerank.vector_sum(v) AS serial_sum, rerank.vector_avg(v, i) AS serial_weighted,
       rerank.gram_matrix(v) AS serial_gram
  FROM agg_big;
RESET max_parallel_workers_per_gather;

DROP TABLE agg_vectors, agg_big;
