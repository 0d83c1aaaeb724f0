-- In-database training: ALS (CG and Cholesky), item-kNN, the als_fold_in
-- aggregate, predict / recommend / similar_items, evaluate, model versions,
-- cancellation, and every bad input.  Small deterministic data; NOTICE
-- lines (which carry timings) are silenced.
SET extra_float_digits = 0;
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- earlier suites may leave models behind: remember them, start with none
-- active, and restore at the end
SELECT coalesce(max(model_id), 0) AS first_model, coalesce(rerank.active_model(), '') AS active_at_start
  FROM rerank.models \gset
SELECT rerank.deactivate_model();

-- 40 users × 30 items; some pairs twice (their weights add up)
CREATE TABLE events (user_id bigint, item_id bigint, weight real);
INSERT INTO events
SELECT u, i, 1 + (u + i) % 3
  FROM generate_series(1, 40) u, generate_series(1, 30) i
 WHERE (u * 7 + i * 3) % 5 < 2 OR (u % 4 = i % 4 AND i <= 12);
INSERT INTO events SELECT user_id, item_id, 0.5 FROM events WHERE (user_id + item_id) % 7 = 0;
-- held-out interactions of the same users
CREATE TABLE held_out (user_id bigint, item_id bigint);
INSERT INTO held_out
SELECT u, i FROM generate_series(1, 40) u, generate_series(1, 30) i
 WHERE (u * 7 + i * 3) % 5 = 2 AND (u + i) % 3 = 0;
SELECT count(*) AS rows, count(DISTINCT (user_id, item_id)) AS pairs FROM events;

CALL rerank.train_als('als4', 'events', factors => 4, regularization => 0.5,
                      alpha => 2, iterations => 6, seed => 7);
SELECT name, algorithm, dimensions, is_active, items, users,
       params - 'source' AS params, params->>'source' AS source
  FROM rerank.model_versions WHERE name = 'als4';
SELECT jsonb_array_length(metrics->'training'->'loss') AS losses,
       (SELECT bool_and(l::float8 > 0) FROM jsonb_array_elements_text(metrics->'training'->'loss') l) AS positive,
       (metrics->'training'->'loss'->>5)::float8 < (metrics->'training'->'loss'->>0)::float8 AS decreasing,
       (metrics->'training'->>'interactions')::int AS interactions,
       training_seconds >= 0 AS timed, trained_at IS NOT NULL AS trained
  FROM rerank.models WHERE name = 'als4';
-- YᵀY is stored and is the Gram matrix of the stored item factors
SELECT (SELECT max(abs(a - b)) FROM unnest(m.gram, g.gram) t(a, b)) < 1e-4 AS gram_ok
  FROM rerank.models m,
       (SELECT rerank.gram_matrix(factors) AS gram FROM rerank.item_factors
         WHERE model_id = rerank.model_id('als4')) g
 WHERE m.name = 'als4';
-- the training interactions, one row per user, duplicates summed
SELECT user_id, item_ids, weights FROM rerank.model_interactions
 WHERE model_id = rerank.model_id('als4') AND user_id IN (1, 7) ORDER BY user_id;

-- deterministic for a seed, whatever the row order of the source
CREATE VIEW events_shuffled AS SELECT * FROM events ORDER BY md5(user_id::text || item_id::text);
CALL rerank.train_als('als4_again', 'events_shuffled', factors => 4, regularization => 0.5,
                      alpha => 2, iterations => 6, seed => 7);
SELECT bool_and(a.factors = b.factors) AS same_items
  FROM rerank.item_factors a JOIN rerank.item_factors b USING (item_id)
 WHERE a.model_id = rerank.model_id('als4') AND b.model_id = rerank.model_id('als4_again');
SELECT bool_and(a.factors = b.factors) AS same_users
  FROM rerank.user_factors a JOIN rerank.user_factors b USING (user_id)
 WHERE a.model_id = rerank.model_id('als4') AND b.model_id = rerank.model_id('als4_again');
CALL rerank.train_als('als4_seed8', 'events', factors => 4, regularization => 0.5,
                      alpha => 2, iterations => 6, seed => 8);
SELECT bool_and(a.factors = b.factors) AS same_for_other_seed
  FROM rerank.item_factors a JOIN rerank.item_factors b USING (item_id)
 WHERE a.model_id = rerank.model_id('als4') AND b.model_id = rerank.model_id('als4_seed8');

-- the fold-in aggregate is one ALS user step: it gives the stored user
-- vectors (training ends with that exact solve)
CREATE FUNCTION pg_temp.max_rel_diff(a real[], b real[]) RETURNS float8
    LANGUAGE sql IMMUTABLE
    RETURN (SELECT max(abs(x - y)) / greatest(max(abs(y)), 1e-6) FROM unnest(a, b) t(x, y));
CREATE TABLE folded AS
SELECT e.user_id, rerank.als_fold_in(f.factors, e.weight, 'als4') AS factors
  FROM (SELECT user_id, item_id, sum(weight)::real AS weight FROM events GROUP BY 1, 2) e
  JOIN rerank.item_factors f ON f.model_id = rerank.model_id('als4') AND f.item_id = e.item_id
 GROUP BY e.user_id;
SELECT count(*) AS users, max(pg_temp.max_rel_diff(f.factors, u.factors)) < 1e-4 AS matches
  FROM folded f JOIN rerank.user_factors u
    ON u.model_id = rerank.model_id('als4') AND u.user_id = f.user_id;
-- the same as a parallel partial aggregate (combine function)
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
CREATE TABLE flat AS
SELECT e.user_id, e.weight, f.factors
  FROM (SELECT user_id, item_id, sum(weight)::real AS weight FROM events GROUP BY 1, 2) e
  JOIN rerank.item_factors f ON f.model_id = rerank.model_id('als4') AND f.item_id = e.item_id;
ANALYZE flat;
EXPLAIN (COSTS OFF)
SELECT rerank.als_fold_in(factors, weight, 'als4') FROM flat WHERE user_id = 3;
SELECT pg_temp.max_rel_diff(rerank.als_fold_in(factors, weight, 'als4'),
                            (SELECT factors FROM rerank.user_factors
                              WHERE model_id = rerank.model_id('als4') AND user_id = 3)) < 1e-4 AS parallel_matches
  FROM flat WHERE user_id = 3;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
-- no rows, zero weights and NULL vectors give NULL; bad rows and states are errors
SELECT rerank.als_fold_in(factors, weight, 'als4') IS NULL AS empty FROM flat WHERE false;
SELECT rerank.als_fold_in(factors, 0, 'als4') IS NULL AS zero_weights FROM flat;
SELECT rerank.als_fold_in(NULL::real[], weight, 'als4') IS NULL AS null_vectors FROM flat;
SELECT rerank.als_fold_in(factors, weight, 'nope') FROM flat;
SELECT rerank.als_fold_in(factors, weight, NULL) FROM flat;
SELECT rerank.als_fold_in(factors, -1, 'als4') FROM flat;
SELECT rerank.als_fold_in(factors, 'NaN', 'als4') FROM flat;
SELECT rerank.als_fold_in('{1,2}', 1, 'als4');
SELECT rerank.als_fold_in('{1,NaN,2,3}', 1, 'als4');
SELECT rerank.als_fold_in_final('{1,1,5}');
SELECT rerank.als_fold_in_combine('{1,1,5,4}', '{1,1,5,4}');
-- combining: the sums add up, model id and dimensions stay; other models are errors
SELECT rerank.als_fold_in_combine('{1,1,1,1,0.5,0.25,2}', '{2,3,1,1,0.5,0.75,1}');
SELECT rerank.als_fold_in_combine('{1,1,1,1,0.5,0.25,2}', '{1,1,2,1,0.5,0.25,2}');
SELECT rerank.als_fold_in_combine('{}', '{1,1,1,1,0.5,0.25,2}');
SELECT rerank.als_fold_in_accum('{1,2,3}', '{1,2,3,4}', 1, 'als4');

-- the Cholesky solver: exact user solves; fold-in agrees with it too
CALL rerank.train_als('als4_chol', 'events', factors => 4, regularization => 0.5,
                      alpha => 2, iterations => 6, seed => 7, solver => 'cholesky');
SELECT params->>'solver' AS solver, jsonb_array_length(metrics->'training'->'loss') AS losses
  FROM rerank.models WHERE name = 'als4_chol';
SELECT max(pg_temp.max_rel_diff(f.factors, u.factors)) < 1e-4 AS cholesky_matches
  FROM (SELECT user_id, rerank.als_fold_in(factors, weight, 'als4_chol') AS factors
          FROM (SELECT e.user_id, sum(e.weight)::real AS weight, f.factors
                  FROM events e JOIN rerank.item_factors f
                    ON f.model_id = rerank.model_id('als4_chol') AND f.item_id = e.item_id
                 GROUP BY e.user_id, e.item_id, f.factors) s
         GROUP BY user_id) f
  JOIN rerank.user_factors u ON u.model_id = rerank.model_id('als4_chol') AND u.user_id = f.user_id;

-- predict: x_uᵀy_i, NULL for unknown users or items; NULL model = the active one
SELECT round(rerank.predict(1, 2, 'als4')::numeric, 5) =
       round((SELECT rerank.dot(u.factors, i.factors)
                FROM rerank.user_factors u, rerank.item_factors i
               WHERE u.model_id = rerank.model_id('als4') AND u.user_id = 1
                 AND i.model_id = u.model_id AND i.item_id = 2)::numeric, 5) AS predict_is_dot;
SELECT rerank.predict(999, 2, 'als4') AS unknown_user, rerank.predict(1, 999, 'als4') AS unknown_item,
       rerank.predict(NULL, 2, 'als4') AS null_user;
SELECT rerank.predict(1, 2);
SELECT rerank.predict(1, 2, 'nope');
-- in ORDER BY, for a list of candidates
SELECT array_agg(i::bigint ORDER BY rerank.predict(5, i, 'als4') DESC, i) =
       (SELECT array_agg(item_id ORDER BY score DESC, item_id)
          FROM rerank.recommend(5, 30, false, 'als4')) AS same_order
  FROM generate_series(1, 30) i WHERE i IN (SELECT item_id FROM events);

-- recommend: the catalog minus what the user was trained on
SELECT count(*) AS k, count(*) FILTER (WHERE r.item_id IN (SELECT item_id FROM events WHERE user_id = 5)) AS seen
  FROM rerank.recommend(5, 5, model => 'als4') r;
SELECT count(*) AS all_items FROM rerank.recommend(5, 100, exclude_seen => false, model => 'als4');
SELECT bool_and(abs(r.score - rerank.predict(5, r.item_id, 'als4')) < 1e-5) AS scores_are_predictions
  FROM rerank.recommend(5, 10, model => 'als4') r;
-- and minus the history recorded since (rerank.user_features)
SELECT item_id AS top_before FROM rerank.recommend(5, 1, model => 'als4') \gset
INSERT INTO rerank.user_features (user_id, recent_items, recent_weights, purchased_items)
VALUES (5, ARRAY[:top_before]::bigint[], '{1}', '{}');
SELECT count(*) FILTER (WHERE item_id = :top_before) AS recent_excluded
  FROM rerank.recommend(5, 10, model => 'als4');
-- a user without a vector but with recorded history is folded in on the fly
INSERT INTO rerank.user_features (user_id, recent_items, recent_weights)
VALUES (500, '{1,2,3}', '{3,1,1}');
SELECT count(*) AS cold_user_k, count(*) FILTER (WHERE item_id IN (1, 2, 3)) AS cold_seen
  FROM rerank.recommend(500, 5, model => 'als4');
SELECT rerank.predict(500, 4, 'als4') IS NOT NULL AS cold_predict;
SELECT count(*) AS nobody FROM rerank.recommend(777, 5, model => 'als4');

-- similar_items: cosine of the item factors, the item itself left out
SELECT count(*) AS k, count(*) FILTER (WHERE similar_item_id = 3) AS itself,
       bool_and(similarity BETWEEN -1.0001 AND 1.0001) AS cosine
  FROM rerank.similar_items(3, 5, 'als4');
SELECT s.similar_item_id = (SELECT i.item_id FROM rerank.item_factors i, rerank.item_factors q
                              WHERE i.model_id = rerank.model_id('als4') AND q.model_id = i.model_id
                                AND q.item_id = 3 AND i.item_id <> 3
                              ORDER BY rerank.cosine_similarity(i.factors, q.factors) DESC, i.item_id LIMIT 1) AS best_ok
  FROM rerank.similar_items(3, 1, 'als4') s;
SELECT count(*) AS unknown_item FROM rerank.similar_items(999, 5, 'als4');
-- a model over rerank.model_cache_mb is ranked from a temporary copy: the same lists
CREATE TEMP TABLE cached_lists AS
SELECT (SELECT array_agg(item_id ORDER BY score DESC, item_id)
          FROM rerank.recommend(5, 10, false, 'als4')) AS recs,
       (SELECT array_agg(similar_item_id ORDER BY similarity DESC, similar_item_id)
          FROM rerank.similar_items(3, 5, 'als4')) AS sims;
SET rerank.model_cache_mb = 0;
SELECT (SELECT array_agg(item_id ORDER BY score DESC, item_id)
          FROM rerank.recommend(5, 10, false, 'als4')) = recs AS recommend_uncached,
       (SELECT array_agg(similar_item_id ORDER BY similarity DESC, similar_item_id)
          FROM rerank.similar_items(3, 5, 'als4')) = sims AS similar_uncached
  FROM cached_lists;
RESET rerank.model_cache_mb;

-- item-based CF
CALL rerank.train_item_knn('knn', 'events', neighbors => 5);
SELECT name, algorithm, dimensions, items, params - 'source' AS params
  FROM rerank.model_versions WHERE name = 'knn';
SELECT item_id, neighbor_ids[1] = item_id AS self_first, round(similarities[1]::numeric, 4) AS self_sim,
       cardinality(neighbor_ids) AS n
  FROM rerank.item_neighbors WHERE model_id = rerank.model_id('knn') AND item_id IN (1, 2) ORDER BY 1;
-- cosine over users, checked in SQL for item 1's best other neighbor
WITH w AS (SELECT user_id, item_id, sum(weight) AS w FROM events GROUP BY 1, 2),
     n AS (SELECT item_id, sqrt(sum(w * w)) AS norm FROM w GROUP BY 1)
SELECT round((SELECT similarities[2] FROM rerank.item_neighbors
               WHERE model_id = rerank.model_id('knn') AND item_id = 1)::numeric, 4) =
       round((SELECT sum(a.w * b.w) / (na.norm * nb.norm)
                FROM w a JOIN w b USING (user_id), n na, n nb
               WHERE a.item_id = 1 AND na.item_id = 1 AND nb.item_id = b.item_id
                 AND b.item_id = (SELECT neighbor_ids[2] FROM rerank.item_neighbors
                                   WHERE model_id = rerank.model_id('knn') AND item_id = 1)
               GROUP BY na.norm, nb.norm)::numeric, 4) AS cosine_ok;
SELECT count(*) AS k, count(*) FILTER (WHERE r.item_id IN (SELECT item_id FROM events WHERE user_id = 9)) AS seen
  FROM rerank.recommend(9, 3, model => 'knn') r;
SELECT bool_and(abs(r.score - rerank.predict(9, r.item_id, 'knn')) < 1e-4) AS knn_scores_are_predictions
  FROM rerank.recommend(9, 3, model => 'knn') r;
SELECT count(*) AS k, count(*) FILTER (WHERE similar_item_id = 2) AS itself
  FROM rerank.similar_items(2, 3, 'knn');
SELECT rerank.predict(999, 1, 'knn') AS knn_unknown_user;
CALL rerank.train_item_knn('knn_jaccard', 'events', neighbors => 5, similarity => 'jaccard');
SELECT round(similarities[1]::numeric, 4) AS self_jaccard FROM rerank.item_neighbors
 WHERE model_id = rerank.model_id('knn_jaccard') AND item_id = 1;

-- evaluate: one row, stored in the metrics; cross-checked against recommend()
SELECT users, round(precision_at_k::numeric, 4) AS p, round(recall_at_k::numeric, 4) AS r,
       round(ndcg_at_k::numeric, 4) AS ndcg, round(map_at_k::numeric, 4) AS map,
       round(hit_rate::numeric, 4) AS hit_rate, round(coverage::numeric, 4) AS coverage
  FROM rerank.evaluate('als4', 'held_out', 5, train => 'events') \gset e_
SET rerank.model_cache_mb = 0;
SELECT round(ndcg_at_k::numeric, 4) = :e_ndcg AND round(coverage::numeric, 4) = :e_coverage AS evaluate_uncached
  FROM rerank.evaluate('als4', 'held_out', 5, train => 'events');
RESET rerank.model_cache_mb;
DELETE FROM rerank.user_features WHERE user_id IN (5, 500);
WITH recs AS (
    SELECT t.user_id, r.item_id, row_number() OVER (PARTITION BY t.user_id ORDER BY r.score DESC, r.item_id) AS rank
      FROM (SELECT DISTINCT user_id FROM held_out) t, rerank.recommend(t.user_id, 5, true, 'als4') r),
per_user AS (
    SELECT u.user_id, u.n,
           (SELECT count(*) FROM recs r WHERE r.user_id = u.user_id
               AND r.item_id IN (SELECT item_id FROM held_out h WHERE h.user_id = u.user_id)) AS hits,
           (SELECT coalesce(sum(1 / log(2, r.rank + 1)), 0) FROM recs r WHERE r.user_id = u.user_id
               AND r.item_id IN (SELECT item_id FROM held_out h WHERE h.user_id = u.user_id)) AS dcg,
           (SELECT sum(1 / log(2, g + 1)) FROM generate_series(1, least(u.n, 5)) g) AS idcg
      FROM (SELECT user_id, count(*) AS n FROM held_out GROUP BY 1) u)
SELECT count(*) = :e_users AS users_ok,
       round(avg(hits / 5.0), 4) = :e_p AS precision_ok,
       round(avg(hits::numeric / n), 4) = :e_r AS recall_ok,
       round(avg(dcg / idcg), 4) = :e_ndcg AS ndcg_ok,
       round(avg((hits > 0)::int), 4) = :e_hit_rate AS hit_rate_ok
  FROM per_user;
SELECT metrics->'evaluation'->>'k' AS k, metrics->'evaluation'->>'test' AS test,
       (metrics->'evaluation'->>'ndcg_at_k')::float8 > 0 AS stored,
       metrics ? 'training' AS training_kept
  FROM rerank.models WHERE name = 'als4';
SELECT users, ndcg_at_k > 0 AS scored, coverage > 0 AS covers
  FROM rerank.evaluate('knn', 'held_out', 5, train => 'events');
-- the defaults: k = 10 and no train source, so the training items (which
-- the model ranks first) are not left out and the NDCG drops
SELECT users, ndcg_at_k < :e_ndcg AS lower_with_train_items FROM rerank.evaluate('als4', 'held_out');
SELECT metrics->'evaluation'->>'k' AS k, metrics->'evaluation'->'train' AS train
  FROM rerank.models WHERE name = 'als4';

-- a user without a stored vector: evaluate folds it in from the history
-- rerank keeps, as recommend does, so both rank it alike
CALL rerank.train_als('als_fold', 'events', factors => 4, regularization => 0.5, iterations => 3);
DELETE FROM rerank.user_factors WHERE model_id = rerank.model_id('als_fold') AND user_id = 5;
CREATE TEMP TABLE one_user AS SELECT user_id, item_id FROM held_out WHERE user_id = 5;
SELECT e.users, e.coverage > 0 AS scored,
       round(e.precision_at_k::numeric, 4) =
       round((SELECT count(*) FROM rerank.recommend(5, 5, true, 'als_fold') r
               WHERE r.item_id IN (SELECT item_id FROM one_user)) / 5.0, 4) AS same_hits_as_recommend,
       (SELECT count(*) FROM rerank.recommend(5, 5, true, 'als_fold')) AS recommended
  FROM rerank.evaluate('als_fold', 'one_user', 5, train => 'events') e;
SELECT rerank.drop_model('als_fold');
DROP TABLE one_user;

-- model versions: training never disturbs the active model
SELECT rerank.activate_model('als4');
CALL rerank.train_als('als4_next', 'events', factors => 4, iterations => 2);
SELECT rerank.active_model();
CALL rerank.train_als('als8', 'events', factors => 8, iterations => 2, activate => true);
SELECT rerank.active_model();
SELECT rerank.rollback_model();
SELECT count(*) > 0 AS active_default FROM rerank.recommend(5, 3);
-- replace: same dimensions keep the id (and activation); others re-create
SELECT model_id AS als4_id FROM rerank.models WHERE name = 'als4' \gset
CALL rerank.train_als('als4', 'events', factors => 4, iterations => 3, replace => true);
SELECT model_id = :als4_id AS same_id, is_active, params->>'iterations' AS iterations,
       metrics ? 'evaluation' AS old_metrics_gone
  FROM rerank.models WHERE name = 'als4';
CALL rerank.train_als('als4', 'events', factors => 6, iterations => 2, replace => true);
CALL rerank.train_als('als8', 'events', factors => 6, iterations => 2, replace => true);
SELECT dimensions, model_id <> :als4_id AS new_id FROM rerank.models WHERE name = 'als8';
CALL rerank.train_item_knn('knn', 'events', neighbors => 3, replace => true);
SELECT max(cardinality(neighbor_ids)) AS n FROM rerank.item_neighbors WHERE model_id = rerank.model_id('knn');

-- cancel (statement_timeout) stops training quickly and leaves nothing behind
SELECT count(*) AS models_before FROM rerank.models \gset
SELECT clock_timestamp() AS t0 \gset
SET statement_timeout = '300ms';
CALL rerank.train_als('long', 'events', factors => 64, iterations => 10000, regularization => 1);
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '3 s' AS stopped_quickly,
       (SELECT count(*) FROM rerank.models) = :models_before AS registry_unchanged,
       NOT EXISTS (SELECT FROM rerank.models WHERE name = 'long') AS no_model;
SELECT count(*) AS orphans FROM rerank.model_interactions
 WHERE model_id NOT IN (SELECT model_id FROM rerank.models);

-- bad input: each a clear error with its SQLSTATE, nothing written
CREATE TABLE no_item (user_id bigint, weight real);
CREATE TABLE text_ids (user_id text, item_id bigint);
CREATE TABLE null_ids (user_id bigint, item_id bigint);
INSERT INTO null_ids VALUES (1, NULL);
CREATE TABLE neg_weight (user_id bigint, item_id bigint, weight real);
INSERT INTO neg_weight VALUES (1, 1, 1), (1, 2, -1);
CREATE TABLE nan_weight (user_id bigint, item_id bigint, weight float8);
INSERT INTO nan_weight VALUES (1, 1, 'NaN');
CREATE TABLE null_weight (user_id bigint, item_id bigint, weight real);
INSERT INTO null_weight VALUES (1, 1, NULL);
CREATE TABLE empty_source (user_id bigint, item_id bigint);
CREATE TABLE zero_weights (user_id bigint, item_id bigint, weight real);
INSERT INTO zero_weights VALUES (1, 1, 0);
CREATE SEQUENCE not_a_table;
CALL rerank.train_als('bad', 'no_item');
CALL rerank.train_als('bad', 'text_ids');
CALL rerank.train_als('bad', 'null_ids');
CALL rerank.train_als('bad', 'neg_weight');
CALL rerank.train_als('bad', 'nan_weight');
CALL rerank.train_als('bad', 'null_weight');
CALL rerank.train_als('bad', 'empty_source');
CALL rerank.train_als('bad', 'zero_weights');
CALL rerank.train_als('bad', 'not_a_table');
CALL rerank.train_als('bad', 'events', weight_column => 'nope');
CALL rerank.train_als('bad', 'events', factors => 0);
CALL rerank.train_als('bad', 'events', factors => 100000);
CALL rerank.train_als('bad', 'events', iterations => 0);
CALL rerank.train_als('bad', 'events', regularization => -1);
CALL rerank.train_als('bad', 'events', alpha => 'NaN');
CALL rerank.train_als('bad', 'events', solver => 'magic');
CALL rerank.train_als('bad', 'events', cg_steps => 0);
CALL rerank.train_als('bad', 'events', solver => 'cholesky', regularization => 0);
CALL rerank.train_als('als8', 'events');
CALL rerank.train_als('', 'events');
CALL rerank.train_als(NULL, 'events');
CALL rerank.train_als('bad', NULL);
CALL rerank.train_item_knn('bad', 'events', neighbors => 0);
CALL rerank.train_item_knn('bad', 'events', similarity => 'euclid');
CALL rerank.train_item_knn('knn', 'events');
CALL rerank.train_item_knn('bad', 'null_ids');
SELECT * FROM rerank.recommend(1, 0, model => 'als4');
SELECT * FROM rerank.recommend(NULL, 5, model => 'als4');
SELECT * FROM rerank.recommend(1, 5, model => 'nope');
SELECT * FROM rerank.similar_items(1, -1, 'als4');
SELECT * FROM rerank.evaluate('nope', 'held_out');
SELECT * FROM rerank.evaluate('als4', 'held_out', 0);
SELECT * FROM rerank.evaluate('als4', 'empty_source');
SELECT * FROM rerank.evaluate('als4', 'no_item');
SELECT count(*) AS bad_models FROM rerank.models WHERE name = 'bad';

SELECT q AS query, sqlstate_of(q) AS sqlstate FROM (VALUES
    ($q$CALL rerank.train_als('bad', 'no_item')$q$),
    ($q$CALL rerank.train_als('bad', 'text_ids')$q$),
    ($q$CALL rerank.train_als('bad', 'null_ids')$q$),
    ($q$CALL rerank.train_als('bad', 'neg_weight')$q$),
    ($q$CALL rerank.train_als('bad', 'nan_weight')$q$),
    ($q$CALL rerank.train_als('bad', 'empty_source')$q$),
    ($q$CALL rerank.train_als('bad', 'not_a_table')$q$),
    ($q$CALL rerank.train_als('bad', 'missing_table')$q$),
    ($q$CALL rerank.train_als('bad', 'events', factors => 0)$q$),
    ($q$CALL rerank.train_als('bad', 'events', factors => 100000)$q$),
    ($q$CALL rerank.train_als('bad', 'events', iterations => 0)$q$),
    ($q$CALL rerank.train_als('als8', 'events')$q$),
    ($q$CALL rerank.train_als('als4', 'events', factors => 6, replace => true)$q$),
    ($q$SELECT rerank.predict(1, 1, 'nope')$q$),
    ($q$SELECT * FROM rerank.evaluate('nope', 'held_out')$q$)
) t(q);

-- an application role serves once granted EXECUTE (no right on the tables),
-- and cannot train or evaluate
CREATE ROLE rerank_regress_app;
GRANT SELECT ON events TO rerank_regress_app;
SET ROLE rerank_regress_app;
SELECT count(*) FROM rerank.recommend(5, 3, model => 'als4');
RESET ROLE;
GRANT EXECUTE ON FUNCTION rerank.predict, rerank.recommend, rerank.similar_items TO rerank_regress_app;
SET ROLE rerank_regress_app;
SELECT count(*) AS served FROM rerank.recommend(5, 3, model => 'als4');
SELECT rerank.predict(5, 1, 'als4') IS NOT NULL AS predicted;
SELECT count(*) AS similar FROM rerank.similar_items(1, 3, 'knn');
SELECT count(*) FROM rerank.user_features;
CALL rerank.train_als('app', 'events');
SELECT * FROM rerank.evaluate('als4', 'held_out');
RESET ROLE;
DROP OWNED BY rerank_regress_app;
DROP ROLE rerank_regress_app;

-- an ordinary table is read from its heap, anything else through the
-- executor: under row-level security the policy applies to the rows
-- trained on, as a query would apply it
CREATE TABLE rls_events AS SELECT * FROM events;
ALTER TABLE rls_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY odd_users ON rls_events USING (user_id % 2 = 1);
CREATE ROLE rerank_regress_dba;
GRANT USAGE ON SCHEMA rerank TO rerank_regress_dba;
GRANT ALL ON ALL TABLES IN SCHEMA rerank TO rerank_regress_dba;
GRANT ALL ON ALL SEQUENCES IN SCHEMA rerank TO rerank_regress_dba;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA rerank TO rerank_regress_dba;
GRANT SELECT ON rls_events, events TO rerank_regress_dba;
SET ROLE rerank_regress_dba;
CALL rerank.train_als('rls_all', 'events', factors => 2, iterations => 1);
CALL rerank.train_als('rls_odd', 'rls_events', factors => 2, iterations => 1);
SELECT name, (metrics->'training'->>'rows_read')::int AS rows_read,
       (metrics->'training'->>'rows_read')::int = (SELECT count(*) FROM rls_events) AS as_the_policy_shows
  FROM rerank.models WHERE name LIKE 'rls_%' ORDER BY name;
RESET ROLE;
SELECT count(rerank.drop_model(name)) AS dropped FROM rerank.models WHERE name LIKE 'rls_%';
DROP TABLE rls_events;
DROP OWNED BY rerank_regress_dba;
DROP ROLE rerank_regress_dba;

-- clean up
SELECT rerank.deactivate_model();
SELECT count(rerank.drop_model(name)) AS dropped FROM rerank.models WHERE model_id > :first_model;
SELECT rerank.activate_model(:'active_at_start') WHERE :'active_at_start' <> '';
DROP TABLE events, held_out, folded, flat, no_item, text_ids, null_ids, neg_weight,
    nan_weight, null_weight, empty_source, zero_weights CASCADE;
DROP SEQUENCE not_a_table;
