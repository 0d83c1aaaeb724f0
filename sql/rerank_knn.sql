-- rerank() and explain() under an item-kNN model (neighbor lists, no
-- vectors): the order equals the order by the documented score computed in
-- SQL from rerank.item_neighbors, items outside the model are scored from
-- the features they have (not kept at their upstream slot),
-- MMR uses the lists' similarities, explain's parts add up, and the recent
-- history the triggers keep changes the order at once.
SET extra_float_digits = 0;
\set SHOW_CONTEXT never
-- the four terms of 0.1.0's blend, every other feature's weight 0
SELECT public.blend_010();
SELECT coalesce(rerank.active_model(), '') AS active_at_start \gset

CREATE TABLE knn_events (user_id bigint, item_id bigint, weight real);
-- two tastes: items 1..6 and 7..12, each user mostly in one
INSERT INTO knn_events
SELECT u, i, 1 + (u + i) % 2
  FROM generate_series(1, 30) u, generate_series(1, 12) i
 WHERE ((i <= 6) = (u % 2 = 0) AND (u + 2 * i) % 3 <> 0) OR (u * i) % 11 = 0;
SET client_min_messages = warning;
CALL rerank.train_item_knn('kn', 'knn_events', neighbors => 6, weight_column => 'weight');
RESET client_min_messages;
SELECT name, algorithm, dimensions, items FROM rerank.model_versions WHERE name = 'kn';

-- The documented score under an item-kNN model (README, "rerank()"): the
-- model term is predict(); the recent term the recency-weighted mean of
-- the similarities in the recent items' lists, over the recent items that
-- have one.
CREATE FUNCTION pg_temp.knn_score(u bigint, i bigint, pos integer,
                                  wm float8, wr float8, wp float8)
RETURNS float8 LANGUAGE sql STABLE AS $$
WITH m AS (SELECT model_id FROM rerank.models WHERE name = 'kn'),
     hist AS (SELECT h.item_id, h.ord - 1 AS j
                FROM rerank.user_features f,
                     unnest(f.recent_items) WITH ORDINALITY h(item_id, ord)
               WHERE f.user_id = u
                 AND h.ord <= current_setting('rerank.recent_items')::int),
     lists AS (SELECT hist.j, n.neighbor_ids, n.similarities
                 FROM hist JOIN rerank.item_neighbors n USING (item_id) JOIN m USING (model_id)),
     shares AS (SELECT lists.j, power(current_setting('rerank.recent_decay')::float8, lists.j) AS d,
                       (SELECT s FROM unnest(lists.neighbor_ids, lists.similarities) t(id, s)
                         WHERE t.id = i) AS sim
                  FROM lists)
SELECT wm * coalesce(rerank.predict(u, i, 'kn'), 0)
     + wr * coalesce((SELECT sum(d * coalesce(sim, 0)) / sum(d) FROM shares), 0)
     + wp / (ln(1 + pos) / ln(2))
$$;

-- Every candidate by that score (ties by upstream position), as rerank()
-- orders them: one outside the model has no model or recent term, and is
-- scored from the features it has (here its upstream position).
CREATE FUNCTION pg_temp.knn_order(u bigint, ids bigint[], wm float8, wr float8, wp float8)
RETURNS bigint[] LANGUAGE sql STABLE AS $$
SELECT array_agg(id ORDER BY pg_temp.knn_score(u, id, p::int, wm, wr, wp) DESC, p)
  FROM unnest(ids) WITH ORDINALITY t(id, p)
$$;

SELECT rerank.activate_model('kn');
-- user 4 likes items 1..6; recent history (most recent first) from the
-- triggers' table, with an item the model does not know (99)
INSERT INTO rerank.user_features (user_id, recent_items, recent_weights, purchased_items)
VALUES (4, '{9, 99, 2, 5}', '{1, 1, 3, 2}', '{5}'),
       (5, '{}', '{}', '{}');

-- the order is the documented one, with default weights and each term alone
SELECT rerank.rerank_ids(4, '{12, 3, 8, 99, 1, 10, 6, 2}') AS defaults,
       rerank.rerank_ids(4, '{12, 3, 8, 99, 1, 10, 6, 2}') =
       pg_temp.knn_order(4, '{12, 3, 8, 99, 1, 10, 6, 2}',
                         current_setting('rerank.model_weight')::float8,
                         current_setting('rerank.recent_weight')::float8,
                         current_setting('rerank.position_weight')::float8) AS defaults_ok;
SELECT rerank.rerank_ids(4, '{12, 3, 8, 99, 1, 10, 6, 2}', model_weight => 1, recent_weight => 0,
                         position_weight => 0, category_weight => 0) AS model_only,
       rerank.rerank_ids(4, '{12, 3, 8, 99, 1, 10, 6, 2}', model_weight => 1, recent_weight => 0,
                         position_weight => 0, category_weight => 0) =
       pg_temp.knn_order(4, '{12, 3, 8, 99, 1, 10, 6, 2}', 1, 0, 0) AS model_only_ok;
SELECT rerank.rerank_ids(4, '{12, 3, 8, 99, 1, 10, 6, 2}', model_weight => 0, recent_weight => 1,
                         position_weight => 0, category_weight => 0) AS recent_only,
       rerank.rerank_ids(4, '{12, 3, 8, 99, 1, 10, 6, 2}', model_weight => 0, recent_weight => 1,
                         position_weight => 0, category_weight => 0) =
       pg_temp.knn_order(4, '{12, 3, 8, 99, 1, 10, 6, 2}', 0, 1, 0) AS recent_only_ok;

-- the scores are the documented ones; the model term alone is predict()
SELECT bool_and(abs(r.score - pg_temp.knn_score(4, r.item_id, t.pos::int, 0.7, 0.4, 0.2)) < 1e-6)
       AS scores_ok
  FROM unnest('{12, 3, 8, 1, 10, 6, 2}'::bigint[]) WITH ORDINALITY t(id, pos)
  JOIN rerank.rerank(4, '{12, 3, 8, 1, 10, 6, 2}', model_weight => 0.7, recent_weight => 0.4,
                     position_weight => 0.2, category_weight => 0) r ON r.item_id = t.id;
SELECT bool_and(abs(r.score - rerank.predict(4, r.item_id, 'kn')) < 1e-6) AS model_term_is_predict
  FROM rerank.rerank(4, '{12, 3, 8, 1, 10, 6, 2}', model_weight => 1, recent_weight => 0,
                     position_weight => 0, category_weight => 0) r;

-- an item outside the model is scored from its position; a user the model does
-- not know gets the upstream order; without recent items (user 5), the
-- training history still gives the model term; the purchase filter applies
SELECT rerank.rerank_ids(4, '{99, 12, 3, 98}') AS unknown_items,
       rerank.rerank_ids(4, '{99, 12, 3, 98}') =
       pg_temp.knn_order(4, '{99, 12, 3, 98}',
                         current_setting('rerank.model_weight')::float8,
                         current_setting('rerank.recent_weight')::float8,
                         current_setting('rerank.position_weight')::float8) AS unknown_items_ok;
SELECT rerank.rerank_ids(999, '{12, 3, 8, 1}') AS unknown_user,
       rerank.rerank_ids(5, '{12, 3, 8, 1}', recent_weight => 1) AS no_recent_items,
       rerank.rerank_ids(5, '{12, 3, 8, 1}', recent_weight => 1) =
       pg_temp.knn_order(5, '{12, 3, 8, 1}',
                         current_setting('rerank.model_weight')::float8, 1,
                         current_setting('rerank.position_weight')::float8) AS no_recent_ok;
SELECT rerank.rerank_ids(4, '{12, 5, 3}', exclude_purchased => true) AS without_purchased;

-- diversity: MMR with the lists' similarities.  Item 3's near neighbors
-- move down behind a less similar item as λ grows; scores stay relevance.
SELECT n.neighbor_ids[2:3] AS near_3
  FROM rerank.item_neighbors n WHERE n.model_id = rerank.model_id('kn') AND n.item_id = 3;
SELECT d, rerank.rerank_ids(4, '{1, 2, 3, 4, 6, 8}', diversity => d, model_weight => 1,
                            recent_weight => 0, position_weight => 0) AS ranked
  FROM unnest('{0, 0.5, 0.9}'::float8[]) d;
SELECT (SELECT array_agg(score ORDER BY item_id) FROM rerank.rerank(4, '{1, 2, 3, 4, 6, 8}', diversity => 0.9))
     = (SELECT array_agg(score ORDER BY item_id) FROM rerank.rerank(4, '{1, 2, 3, 4, 6, 8}'))
       AS mmr_keeps_scores;
-- with λ = 1 every next place goes to the candidate least similar to the
-- placed ones: the second place is the first place's least similar
-- candidate (0 when its list does not hold it)
WITH r AS (SELECT rerank.rerank_ids(4, '{1, 2, 3, 4, 6, 8}', diversity => 1) AS ids),
     sim AS (SELECT c.id,
                    greatest(coalesce((SELECT s FROM rerank.item_neighbors n,
                                              unnest(n.neighbor_ids, n.similarities) t(nid, s)
                                        WHERE n.model_id = rerank.model_id('kn')
                                          AND n.item_id = r.ids[1] AND t.nid = c.id), 0),
                             coalesce((SELECT s FROM rerank.item_neighbors n,
                                              unnest(n.neighbor_ids, n.similarities) t(nid, s)
                                        WHERE n.model_id = rerank.model_id('kn')
                                          AND n.item_id = c.id AND t.nid = r.ids[1]), 0)) AS s
               FROM r, unnest(r.ids[2:]) c(id))
SELECT (SELECT s FROM sim, r WHERE sim.id = r.ids[2]) = min(s) AS second_is_least_similar
  FROM sim;

-- explain(): the parts of each term add up to it; its score is rerank's
SELECT term, history_item_id, round(value::numeric, 6) AS value
  FROM rerank.explain(4, 3, n => NULL, upstream_position => 2);
SELECT round(sum(value) FILTER (WHERE term = 'model_score: history')::numeric, 6) =
       round(max(value) FILTER (WHERE term = 'model_score')::numeric, 6) AS model_parts_add_up,
       round(sum(value) FILTER (WHERE term = 'recent_similarity: history')::numeric, 6) =
       round(max(value) FILTER (WHERE term = 'recent_similarity')::numeric, 6) AS recent_parts_add_up,
       round(max(value) FILTER (WHERE term = 'model_score')::numeric, 6) =
       round(rerank.predict(4, 3, 'kn')::numeric, 6) AS model_is_predict
  FROM rerank.explain(4, 3, n => NULL);
SELECT bool_and(abs(e.value - r.score) < 1e-9) AS explain_score_is_rerank_score
  FROM rerank.rerank(4, '{12, 3, 8, 1, 10, 6, 2}') WITH ORDINALITY r(item_id, score, rank, ord),
       LATERAL (SELECT value FROM rerank.explain(4, r.item_id,
                       upstream_position => array_position('{12, 3, 8, 1, 10, 6, 2}'::bigint[], r.item_id))
                 WHERE term = 'score') e;

-- a new event (here written straight into the recent history, as the
-- triggers do) changes the next call's order
SELECT rerank.rerank_ids(4, '{1, 7, 8, 10}', model_weight => 0, position_weight => 0) AS before_event;
UPDATE rerank.user_features SET recent_items = '{8}' || recent_items,
                                recent_weights = '{1}' || recent_weights
 WHERE user_id = 4;
SELECT rerank.rerank_ids(4, '{1, 7, 8, 10}', model_weight => 0, position_weight => 0) AS after_event;

-- the lists are served from the model cache; over its budget from the
-- table, with the same results
SELECT model, vectors_cached AS in_memory, bytes > 0 AS charged
  FROM rerank.model_cache_info() WHERE model = 'kn';
SELECT array_agg(item_id || ':' || round(score::numeric, 9) ORDER BY rank) AS cached
  FROM rerank.rerank(4, '{12, 3, 8, 99, 1, 10, 6, 2}') \gset
SELECT array_agg(item_id || ':' || round(score::numeric, 9) ORDER BY rank) AS cached_mmr
  FROM rerank.rerank(4, '{12, 3, 8, 99, 1, 10, 6, 2}', diversity => 0.6) \gset
SELECT array_agg(term || ':' || round(value::numeric, 9) ORDER BY term, history_item_id) AS cached_explain
  FROM rerank.explain(4, 3, n => NULL) \gset
SET rerank.model_cache_mb = 0;
SELECT (SELECT array_agg(item_id || ':' || round(score::numeric, 9) ORDER BY rank)
          FROM rerank.rerank(4, '{12, 3, 8, 99, 1, 10, 6, 2}')) = :'cached' AS same_uncached,
       (SELECT array_agg(item_id || ':' || round(score::numeric, 9) ORDER BY rank)
          FROM rerank.rerank(4, '{12, 3, 8, 99, 1, 10, 6, 2}', diversity => 0.6)) = :'cached_mmr'
       AS same_uncached_mmr,
       (SELECT array_agg(term || ':' || round(value::numeric, 9) ORDER BY term, history_item_id)
          FROM rerank.explain(4, 3, n => NULL)) = :'cached_explain' AS same_uncached_explain;
SELECT model, vectors_cached AS in_memory, bytes FROM rerank.model_cache_info() WHERE model = 'kn';
RESET rerank.model_cache_mb;

-- a changed list is seen by the next call: the statement bumps the
-- model's factors_version, so the cached lists are reloaded
SELECT factors_version AS version_before FROM rerank.models WHERE name = 'kn' \gset
SELECT rerank.rerank_ids(4, '{12, 3, 8, 1}', model_weight => 1, recent_weight => 0,
                         position_weight => 0) AS before_change;
UPDATE rerank.item_neighbors SET neighbor_ids = neighbor_ids || 12::bigint,
                                 similarities = similarities || 50::real
 WHERE model_id = rerank.model_id('kn') AND item_id = 2;
SELECT factors_version > :version_before AS version_bumped FROM rerank.models WHERE name = 'kn';
SELECT rerank.rerank_ids(4, '{12, 3, 8, 1}', model_weight => 1, recent_weight => 0,
                         position_weight => 0) AS after_change,
       rerank.rerank_ids(4, '{12, 3, 8, 1}', model_weight => 1, recent_weight => 0,
                         position_weight => 0) =
       pg_temp.knn_order(4, '{12, 3, 8, 1}', 1, 0, 0) AS after_change_ok;
DELETE FROM rerank.item_neighbors WHERE model_id = rerank.model_id('kn') AND item_id = 12;
SELECT rerank.rerank_ids(4, '{3, 12, 8, 1}', model_weight => 1, recent_weight => 0,
                         position_weight => 0) AS deleted_list_last;

-- a hand-edited list with a NULL element is left out, never read: item 3
-- is then outside the model (cached or not)
UPDATE rerank.item_neighbors SET neighbor_ids = '{3, NULL, 6}', similarities = '{1, 0.5, 0.4}'
 WHERE model_id = rerank.model_id('kn') AND item_id = 3;
SELECT (SELECT count(*) FROM rerank.similar_items(3, 3, 'kn')) AS similar_to_3,
       rerank.rerank_ids(4, '{3, 6, 1, 2}', diversity => 0.5) AS ranked,
       round(rerank.predict(4, 6, 'kn')::numeric, 4) AS predict_6;
SET rerank.model_cache_mb = 0;
SELECT (SELECT count(*) FROM rerank.similar_items(3, 3, 'kn')) AS similar_to_3,
       rerank.rerank_ids(4, '{3, 6, 1, 2}', diversity => 0.5) AS ranked,
       round(rerank.predict(4, 6, 'kn')::numeric, 4) AS predict_6;
RESET rerank.model_cache_mb;

-- under the shipped weights every feature is gathered, the item signals
-- (here a brand) loaded into the cache before the lists are read: the same
-- scores from the same features, cached or not
RESET ALL;
SET extra_float_digits = 0;
INSERT INTO rerank.items (item_id, brand) VALUES (1, 'acme'), (2, 'acme')
    ON CONFLICT (item_id) DO UPDATE SET brand = excluded.brand;
SELECT rerank.rerank_ids(4, ARRAY(SELECT generate_series(1, 12)::bigint), diversity => 0.3)
    AS shipped_weights \gset
SELECT rerank.rerank_ids(4, ARRAY(SELECT generate_series(1, 12)::bigint)) IS NOT NULL AS ranked,
       rerank.rerank_ids(4, ARRAY(SELECT generate_series(1, 12)::bigint), diversity => 0.3)
       = :'shipped_weights' AS stable;
SET rerank.model_cache_mb = 0;
SELECT rerank.rerank_ids(4, ARRAY(SELECT generate_series(1, 12)::bigint), diversity => 0.3)
       = :'shipped_weights' AS same_uncached;
RESET rerank.model_cache_mb;
DELETE FROM rerank.items WHERE item_id IN (1, 2) AND category IS NULL;
UPDATE rerank.items SET brand = NULL WHERE item_id IN (1, 2);

SELECT rerank.activate_model(:'active_at_start') WHERE :'active_at_start' <> '';
SELECT rerank.drop_model('kn');
DELETE FROM rerank.user_features WHERE user_id IN (4, 5);
DROP TABLE knn_events;
