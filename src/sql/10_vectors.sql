-- Vector math over real[] (src/vectors/vector_funcs.c).  Pure functions of their
-- arguments: IMMUTABLE STRICT PARALLEL SAFE.

CREATE FUNCTION rerank.dot(a real[], b real[]) RETURNS double precision
    AS 'MODULE_PATHNAME', 'dot'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.dot(real[], real[]) IS
    'inner product of two vectors of equal length; 0 for two empty vectors';

CREATE FUNCTION rerank.cosine_similarity(a real[], b real[]) RETURNS double precision
    AS 'MODULE_PATHNAME', 'cosine_similarity'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.cosine_similarity(real[], real[]) IS
    'cosine of the angle between two vectors, in [-1, 1]; 0 when either is a zero or empty vector';

CREATE FUNCTION rerank.euclidean_distance(a real[], b real[]) RETURNS double precision
    AS 'MODULE_PATHNAME', 'euclidean_distance'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.euclidean_distance(real[], real[]) IS
    'Euclidean (L2) distance between two vectors of equal length';

CREATE FUNCTION rerank.pearson_correlation(a real[], b real[]) RETURNS double precision
    AS 'MODULE_PATHNAME', 'pearson_correlation'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.pearson_correlation(real[], real[]) IS
    'Pearson correlation of the elements of two vectors, in [-1, 1]; 0 when either has zero variance (constant, one-element or empty)';

CREATE FUNCTION rerank.l2_norm(v real[]) RETURNS double precision
    AS 'MODULE_PATHNAME', 'l2_norm'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.l2_norm(real[]) IS
    'Euclidean length of a vector; 0 for the empty vector';

CREATE FUNCTION rerank.l2_normalize(v real[]) RETURNS real[]
    AS 'MODULE_PATHNAME', 'l2_normalize'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.l2_normalize(real[]) IS
    'the vector scaled to unit length; a zero or empty vector is returned unchanged';

-- Diagnostics (src/vectors/blas_info.c): volatile, it reads the process state.
CREATE FUNCTION rerank.blas_info(OUT config pg_catalog.text, OUT core pg_catalog.text, OUT parallel pg_catalog.text,
                                 OUT blas_threads integer, OUT backend_threads integer)
    RETURNS pg_catalog.record
    AS 'MODULE_PATHNAME', 'blas_info'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION rerank.blas_info() IS
    'the OpenBLAS build linked into the backend (config, CPU core, parallel mode, threads) and the backend process''s thread count after a BLAS call; parallel must be sequential and backend_threads 1';
