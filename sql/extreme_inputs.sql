-- Extreme but finite inputs (issue 10): rejected up front with an error that
-- names the input, or merged as documented, never a misleading error or a
-- useless model registered as trained.
SET extra_float_digits = 0;
\set SHOW_CONTEXT never
SET client_min_messages = warning;

CREATE TABLE extreme_src AS
SELECT u AS user_id, i AS item_id, 1.0::float8 AS weight
  FROM generate_series(1, 30) u, generate_series(1, 20) i
 WHERE (u * 7 + i * 3) % 5 < 2;

-- two weights of 3e38 for one (user, item) pair add up beyond real
INSERT INTO extreme_src VALUES (1, 1, 3e38), (1, 1, 3e38);
CALL rerank.train_als('extreme', 'extreme_src', factors => 4, iterations => 2);
CALL rerank.train_item_knn('extreme_knn', 'extreme_src');
-- one weight of 1e30: a confidence 1 + alpha·r far beyond what float
-- factors can hold next to the regularization
DELETE FROM extreme_src WHERE weight > 1;
INSERT INTO extreme_src VALUES (1, 1, 1e30);
CALL rerank.train_als('extreme', 'extreme_src', factors => 4, iterations => 2);
CALL rerank.train_als('extreme', 'extreme_src', factors => 4, iterations => 2,
                      solver => 'cholesky');
DELETE FROM extreme_src WHERE weight > 1;

-- alpha and regularization beyond any useful model
CALL rerank.train_als('extreme', 'extreme_src', factors => 4, iterations => 2,
                      alpha => 1e300, replace => true);
CALL rerank.train_als('extreme', 'extreme_src', factors => 4, iterations => 2,
                      alpha => 1e308, replace => true);
CALL rerank.train_als('extreme', 'extreme_src', factors => 4, iterations => 2,
                      regularization => 1e308, replace => true);
SELECT count(*) AS registered FROM rerank.models WHERE name LIKE 'extreme%';

-- the largest accepted: confidence 1 + alpha·r = 1e9
CALL rerank.train_als('extreme', 'extreme_src', factors => 4, iterations => 2,
                      alpha => 1e9 - 1, replace => true);
SELECT metrics->'training'->>'final_loss' IS NOT NULL AS final_loss_finite
  FROM rerank.models WHERE name = 'extreme';
CALL rerank.train_als('extreme', 'extreme_src', factors => 4, iterations => 2,
                      replace => true, seed => 3);

-- vector_avg: a weight so large that the weighted sum overflows
SELECT rerank.vector_avg(v, w) FROM (VALUES ('{1e30,2}'::real[], 1e300::float8)) t(v, w);
SELECT rerank.vector_avg(v, w)
  FROM (VALUES ('{1,2}'::real[], 1e308::float8), ('{1,2}', 1e308)) t(v, w);
-- a huge weight is fine while the sums fit
SELECT rerank.vector_avg(v, w)
  FROM (VALUES ('{1,2}'::real[], 1e300::float8), ('{3,4}', 1e300)) t(v, w);

-- fold_in_history: a repeated item is merged into its first position, its
-- weights added (as the recent history the triggers keep holds it)
SELECT rerank.fold_in_history('{1,2,1}', '{1,1,1}', 'extreme')
     = rerank.fold_in_history('{1,2}', '{2,1}', 'extreme') AS repeats_merged,
       rerank.fold_in_history('{2,1,2,1,2}', '{1,0.5,1,0.5,0}', 'extreme')
     = rerank.fold_in_history('{2,1}', '{2,1}', 'extreme') AS merged_in_order,
       rerank.fold_in_history('{3,3}', '{0,0}', 'extreme') IS NULL AS zero_sum_unused;
-- weights whose confidence 1 + alpha·r (alpha 1.2 here) is out of range, alone
-- or added up; the largest accepted is 1e9
SELECT rerank.fold_in_history('{1,2}', '{3e38,1}', 'extreme');
SELECT rerank.fold_in_history('{1,2,1}', '{2e38,1,2e38}', 'extreme');
SELECT rerank.fold_in_history('{1,2}', ARRAY[8e8, 1]::real[], 'extreme') IS NOT NULL
       AS within_range;

-- the SQLSTATE of each
SELECT q AS query, sqlstate_of(q) AS sqlstate FROM (VALUES
    ($q$CALL rerank.train_als('extreme_x', 'extreme_src', factors => 4, iterations => 2, alpha => 1e308)$q$),
    ($q$CALL rerank.train_als('extreme_x', 'extreme_src', factors => 4, iterations => 2, regularization => 1e308)$q$),
    ($q$SELECT rerank.vector_avg(v, w) FROM (VALUES ('{1e30,2}'::real[], 1e300::float8)) t(v, w)$q$),
    ($q$SELECT rerank.fold_in_history('{1,2}', '{3e38,1}', 'extreme')$q$),
    ($q$SELECT rerank.fold_in_history('{1,2,1}', '{2e38,1,2e38}', 'extreme')$q$)
) t(q);

SELECT rerank.drop_model(name) FROM rerank.models WHERE name LIKE 'extreme%' ORDER BY name;
DROP TABLE extreme_src;
