-- Vector math over real[]: results, defined degenerate cases, bad input.
SET extra_float_digits = 0;

-- results (rounded: the last bits depend on the build's vectorization)
SELECT round(rerank.dot('{1,2,3}', '{4,-5,6}')::numeric, 6) AS dot;
SELECT round(rerank.cosine_similarity('{1,0}', '{1,1}')::numeric, 6) AS cos45;
SELECT round(rerank.cosine_similarity('{1,2,3}', '{-2,-4,-6}')::numeric, 6) AS cos_opposite;
SELECT round(rerank.euclidean_distance('{1,2,3}', '{4,6,3}')::numeric, 6) AS dist;
SELECT round(rerank.pearson_correlation('{1,2,3,4}', '{1,2,3,5}')::numeric, 6) AS pearson;
SELECT round(rerank.pearson_correlation('{1,2,3,4}', '{8,6,4,2}')::numeric, 6) AS pearson_neg;
SELECT round(rerank.l2_norm('{3,4}')::numeric, 6) AS norm;
SELECT rerank.l2_normalize('{3,4}') AS normalized;
SELECT round(rerank.l2_norm(rerank.l2_normalize('{1,2,3,4,5,6,7}'))::numeric, 6) AS unit;

-- longer vectors agree with the plain SQL definition
WITH v AS (
    SELECT array_agg(sin(i)::real ORDER BY i) AS a,
           array_agg(cos(i * 0.7)::real ORDER BY i) AS b
      FROM generate_series(1, 203) i)
SELECT round(rerank.dot(a, b)::numeric, 4) =
       round((SELECT sum(x::float8 * y::float8) FROM unnest(a, b) AS t(x, y))::numeric, 4) AS dot_ok,
       round(rerank.euclidean_distance(a, b)::numeric, 4) =
       round(sqrt((SELECT sum((x::float8 - y::float8) ^ 2) FROM unnest(a, b) AS t(x, y)))::numeric, 4) AS dist_ok,
       round(rerank.cosine_similarity(a, b)::numeric, 6) =
       round((rerank.dot(a, b) / (rerank.l2_norm(a) * rerank.l2_norm(b)))::numeric, 6) AS cos_ok
  FROM v;

-- degenerate inputs have defined results, never NaN
SELECT rerank.dot('{}', '{}') AS dot_empty,
       rerank.cosine_similarity('{}', '{}') AS cos_empty,
       rerank.cosine_similarity('{0,0}', '{1,2}') AS cos_zero,
       rerank.cosine_similarity('{0,0}', '{0,0}') AS cos_both_zero,
       rerank.euclidean_distance('{}', '{}') AS dist_empty,
       rerank.pearson_correlation('{2,2,2}', '{1,2,3}') AS pearson_constant,
       rerank.pearson_correlation('{5}', '{7}') AS pearson_one,
       rerank.pearson_correlation('{}', '{}') AS pearson_empty,
       rerank.l2_norm('{}') AS norm_empty,
       rerank.l2_normalize('{0,0,0}') AS normalize_zero,
       rerank.l2_normalize('{}') AS normalize_empty;

-- a non-default lower bound is still a vector
SELECT rerank.dot('[0:2]={1,2,3}'::real[], '{1,1,1}') AS lower_bound;

-- NULL arguments: the functions are strict
SELECT rerank.dot(NULL, '{1}') IS NULL AS dot_null,
       rerank.l2_normalize(NULL) IS NULL AS normalize_null;

-- bad input: each a clear error
SELECT rerank.dot('{1,2,3}', '{1,2}');
SELECT rerank.cosine_similarity('{1}', '{1,2}');
SELECT rerank.euclidean_distance('{1,2}', '{}');
SELECT rerank.pearson_correlation('{1,2}', '{1,2,3}');
SELECT rerank.dot('{1,NULL}', '{1,2}');
SELECT rerank.l2_norm('{NULL}');
SELECT rerank.dot('{{1,2},{3,4}}', '{1,2,3,4}');
SELECT rerank.l2_normalize('{{1,2},{3,4}}');
SELECT rerank.dot('{1,NaN}', '{1,2}');
SELECT rerank.dot('{1,0}', '{Infinity,2}');
SELECT rerank.cosine_similarity('{0,0}', '{-Infinity,1}');
SELECT rerank.euclidean_distance('{Infinity}', '{Infinity}');
SELECT rerank.pearson_correlation('{1,2,NaN}', '{1,2,3}');
SELECT rerank.l2_norm('{1,-Infinity}');
SELECT rerank.l2_normalize('{NaN,1}');

-- the SQLSTATE of each kind of bad input
SELECT q AS query, sqlstate_of(q) AS sqlstate FROM (VALUES
    ($q$SELECT rerank.dot('{1,2,3}', '{1,2}')$q$),
    ($q$SELECT rerank.dot('{1,NULL}', '{1,2}')$q$),
    ($q$SELECT rerank.dot('{{1,2},{3,4}}', '{1,2,3,4}')$q$),
    ($q$SELECT rerank.dot('{1,NaN}', '{1,2}')$q$),
    ($q$SELECT rerank.l2_normalize('{Infinity}')$q$)
) t(q);

-- large vectors work
SELECT rerank.l2_norm(array_fill(1::real, ARRAY[1000000])) AS norm_million;
SELECT cardinality(rerank.l2_normalize(array_fill(2::real, ARRAY[1000000]))) AS normalized_million;

-- markings
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel
  FROM pg_proc p
 WHERE p.pronamespace = 'rerank'::regnamespace
   AND p.proname IN ('dot', 'cosine_similarity', 'euclidean_distance',
                     'pearson_correlation', 'l2_norm', 'l2_normalize')
 ORDER BY 1;
