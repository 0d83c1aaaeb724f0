-- Aggregates over real[] (src/vectors/vector_aggs.c, src/vectors/gram_agg.c).  States are
-- plain float8[] so partial aggregates combine in parallel query (and on
-- distributed engines) without serial/deserial functions.

CREATE FUNCTION rerank.vector_accum(state double precision[], vector real[])
    RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'vector_accum'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.vector_accum(double precision[], real[]) IS
    'state function of vector_sum and vector_avg: adds a vector to the state {rows, sum of weights, sums...}';

CREATE FUNCTION rerank.vector_weighted_accum(state double precision[], vector real[],
                                             weight double precision)
    RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'vector_weighted_accum'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.vector_weighted_accum(double precision[], real[], double precision) IS
    'state function of the weighted vector_avg: adds weight * vector to the state';

CREATE FUNCTION rerank.vector_combine(state1 double precision[], state2 double precision[])
    RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'vector_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.vector_combine(double precision[], double precision[]) IS
    'combine function of the vector aggregates: adds two partial states';

CREATE FUNCTION rerank.vector_sum_final(state double precision[]) RETURNS real[]
    AS 'MODULE_PATHNAME', 'vector_sum_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.vector_sum_final(double precision[]) IS
    'final function of vector_sum: the sums as real[], NULL for no rows';

CREATE FUNCTION rerank.vector_avg_final(state double precision[]) RETURNS real[]
    AS 'MODULE_PATHNAME', 'vector_avg_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.vector_avg_final(double precision[]) IS
    'final function of vector_avg: the sums divided by the sum of weights, NULL for no rows or zero total weight';

CREATE AGGREGATE rerank.vector_sum(real[]) (
    SFUNC = rerank.vector_accum,
    STYPE = double precision[],
    FINALFUNC = rerank.vector_sum_final,
    COMBINEFUNC = rerank.vector_combine,
    INITCOND = '{}',
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE rerank.vector_sum(real[]) IS
    'element-wise sum of vectors; NULL rows skipped, NULL for no rows, error on different lengths';

CREATE AGGREGATE rerank.vector_avg(real[]) (
    SFUNC = rerank.vector_accum,
    STYPE = double precision[],
    FINALFUNC = rerank.vector_avg_final,
    COMBINEFUNC = rerank.vector_combine,
    INITCOND = '{}',
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE rerank.vector_avg(real[]) IS
    'element-wise mean of vectors; NULL rows skipped, NULL for no rows, error on different lengths';

CREATE AGGREGATE rerank.vector_avg(real[], weight double precision) (
    SFUNC = rerank.vector_weighted_accum,
    STYPE = double precision[],
    FINALFUNC = rerank.vector_avg_final,
    COMBINEFUNC = rerank.vector_combine,
    INITCOND = '{}',
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE rerank.vector_avg(real[], double precision) IS
    'weighted element-wise mean (weights finite and non-negative); rows with a NULL vector or weight skipped, NULL for no rows or zero total weight';

CREATE FUNCTION rerank.gram_accum(state double precision[], vector real[])
    RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'gram_accum'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.gram_accum(double precision[], real[]) IS
    'state function of gram_matrix: adds the outer product x xᵀ (BLAS dsyr)';

CREATE FUNCTION rerank.gram_combine(state1 double precision[], state2 double precision[])
    RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'gram_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.gram_combine(double precision[], double precision[]) IS
    'combine function of gram_matrix: adds two partial states';

CREATE FUNCTION rerank.gram_final(state double precision[]) RETURNS real[]
    AS 'MODULE_PATHNAME', 'gram_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.gram_final(double precision[]) IS
    'final function of gram_matrix: the symmetric k×k matrix, row-major, NULL for no rows';

CREATE AGGREGATE rerank.gram_matrix(real[]) (
    SFUNC = rerank.gram_accum,
    STYPE = double precision[],
    FINALFUNC = rerank.gram_final,
    COMBINEFUNC = rerank.gram_combine,
    INITCOND = '{}',
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE rerank.gram_matrix(real[]) IS
    'Gram matrix YᵀY of the vectors (rows of Y), k×k row-major as a one-dimensional real[] of k² elements; what ALS fold-in needs';
