-- User-based collaborative filtering: train_user_knn's lists, predict,
-- recommend, similar_users and evaluate, checked against the definitions
-- computed here in SQL on small exact data; the real-time neighbors of a
-- user whose history changed and of a user training never saw (through the
-- trigger, click by click), the work budget, the cold start, the model
-- registry (activate, roll back, replace, forget_user), the model cache,
-- privileges and every bad input.
SET extra_float_digits = 0;
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT coalesce(max(model_id), 0) AS first_model, coalesce(rerank.active_model(), '') AS active_at_start
  FROM rerank.models \gset
SELECT rerank.deactivate_model();

-- 16 users, two tastes (items 1..6 and 7..12) with some crossing over;
-- some pairs twice (their weights add up)
CREATE TABLE uk_events (user_id bigint, item_id bigint, weight real);
INSERT INTO uk_events
SELECT u, i, 1 + (u * i) % 3
  FROM generate_series(1, 16) u, generate_series(1, 12) i
 WHERE ((i <= 6) = (u % 2 = 0) AND (u + 2 * i) % 3 <> 0) OR (u * i) % 7 = 0;
INSERT INTO uk_events SELECT user_id, item_id, 1 FROM uk_events WHERE (user_id + item_id) % 5 = 0;
SELECT count(*) AS rows, count(DISTINCT (user_id, item_id)) AS pairs,
       count(DISTINCT user_id) AS users, count(DISTINCT item_id) AS items FROM uk_events;

-- The definitions (README, "User-kNN"), in SQL.  The similarities of a
-- history (items, weights: positive weights of catalog items count) to
-- every training user sharing an item with it, the user self left out;
-- only the searched items (NULL: all) add to the shared sums, the user's
-- own sums take the whole history.
CREATE FUNCTION pg_temp.ref_similarities(items bigint[], weights float8[], self bigint,
                                         kind text, shrinkage float8, min_overlap int,
                                         searched bigint[] DEFAULT NULL)
RETURNS TABLE (user_id bigint, sim float8) LANGUAGE sql STABLE AS $$
WITH t AS (SELECT e.user_id, e.item_id, sum(e.weight)::float8 AS r FROM uk_events e GROUP BY 1, 2),
     catalog AS (SELECT count(DISTINCT t.item_id)::float8 AS n FROM t),
     q AS (SELECT h.item_id, max(h.r) AS r FROM unnest(items, weights) h(item_id, r)
            WHERE h.r > 0 AND h.item_id IN (SELECT t.item_id FROM t) GROUP BY 1),
     qs AS (SELECT sum(q.r) AS s, sum(q.r * q.r) AS ss, count(*) AS c FROM q),
     us AS (SELECT t.user_id, sum(t.r) AS s, sum(t.r * t.r) AS ss, count(*) AS c FROM t GROUP BY 1),
     pairs AS (SELECT t.user_id, sum(q.r * t.r) AS dot, count(*) AS overlap
                 FROM q JOIN t USING (item_id)
                WHERE searched IS NULL OR q.item_id = ANY (searched) GROUP BY 1)
SELECT p.user_id,
       CASE kind
           WHEN 'cosine' THEN p.dot / sqrt(qs.ss * us.ss)
           WHEN 'jaccard' THEN p.overlap / (qs.c + us.c - p.overlap)::float8
           ELSE (p.dot - qs.s * us.s / catalog.n)
                / nullif(sqrt(greatest((qs.ss - qs.s ^ 2 / catalog.n) * (us.ss - us.s ^ 2 / catalog.n), 0)), 0)
       END * p.overlap / (p.overlap + shrinkage)
  FROM pairs p JOIN us USING (user_id), qs, catalog
 WHERE p.user_id IS DISTINCT FROM self AND p.overlap >= min_overlap
$$;
-- The K nearest (positive similarity, ties to the smaller id, as real).
CREATE FUNCTION pg_temp.ref_neighbors(items bigint[], weights float8[], self bigint, k int,
                                      kind text DEFAULT 'cosine', shrinkage float8 DEFAULT 0,
                                      min_overlap int DEFAULT 1, searched bigint[] DEFAULT NULL)
RETURNS TABLE (ids bigint[], sims float8[]) LANGUAGE sql STABLE AS $$
SELECT coalesce(array_agg(user_id ORDER BY sim::real DESC, user_id), '{}'),
       coalesce(array_agg(sim ORDER BY sim::real DESC, user_id), '{}')
  FROM (SELECT * FROM pg_temp.ref_similarities(items, weights, self, kind, shrinkage,
                                               min_overlap, searched)
         WHERE sim > 0 ORDER BY sim::real DESC, user_id LIMIT k) s
$$;
-- A training user's own history.
CREATE FUNCTION pg_temp.trained(u bigint, OUT items bigint[], OUT weights float8[])
LANGUAGE sql STABLE AS $$
SELECT array_agg(item_id ORDER BY item_id), array_agg(r ORDER BY item_id)
  FROM (SELECT item_id, sum(weight)::float8 AS r FROM uk_events WHERE user_id = u GROUP BY 1) s
$$;
-- Whether a list (ids, similarities) is the reference one.
CREATE FUNCTION pg_temp.same_list(ids bigint[], sims float8[], ref_ids bigint[], ref_sims float8[])
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
SELECT coalesce(ids, '{}') = ref_ids
   AND coalesce((SELECT max(abs(a - b)) FROM unnest(sims, ref_sims) t(a, b)), 0) < 1e-6
$$;
-- The score Σ_v s_v r_vi / Σ_v s_v of a list of neighbors.
CREATE FUNCTION pg_temp.ref_score(ids bigint[], sims float8[], item bigint) RETURNS float8
LANGUAGE sql STABLE AS $$
SELECT sum(n.s * coalesce((SELECT sum(e.weight) FROM uk_events e
                            WHERE e.user_id = n.id AND e.item_id = item), 0)) / sum(n.s)
  FROM unnest(ids, sims) n(id, s)
$$;

-- training: one list per user, the user left out, most similar first
CALL rerank.train_user_knn('uk', 'uk_events', neighbors => 3);
SELECT name, algorithm, dimensions, is_active, params - 'source' AS params,
       metrics->'training'->>'users' AS users, metrics->'training'->>'neighbor_pairs' AS pairs
  FROM rerank.model_versions WHERE name = 'uk';
-- the overview counts the users with a list (no item has a vector or a list)
SELECT items, users FROM rerank.model_versions WHERE name = 'uk';
SELECT user_id, neighbor_ids, similarities FROM rerank.user_neighbors
 WHERE model_id = rerank.model_id('uk') AND user_id IN (1, 2) ORDER BY 1;
-- every list is the reference one
SELECT count(*) AS users,
       bool_and(pg_temp.same_list(n.neighbor_ids, n.similarities::float8[], r.ids, r.sims)) AS cosine_lists_ok
  FROM generate_series(1, 16) u
  CROSS JOIN LATERAL pg_temp.trained(u) h
  CROSS JOIN LATERAL pg_temp.ref_neighbors(h.items, h.weights, u, 3) r
  LEFT JOIN rerank.user_neighbors n ON n.model_id = rerank.model_id('uk') AND n.user_id = u;
-- jaccard with at least 3 shared items; pearson over the whole catalog with shrinkage
CALL rerank.train_user_knn('uk_jaccard', 'uk_events', neighbors => 4, similarity => 'jaccard',
                           min_overlap => 3);
CALL rerank.train_user_knn('uk_pearson', 'uk_events', neighbors => 4, similarity => 'pearson',
                           shrinkage => 2.5);
SELECT m.name, count(*) AS users,
       bool_and(pg_temp.same_list(n.neighbor_ids, n.similarities::float8[], r.ids, r.sims)) AS lists_ok,
       sum(cardinality(n.neighbor_ids)) AS pairs
  FROM rerank.models m
  CROSS JOIN generate_series(1, 16) u
  CROSS JOIN LATERAL pg_temp.trained(u) h
  CROSS JOIN LATERAL pg_temp.ref_neighbors(h.items, h.weights, u, 4,
                                           m.params->>'similarity',
                                           (m.params->>'shrinkage')::float8,
                                           (m.params->>'min_overlap')::int) r
  LEFT JOIN rerank.user_neighbors n ON n.model_id = m.model_id AND n.user_id = u
 WHERE m.name IN ('uk_jaccard', 'uk_pearson')
 GROUP BY m.name ORDER BY m.name;

-- predict: Σ s_v r_vi / Σ s_v over the list, for every (user, item) pair;
-- 0 for an item of the catalog no neighbor has, NULL for an unknown item
SELECT count(*) AS pairs,
       bool_and(abs(rerank.predict(u, i, 'uk') -
                    coalesce(pg_temp.ref_score(n.neighbor_ids, n.similarities::float8[], i), 0)) < 1e-6)
       AS predict_ok
  FROM generate_series(1, 16) u, generate_series(1, 12) i, rerank.user_neighbors n
 WHERE n.model_id = rerank.model_id('uk') AND n.user_id = u;
SELECT rerank.predict(1, 999, 'uk') AS unknown_item, rerank.predict(999, 1, 'uk') AS unknown_user,
       rerank.predict(NULL, 1, 'uk') AS null_user;
-- recommend: the items the neighbors have, best first, without the user's own
SELECT item_id, round(score::numeric, 6) AS score FROM rerank.recommend(2, 4, model => 'uk');
SELECT bool_and(r.item_id NOT IN (SELECT item_id FROM uk_events WHERE user_id = u)) AS unseen,
       bool_and(abs(r.score - rerank.predict(u, r.item_id, 'uk')) < 1e-6) AS scores_are_predictions
  FROM generate_series(1, 16) u, rerank.recommend(u, 5, model => 'uk') r;
SELECT (SELECT array_agg(item_id ORDER BY score DESC, item_id)
          FROM rerank.recommend(5, 20, exclude_seen => false, model => 'uk')) =
       (SELECT array_agg(i ORDER BY pg_temp.ref_score(n.neighbor_ids, n.similarities::float8[], i)::real DESC, i)
          FROM generate_series(1, 12::bigint) i, rerank.user_neighbors n
         WHERE n.model_id = rerank.model_id('uk') AND n.user_id = 5
           AND pg_temp.ref_score(n.neighbor_ids, n.similarities::float8[], i) > 0) AS recommend_order_ok;
-- similar_users: the list; k cuts it
SELECT * FROM rerank.similar_users(1, 2, 'uk');
SELECT (SELECT array_agg(similar_user_id) FROM rerank.similar_users(7, 10, 'uk')) =
       (SELECT neighbor_ids FROM rerank.user_neighbors
         WHERE model_id = rerank.model_id('uk') AND user_id = 7) AS similar_is_list;

-- real time, a known user whose history changed: user 3's recorded history
-- (rerank.user_features, as the triggers keep it) adds item 12 and weighs
-- item 1 more; the neighbors come from the merged history (largest weight
-- of each item), and predict and recommend follow them
INSERT INTO rerank.user_features (user_id, recent_items, recent_weights)
VALUES (3, '{12, 1}', '{2, 9}');
CREATE TEMP TABLE merged3 AS
SELECT array_agg(item_id ORDER BY item_id) AS items, array_agg(r ORDER BY item_id) AS weights
  FROM (SELECT item_id, max(r) AS r
          FROM (SELECT item_id, sum(weight)::float8 AS r FROM uk_events WHERE user_id = 3 GROUP BY 1
                UNION ALL SELECT 12, 2 UNION ALL SELECT 1, 9) s GROUP BY 1) s;
SELECT n.neighbor_ids AS trained, (SELECT array_agg(similar_user_id) FROM rerank.similar_users(3, 3, 'uk')) AS now
  FROM rerank.user_neighbors n WHERE n.model_id = rerank.model_id('uk') AND n.user_id = 3;
SELECT pg_temp.same_list((SELECT array_agg(similar_user_id) FROM rerank.similar_users(3, 3, 'uk')),
                         (SELECT array_agg(similarity) FROM rerank.similar_users(3, 3, 'uk')),
                         r.ids, r.sims) AS changed_user_ok,
       (SELECT bool_and(abs(rerank.predict(3, i, 'uk') - coalesce(pg_temp.ref_score(r.ids, r.sims, i), 0)) < 1e-6)
          FROM generate_series(1, 12) i) AS changed_predict_ok
  FROM merged3 m, pg_temp.ref_neighbors(m.items, m.weights, 3, 3) r;
-- a recorded history within the trained one (an item it has, a weight not
-- above the trained one): the stored list
UPDATE rerank.user_features
   SET recent_items = ARRAY[(SELECT min(item_id) FROM uk_events WHERE user_id = 3)], recent_weights = '{1}'
 WHERE user_id = 3;
SELECT (SELECT array_agg(similar_user_id) FROM rerank.similar_users(3, 3, 'uk')) = n.neighbor_ids AS unchanged_is_stored
  FROM rerank.user_neighbors n WHERE n.model_id = rerank.model_id('uk') AND n.user_id = 3;
DELETE FROM rerank.user_features WHERE user_id = 3;

-- real time, a new shopper: the trigger records each click, and each click
-- changes the neighbors, which are the reference ones for the history
CREATE TABLE uk_shop_events (user_id bigint, item_id bigint, event_type text,
                             occurred_at timestamptz DEFAULT clock_timestamp());
INSERT INTO rerank.event_weights (event_type, weight) VALUES ('uk_click', 2), ('uk_view', 1), ('uk_cart', 4);
SELECT rerank.attach('uk_shop_events', event_type_column => 'event_type', time_column => 'occurred_at');
CREATE TEMP TABLE clicks (n int, ids bigint[], sims float8[]);
INSERT INTO uk_shop_events VALUES (900, 9, 'uk_click');
INSERT INTO clicks
SELECT 1, (SELECT array_agg(similar_user_id) FROM rerank.similar_users(900, 3, 'uk')),
          (SELECT array_agg(similarity) FROM rerank.similar_users(900, 3, 'uk'));
INSERT INTO uk_shop_events VALUES (900, 2, 'uk_view');
INSERT INTO clicks
SELECT 2, (SELECT array_agg(similar_user_id) FROM rerank.similar_users(900, 3, 'uk')),
          (SELECT array_agg(similarity) FROM rerank.similar_users(900, 3, 'uk'));
INSERT INTO uk_shop_events VALUES (900, 4, 'uk_cart');
INSERT INTO clicks
SELECT 3, (SELECT array_agg(similar_user_id) FROM rerank.similar_users(900, 3, 'uk')),
          (SELECT array_agg(similarity) FROM rerank.similar_users(900, 3, 'uk'));
SELECT f.recent_items, f.recent_weights FROM rerank.user_features f WHERE f.user_id = 900;
SELECT c.n AS clicks, c.ids AS neighbors, pg_temp.same_list(c.ids, c.sims, r.ids, r.sims) AS ok
  FROM clicks c,
       LATERAL (SELECT array_agg(item_id) AS items, array_agg(w::float8) AS weights
                  FROM (VALUES (1, 9::bigint, 2::real), (2, 2, 1), (3, 4, 4)) h(k, item_id, w)
                 WHERE h.k <= c.n) h,
       LATERAL pg_temp.ref_neighbors(h.items, h.weights, 900, 3) r
 ORDER BY c.n;
SELECT count(DISTINCT ids) AS distinct_neighborhoods FROM clicks;
SELECT (SELECT array_agg(item_id ORDER BY score DESC, item_id) FROM rerank.recommend(900, 3, model => 'uk'))
       AS recommended_after_three_clicks;

-- the work budget (rerank.user_knn_max_postings): the rarest history items
-- are searched first; a list that does not fit is left out with every
-- longer one; within the budget the result is the unbounded one
SELECT i AS item_id, count(DISTINCT user_id) AS users FROM uk_events, unnest('{9, 2, 4}'::int[]) i
 WHERE item_id = i GROUP BY i ORDER BY 2, 1;
CREATE FUNCTION pg_temp.within_budget(items bigint[], budget int) RETURNS bigint[]
LANGUAGE sql STABLE AS $$
SELECT coalesce(array_agg(item_id ORDER BY item_id), '{}')
  FROM (SELECT item_id, sum(users) OVER (ORDER BY users, item_id) AS used
          FROM (SELECT item_id, count(DISTINCT user_id) AS users FROM uk_events
                 WHERE item_id = ANY (items) GROUP BY 1) s) s
 WHERE used <= budget
$$;
CREATE FUNCTION pg_temp.similar_within(budget int, OUT ids bigint[], OUT sims float8[])
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('rerank.user_knn_max_postings', budget::text, true);
    SELECT array_agg(similar_user_id), array_agg(similarity) INTO ids, sims
      FROM rerank.similar_users(900, 3, 'uk');
END
$$;
SELECT b AS budget, pg_temp.within_budget('{9, 2, 4}', b) AS searched, s.ids AS neighbors,
       pg_temp.same_list(s.ids, s.sims, r.ids, r.sims) AS ok
  FROM unnest('{19, 13, 12, 6}'::int[]) b,
       LATERAL pg_temp.similar_within(b) s,
       LATERAL pg_temp.ref_neighbors('{9, 2, 4}', '{2, 1, 4}', 900, 3,
                                     searched => pg_temp.within_budget('{9, 2, 4}', b)) r;
SET rerank.user_knn_max_postings = 0;
SELECT count(*) AS nothing_searched FROM rerank.similar_users(900, 3, 'uk');
RESET rerank.user_knn_max_postings;

-- cold start: no history item in the catalog, or no history at all: no
-- neighbors, predict NULL, recommend nothing
INSERT INTO uk_shop_events VALUES (901, 77, 'uk_click');
SELECT (SELECT count(*) FROM rerank.similar_users(901, 3, 'uk')) AS unknown_items_neighbors,
       rerank.predict(901, 1, 'uk') AS unknown_items_predict,
       (SELECT count(*) FROM rerank.recommend(901, 3, model => 'uk')) AS unknown_items_recommend,
       (SELECT count(*) FROM rerank.similar_users(902, 3, 'uk')) AS nobody_neighbors,
       (SELECT count(*) FROM rerank.recommend(902, 3, model => 'uk')) AS nobody_recommend;

-- evaluate: every test user ranked as recommend() ranks it, minus the
-- train source's items (recommend also leaves out the recorded history)
CREATE TABLE uk_held_out (user_id bigint, item_id bigint);
INSERT INTO uk_held_out
SELECT u, i FROM generate_series(1, 16) u, generate_series(1, 12) i
 WHERE (u + i) % 4 = 0 AND NOT EXISTS (SELECT FROM uk_events e WHERE e.user_id = u AND e.item_id = i);
INSERT INTO uk_held_out VALUES (900, 5), (900, 11), (901, 3);
SELECT users, round(precision_at_k::numeric, 4) AS p, round(recall_at_k::numeric, 4) AS r,
       round(ndcg_at_k::numeric, 4) AS ndcg, round(hit_rate::numeric, 4) AS hit_rate,
       round(coverage::numeric, 4) AS coverage
  FROM rerank.evaluate('uk', 'uk_held_out', 3, train => 'uk_events') \gset e_
WITH recs AS (
    SELECT * FROM (
        SELECT t.user_id, r.item_id, row_number() OVER (PARTITION BY t.user_id ORDER BY r.score DESC, r.item_id) AS rank
          FROM (SELECT DISTINCT user_id FROM uk_held_out) t, rerank.recommend(t.user_id, 20, false, 'uk') r
         WHERE r.item_id NOT IN (SELECT e.item_id FROM uk_events e WHERE e.user_id = t.user_id)) s
     WHERE rank <= 3),
per_user AS (
    SELECT u.user_id, u.n,
           (SELECT count(*) FROM recs r WHERE r.user_id = u.user_id
               AND r.item_id IN (SELECT item_id FROM uk_held_out h WHERE h.user_id = u.user_id)) AS hits,
           (SELECT coalesce(sum(1 / log(2, r.rank + 1)), 0) FROM recs r WHERE r.user_id = u.user_id
               AND r.item_id IN (SELECT item_id FROM uk_held_out h WHERE h.user_id = u.user_id)) AS dcg,
           (SELECT sum(1 / log(2, g + 1)) FROM generate_series(1, least(u.n, 3)) g) AS idcg
      FROM (SELECT user_id, count(*) AS n FROM uk_held_out GROUP BY 1) u)
SELECT count(*) = :e_users AS users_ok, :e_ndcg > 0 AS scored,
       round(avg(hits / 3.0), 4) = :e_p AS precision_ok,
       round(avg(hits::numeric / n), 4) = :e_r AS recall_ok,
       round(avg(dcg / idcg), 4) = :e_ndcg AS ndcg_ok,
       round(avg((hits > 0)::int), 4) = :e_hit_rate AS hit_rate_ok
  FROM per_user;
SELECT (metrics->'evaluation'->>'ndcg_at_k')::float8 > 0 AS stored FROM rerank.models WHERE name = 'uk';

-- rerank() under a user-kNN model: the model term is predict() (candidates
-- of the catalog no neighbor has: 0), candidates outside the catalog keep
-- their upstream slot, there is no recent term, and the order is the
-- documented score's (ties by upstream position)
CREATE FUNCTION pg_temp.uk_order(u bigint, ids bigint[], wm float8, wp float8)
RETURNS bigint[] LANGUAGE sql STABLE AS $$
SELECT with_upstream_slots(ids,
       (SELECT array_agg(id ORDER BY wm * coalesce(rerank.predict(u, id, 'uk'), 0)
                                     + wp / (ln(1 + p) / ln(2)) DESC, p)
          FROM unnest(ids) WITH ORDINALITY t(id, p)
         WHERE EXISTS (SELECT FROM uk_events e WHERE e.item_id = t.id)))
$$;
SELECT rerank.rerank_ids(2, '{12, 3, 8, 99, 1, 10, 6, 2}', model => 'uk') AS defaults,
       rerank.rerank_ids(2, '{12, 3, 8, 99, 1, 10, 6, 2}', model => 'uk') =
       pg_temp.uk_order(2, '{12, 3, 8, 99, 1, 10, 6, 2}',
                        current_setting('rerank.model_weight')::float8,
                        current_setting('rerank.position_weight')::float8) AS defaults_ok;
SELECT bool_and(abs(r.score - (0.7 * coalesce(rerank.predict(u, r.item_id, 'uk'), 0)
                               + 0.2 / (ln(1 + t.pos) / ln(2)))) < 1e-9) AS scores_ok,
       bool_and(rerank.rerank_ids(u, '{12, 3, 8, 99, 1, 10, 6, 2}', model_weight => 0.7,
                                  recent_weight => 5, position_weight => 0.2, model => 'uk') =
                pg_temp.uk_order(u, '{12, 3, 8, 99, 1, 10, 6, 2}', 0.7, 0.2)) AS orders_ok
  FROM generate_series(1, 16) u,
       unnest('{12, 3, 8, 99, 1, 10, 6, 2}'::bigint[]) WITH ORDINALITY t(id, pos)
  JOIN LATERAL rerank.rerank(u, '{12, 3, 8, 99, 1, 10, 6, 2}', model_weight => 0.7,
                             recent_weight => 5, position_weight => 0.2, category_weight => 0,
                             model => 'uk') r ON r.item_id = t.id;
-- the new shopper's three clicks act at once (real-time neighbors); a
-- shopper without history gets the upstream order
SELECT rerank.rerank_ids(900, '{7, 5, 3, 11, 1}', model => 'uk') AS after_three_clicks,
       rerank.rerank_ids(900, '{7, 5, 3, 11, 1}', model => 'uk') =
       pg_temp.uk_order(900, '{7, 5, 3, 11, 1}',
                        current_setting('rerank.model_weight')::float8,
                        current_setting('rerank.position_weight')::float8) AS realtime_ok,
       rerank.rerank_ids(902, '{7, 5, 3, 11, 1}', model => 'uk') AS cold_start;
-- diversity: MMR with the similarity of two items among the user's
-- neighbors, Σ_v s_v r_va r_vb / √(Σ_v s_v r_va² · Σ_v s_v r_vb²); with
-- λ = 1 the second place is the least similar to the first
CREATE FUNCTION pg_temp.uk_item_similarity(u bigint, a bigint, b bigint) RETURNS float8
LANGUAGE sql STABLE AS $$
WITH r AS (SELECT s.similar_user_id AS v, s.similarity AS s,
                  coalesce((SELECT sum(weight) FROM uk_events WHERE user_id = s.similar_user_id AND item_id = a), 0) AS ra,
                  coalesce((SELECT sum(weight) FROM uk_events WHERE user_id = s.similar_user_id AND item_id = b), 0) AS rb
             FROM rerank.similar_users(u, 100, 'uk') s)
SELECT coalesce(sum(s * ra * rb) / nullif(sqrt(sum(s * ra * ra) * sum(s * rb * rb)), 0), 0) FROM r
$$;
SELECT d, rerank.rerank_ids(2, '{1, 2, 3, 5, 6, 4}', diversity => d, model_weight => 1,
                            position_weight => 0, model => 'uk') AS ranked
  FROM unnest('{0, 0.5, 1}'::float8[]) d;
WITH r AS (SELECT rerank.rerank_ids(2, '{1, 2, 3, 5, 6, 4}', diversity => 1, model => 'uk') AS ids)
SELECT (SELECT pg_temp.uk_item_similarity(2, r.ids[1], r.ids[2])) =
       (SELECT min(pg_temp.uk_item_similarity(2, r.ids[1], c)) FROM unnest(r.ids[2:]) c)
       AS second_is_least_similar
  FROM r;
SELECT (SELECT array_agg(score ORDER BY item_id)
          FROM rerank.rerank(2, '{1, 2, 3, 5, 6, 4}', diversity => 0.9, model => 'uk')) =
       (SELECT array_agg(score ORDER BY item_id)
          FROM rerank.rerank(2, '{1, 2, 3, 5, 6, 4}', model => 'uk')) AS mmr_keeps_scores;

-- explain(): the model term splits exactly over the user's neighbors
-- (s_v r_vi / Σ s, the neighbor's user id in history_item_id), and the
-- score is rerank()'s
SELECT term, history_item_id AS neighbor, round(value::numeric, 6) AS value
  FROM rerank.explain(900, 5, n => NULL, model => 'uk');
SELECT term, history_item_id AS neighbor, round(value::numeric, 6) AS value
  FROM rerank.explain(900, 5, n => 1, model => 'uk') WHERE term LIKE 'model%';
SELECT count(*) AS pairs,
       bool_and(abs(parts - model) < 1e-12) AS parts_add_up,
       bool_and(abs(model - coalesce(rerank.predict(u, i, 'uk'), 0)) < 1e-12) AS model_is_predict,
       bool_and(neighbors <@ (SELECT array_agg(similar_user_id) FROM rerank.similar_users(u, 100, 'uk')))
       AS parts_are_neighbors
  FROM (SELECT u, i,
               coalesce(sum(e.value) FILTER (WHERE e.term = 'model: neighbor'), 0) AS parts,
               max(e.value) FILTER (WHERE e.term = 'model') AS model,
               coalesce(array_agg(e.history_item_id) FILTER (WHERE e.term = 'model: neighbor'), '{}') AS neighbors
          FROM generate_series(1, 16) u, generate_series(1, 12) i,
               rerank.explain(u, i, n => NULL, model => 'uk') e
         GROUP BY u, i) s;
SELECT bool_and(abs(e.value - r.score) < 1e-9) AS explain_score_is_rerank_score
  FROM rerank.rerank(900, '{12, 3, 8, 99, 1, 10, 6, 2}', model => 'uk') r,
       LATERAL (SELECT value FROM rerank.explain(900, r.item_id, model => 'uk',
                       upstream_position => array_position('{12, 3, 8, 99, 1, 10, 6, 2}'::bigint[], r.item_id))
                 WHERE term = 'score') e;

-- the model cache holds the index; over rerank.model_cache_mb it is read
-- per call, with the same results
SELECT model, vectors_cached AS in_memory, bytes > 0 AS charged
  FROM rerank.model_cache_info() WHERE model = 'uk';
CREATE TEMP TABLE cached AS
SELECT (SELECT array_agg(item_id || ':' || round(score::numeric, 9) ORDER BY score DESC, item_id)
          FROM rerank.recommend(900, 5, model => 'uk')) AS recs,
       (SELECT array_agg(item_id || ':' || round(score::numeric, 9) ORDER BY rank)
          FROM rerank.rerank(900, '{12, 3, 8, 99, 1, 10, 6, 2}', diversity => 0.5, model => 'uk')) AS ranked,
       (SELECT array_agg(term || ':' || history_item_id || ':' || round(value::numeric, 9) ORDER BY term, history_item_id)
          FROM rerank.explain(3, 5, n => NULL, model => 'uk')) AS explained,
       (SELECT array_agg(similar_user_id || ':' || round(similarity::numeric, 9))
          FROM rerank.similar_users(4, 3, 'uk')) AS sims,
       (SELECT ndcg_at_k FROM rerank.evaluate('uk', 'uk_held_out', 3, train => 'uk_events')) AS ndcg;
SET rerank.model_cache_mb = 0;
SELECT (SELECT array_agg(item_id || ':' || round(score::numeric, 9) ORDER BY score DESC, item_id)
          FROM rerank.recommend(900, 5, model => 'uk')) = recs AS recommend_uncached,
       (SELECT array_agg(item_id || ':' || round(score::numeric, 9) ORDER BY rank)
          FROM rerank.rerank(900, '{12, 3, 8, 99, 1, 10, 6, 2}', diversity => 0.5, model => 'uk'))
       = ranked AS rerank_uncached,
       (SELECT array_agg(term || ':' || history_item_id || ':' || round(value::numeric, 9) ORDER BY term, history_item_id)
          FROM rerank.explain(3, 5, n => NULL, model => 'uk')) = explained AS explain_uncached,
       (SELECT array_agg(similar_user_id || ':' || round(similarity::numeric, 9))
          FROM rerank.similar_users(4, 3, 'uk')) = sims AS similar_uncached,
       (SELECT ndcg_at_k FROM rerank.evaluate('uk', 'uk_held_out', 3, train => 'uk_events')) = ndcg
       AS evaluate_uncached
  FROM cached;
SELECT model, vectors_cached AS in_memory, bytes FROM rerank.model_cache_info() WHERE model = 'uk';
RESET rerank.model_cache_mb;

-- a changed list is seen by the next call (the statement gives its model a
-- new factors_version)
SELECT factors_version AS version_before FROM rerank.models WHERE name = 'uk' \gset
UPDATE rerank.user_neighbors SET neighbor_ids = '{16}', similarities = '{0.5}'
 WHERE model_id = rerank.model_id('uk') AND user_id = 1;
SELECT factors_version > :version_before AS version_bumped FROM rerank.models WHERE name = 'uk';
SELECT * FROM rerank.similar_users(1, 3, 'uk');
SELECT rerank.predict(1, i, 'uk') = (SELECT sum(weight) FROM uk_events WHERE user_id = 16 AND item_id = i)
       AS edited_list_scores
  FROM (SELECT min(item_id) AS i FROM uk_events WHERE user_id = 16) s;

-- the registry: activate (predict without a model name), roll back, replace
SELECT rerank.activate_model('uk_pearson');
SELECT rerank.activate_model('uk');
SELECT rerank.active_model(), rerank.predict(2, 1) = rerank.predict(2, 1, 'uk') AS active_serves;
-- with a user-kNN model active, the trigger keeps the features (there is no
-- vector to fold in) and rerank() without a model name serves from them
INSERT INTO uk_shop_events VALUES (903, 9, 'uk_click'), (903, 2, 'uk_click');
SELECT f.recent_items, (SELECT count(*) FROM rerank.user_factors WHERE user_id = 903) AS vectors,
       rerank.rerank_ids(903, '{7, 5, 3, 11, 1}') =
       rerank.rerank_ids(903, '{7, 5, 3, 11, 1}', model => 'uk') AS active_reranks,
       (SELECT count(*) > 0 FROM rerank.similar_users(903)) AS has_neighbors
  FROM rerank.user_features f WHERE f.user_id = 903;
SELECT rerank.rollback_model();
SELECT rerank.active_model();
SELECT model_id AS uk_id FROM rerank.models WHERE name = 'uk' \gset
CALL rerank.train_user_knn('uk', 'uk_events', neighbors => 2, replace => true);
SELECT model_id = :uk_id AS same_id, params->>'neighbors' AS neighbors,
       (SELECT max(cardinality(neighbor_ids)) FROM rerank.user_neighbors n
         WHERE n.model_id = m.model_id) AS longest,
       metrics ? 'evaluation' AS old_metrics_gone
  FROM rerank.models m WHERE name = 'uk';

-- forget_user: the user's list, interactions and features go, and so does
-- the user's place in every other list; the served lists follow
SELECT count(*) AS lists_naming_4 FROM rerank.user_neighbors WHERE neighbor_ids @> '{4}';
SELECT array_agg(user_id ORDER BY user_id) AS named_4_by FROM rerank.user_neighbors
 WHERE model_id = rerank.model_id('uk_pearson') AND neighbor_ids @> '{4}' \gset
CREATE TABLE uk_without_4 AS SELECT * FROM uk_events WHERE user_id <> 4;
CALL rerank.train_user_knn('uk_without_4', 'uk_without_4', neighbors => 2);
SELECT jsonb_object_agg(name, factors_version) AS versions_before FROM rerank.models \gset
SELECT rerank.forget_user(4) AS forgotten;
-- the user-kNN models it changed have a new version (their cached indexes
-- reload); the others keep theirs
SELECT name, algorithm, factors_version <> (:'versions_before'::jsonb->>name)::bigint AS new_version
  FROM rerank.models WHERE model_id > :first_model ORDER BY model_id;
SELECT count(*) AS lists_naming_4,
       (SELECT count(*) FROM rerank.user_neighbors WHERE user_id = 4) AS own_lists,
       (SELECT count(*) FROM rerank.model_interactions WHERE user_id = 4) AS interactions
  FROM rerank.user_neighbors WHERE neighbor_ids @> '{4}';
SELECT bool_and(cardinality(neighbor_ids) = 3 AND cardinality(similarities) = 3
                AND similarities[1] >= similarities[3]) AS shortened_in_order
  FROM rerank.user_neighbors
 WHERE model_id = rerank.model_id('uk_pearson') AND user_id = ANY (:'named_4_by'::bigint[]);
SELECT count(*) FILTER (WHERE s.similar_user_id = 4) AS served_4
  FROM unnest(:'named_4_by'::bigint[]) u, rerank.similar_users(u, 10, 'uk_pearson') s;
SELECT (SELECT count(*) FROM rerank.similar_users(4, 3, 'uk_pearson')) AS forgotten_has_none,
       rerank.predict(4, 1, 'uk_pearson') AS forgotten_predict;

-- an application role serves once granted EXECUTE, and cannot train
CREATE ROLE rerank_regress_uk;
SET ROLE rerank_regress_uk;
SELECT count(*) FROM rerank.similar_users(2, 3, 'uk');
RESET ROLE;
GRANT EXECUTE ON FUNCTION rerank.similar_users, rerank.predict, rerank.recommend TO rerank_regress_uk;
SET ROLE rerank_regress_uk;
SELECT count(*) AS served FROM rerank.similar_users(2, 3, 'uk');
SELECT count(*) AS recommended FROM rerank.recommend(2, 3, model => 'uk');
CALL rerank.train_user_knn('app', 'uk_events');
RESET ROLE;
DROP OWNED BY rerank_regress_uk;
DROP ROLE rerank_regress_uk;
-- what a role may read never depends on what its backend cached: evaluate
-- (not SECURITY DEFINER) of a user-kNN model needs SELECT on the tables its
-- index holds, warm (cached just before, in this backend) as cold
CREATE ROLE rerank_regress_uk_dba;
GRANT EXECUTE ON FUNCTION rerank.evaluate TO rerank_regress_uk_dba;
GRANT SELECT ON uk_held_out, rerank.models, rerank.item_factors, rerank.item_neighbors,
    rerank.model_interactions, rerank.user_features TO rerank_regress_uk_dba;
GRANT UPDATE ON rerank.models TO rerank_regress_uk_dba;
SELECT count(*) > 0 AS cached FROM rerank.similar_users(2, 3, 'uk');
SET ROLE rerank_regress_uk_dba;
SELECT sqlstate_of($$SELECT * FROM rerank.evaluate('uk', 'uk_held_out', 3)$$) AS without_user_neighbors;
RESET ROLE;
GRANT SELECT ON rerank.user_neighbors TO rerank_regress_uk_dba;
SET ROLE rerank_regress_uk_dba;
SELECT sqlstate_of($$SELECT * FROM rerank.evaluate('uk', 'uk_held_out', 3)$$) AS with_user_neighbors;
RESET ROLE;
DROP OWNED BY rerank_regress_uk_dba;
DROP ROLE rerank_regress_uk_dba;

-- cancel (statement_timeout) stops training quickly and leaves nothing behind
-- (uncancelled, this training takes several seconds)
CREATE TABLE uk_big AS
SELECT u AS user_id, (u * 7 + j * 13) % 400 AS item_id
  FROM generate_series(1, 6000) u, generate_series(1, 80) j;
SELECT count(*) AS models_before FROM rerank.models \gset
SELECT clock_timestamp() AS t0 \gset
SET statement_timeout = '200ms';
CALL rerank.train_user_knn('uk_long', 'uk_big', neighbors => 100);
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '2 s' AS stopped_quickly,
       (SELECT count(*) FROM rerank.models) = :models_before AS registry_unchanged;

-- bad input: each a clear error with its SQLSTATE, nothing written
CREATE TABLE uk_one_user (user_id bigint, item_id bigint);
INSERT INTO uk_one_user VALUES (1, 1), (1, 2);
CREATE TABLE uk_nan (user_id bigint, item_id bigint, weight float8);
INSERT INTO uk_nan VALUES (1, 1, 1), (2, 1, 'NaN');
CREATE TABLE uk_inf (user_id bigint, item_id bigint, weight float8);
INSERT INTO uk_inf VALUES (1, 1, 1), (2, 1, 'Infinity');
CREATE TABLE uk_null (user_id bigint, item_id bigint);
INSERT INTO uk_null VALUES (1, 1), (NULL, 2);
CREATE TABLE uk_empty (user_id bigint, item_id bigint);
CALL rerank.train_user_knn('bad', 'uk_empty');
CALL rerank.train_user_knn('bad', 'uk_one_user');
CALL rerank.train_user_knn('bad', 'uk_null');
CALL rerank.train_user_knn('bad', 'uk_nan');
CALL rerank.train_user_knn('bad', 'uk_inf');
CALL rerank.train_user_knn('bad', 'uk_events', neighbors => 0);
CALL rerank.train_user_knn('bad', 'uk_events', neighbors => 10001);
CALL rerank.train_user_knn('bad', 'uk_events', similarity => 'euclid');
CALL rerank.train_user_knn('bad', 'uk_events', shrinkage => -1);
CALL rerank.train_user_knn('bad', 'uk_events', shrinkage => 'NaN');
CALL rerank.train_user_knn('bad', 'uk_events', shrinkage => 'Infinity');
CALL rerank.train_user_knn('bad', 'uk_events', min_overlap => 0);
CALL rerank.train_user_knn('bad', 'uk_events', neighbors => NULL);
CALL rerank.train_user_knn('bad', 'uk_events', similarity => NULL);
CALL rerank.train_user_knn('bad', 'uk_events', weight_column => 'nope');
CALL rerank.train_user_knn('uk', 'uk_events');
CALL rerank.train_user_knn(NULL, 'uk_events');
CALL rerank.train_user_knn('', 'uk_events');
CALL rerank.train_user_knn('bad', NULL);
CALL rerank.train_user_knn('bad', 'no_such_table');
SELECT count(*) AS bad_models FROM rerank.models WHERE name = 'bad';
SELECT * FROM rerank.similar_users(NULL, 3, 'uk');
SELECT * FROM rerank.similar_users(1, 0, 'uk');
SELECT * FROM rerank.similar_users(1, 3, 'nope');
SELECT * FROM rerank.similar_users(1, 3);
SELECT factors_version AS uk_version FROM rerank.models WHERE name = 'uk' \gset
CALL rerank.train_item_knn('uk_items', 'uk_events');
-- training another model leaves the user-kNN models' versions (and caches) alone
SELECT factors_version = :uk_version AS uk_version_kept FROM rerank.models WHERE name = 'uk';
SELECT * FROM rerank.similar_users(1, 3, 'uk_items');
-- hand-edited data the serving cannot use is left out, never read: a list
-- naming an unknown user or with a NaN similarity, interactions with NULLs
UPDATE rerank.user_neighbors SET neighbor_ids = '{999, 2, 5}', similarities = '{0.9, NaN, 0.4}'
 WHERE model_id = rerank.model_id('uk') AND user_id = 1;
UPDATE rerank.model_interactions SET item_ids = '{1, NULL}', weights = '{1, 1}'
 WHERE model_id = rerank.model_id('uk') AND user_id = 16;
UPDATE rerank.models SET factors_version = factors_version + 1 WHERE name = 'uk';
SELECT * FROM rerank.similar_users(1, 3, 'uk');
SELECT rerank.predict(16, 1, 'uk') AS malformed_user_predict;
UPDATE rerank.models SET params = params || '{"similarity": "euclid"}',
                         factors_version = factors_version + 1 WHERE name = 'uk';
SELECT * FROM rerank.similar_users(1, 3, 'uk');

SELECT q AS query, sqlstate_of(q) AS sqlstate FROM (VALUES
    ($q$CALL rerank.train_user_knn('bad', 'uk_empty')$q$),
    ($q$CALL rerank.train_user_knn('bad', 'uk_one_user')$q$),
    ($q$CALL rerank.train_user_knn('bad', 'uk_null')$q$),
    ($q$CALL rerank.train_user_knn('bad', 'uk_nan')$q$),
    ($q$CALL rerank.train_user_knn('bad', 'uk_events', neighbors => 0)$q$),
    ($q$CALL rerank.train_user_knn('bad', 'uk_events', similarity => 'euclid')$q$),
    ($q$CALL rerank.train_user_knn('bad', 'uk_events', shrinkage => -1)$q$),
    ($q$CALL rerank.train_user_knn('bad', 'uk_events', min_overlap => 0)$q$),
    ($q$CALL rerank.train_user_knn('uk_pearson', 'uk_events')$q$),
    ($q$SELECT * FROM rerank.similar_users(1, 3, 'uk_items')$q$),
    ($q$SELECT * FROM rerank.similar_users(1, 3, 'uk')$q$)
) t(q);

-- clean up
SELECT rerank.deactivate_model();
SELECT count(rerank.drop_model(name)) AS dropped FROM rerank.models WHERE model_id > :first_model;
SELECT count(*) AS orphans FROM rerank.user_neighbors WHERE model_id NOT IN (SELECT model_id FROM rerank.models);
SELECT count(*) >= 0 AS restored
  FROM (SELECT rerank.activate_model(:'active_at_start') WHERE :'active_at_start' <> '') s;
SELECT rerank.detach('uk_shop_events');
DELETE FROM rerank.event_weights WHERE event_type IN ('uk_click', 'uk_view', 'uk_cart');
DELETE FROM rerank.user_features WHERE user_id IN (900, 901, 902, 903);
DROP TABLE uk_events, uk_shop_events, uk_held_out, uk_big, uk_one_user, uk_nan, uk_inf,
    uk_null, uk_empty, uk_without_4;
