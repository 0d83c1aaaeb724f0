-- rerank(), rerank_ids() and explain(): the order equals the order by the
-- documented score, every blend term, diversity, caps, filters, cold start,
-- model changes, privileges and every bad input.
SET extra_float_digits = 0;
\set SHOW_CONTEXT never
-- the four terms of 0.1.0's blend, every other feature's weight 0
SELECT public.blend_010();

-- The documented score, computed independently in SQL (README, "rerank()").
CREATE FUNCTION pg_temp.ref_score(u bigint, i bigint, pos integer,
                                  wm float8, wr float8, wp float8, wc float8,
                                  mname text DEFAULT NULL)
RETURNS float8 LANGUAGE sql STABLE AS $$
WITH m AS (SELECT model_id FROM rerank.models
            WHERE (mname IS NULL AND is_active) OR name = mname),
     y AS (SELECT f.factors, f.bias FROM rerank.item_factors f JOIN m USING (model_id)
            WHERE f.item_id = i),
     x AS (SELECT uf.factors FROM rerank.user_factors uf JOIN m USING (model_id)
            WHERE uf.user_id = u),
     feat AS (SELECT * FROM rerank.user_features WHERE user_id = u),
     hist AS (SELECT h.item_id, h.ord - 1 AS j
                FROM feat, unnest(feat.recent_items) WITH ORDINALITY h(item_id, ord)
               WHERE h.ord <= current_setting('rerank.recent_items')::int),
     hv AS (SELECT power(current_setting('rerank.recent_decay')::float8, hist.j) AS w,
                   f.factors
              FROM hist JOIN rerank.item_factors f USING (item_id) JOIN m USING (model_id)
             WHERE rerank.l2_norm(f.factors) > 0),
     cat AS (SELECT it.category FROM rerank.items it WHERE it.item_id = i)
SELECT wm * coalesce((SELECT rerank.dot(x.factors, y.factors) + y.bias FROM x, y), 0)
     + wr * coalesce((SELECT sum(hv.w * rerank.cosine_similarity(y.factors, hv.factors))
                             / sum(hv.w) FROM hv, y), 0)
     + wp / (ln(1 + pos) / ln(2))
     + wc * coalesce((SELECT greatest(CASE jsonb_typeof(feat.category_weights -> cat.category)
                                      WHEN 'number'
                                      THEN (feat.category_weights ->> cat.category)::float8
                                      END, 0)
                             / (SELECT max((value #>> '{}')::float8)
                                  FROM jsonb_each(feat.category_weights)
                                 WHERE jsonb_typeof(value) = 'number')
                        FROM feat, cat), 0)
$$;

-- The order by that score (ties by upstream position) of distinct candidates.
CREATE FUNCTION pg_temp.ref_order(u bigint, ids bigint[], wm float8, wr float8,
                                  wp float8, wc float8, mname text DEFAULT NULL)
RETURNS bigint[] LANGUAGE sql STABLE AS $$
SELECT array_agg(id ORDER BY pg_temp.ref_score(u, id, pos::int, wm, wr, wp, wc, mname) DESC, pos)
  FROM unnest(ids) WITH ORDINALITY t(id, pos)
$$;

-- A 3-dimensional model; items 1..8, vectors and biases chosen without ties.
SELECT rerank.create_model('m', 3, params => '{"regularization": 0.1, "alpha": 2}') AS m_id \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias) VALUES
    (:m_id, 1, '{1.0, 0.1, 0.0}', 0.00),
    (:m_id, 2, '{0.9, 0.3, 0.1}', 0.05),
    (:m_id, 3, '{0.1, 1.0, 0.2}', 0.10),
    (:m_id, 4, '{0.0, 0.8, 0.7}', -0.10),
    (:m_id, 5, '{0.2, 0.1, 1.0}', 0.20),
    (:m_id, 6, '{0.5, 0.5, 0.5}', 0.00),
    (:m_id, 7, '{-0.4, 0.2, 0.9}', 0.03),
    (:m_id, 8, '{0.0, 0.0, 0.0}', 0.00);
INSERT INTO rerank.user_factors (model_id, user_id, factors) VALUES
    (:m_id, 100, '{0.8, 0.4, -0.2}'),
    (:m_id, 103, '{-0.1, 0.3, 0.9}');
INSERT INTO rerank.user_features (user_id, recent_items, recent_weights, purchased_items,
                                  category_weights) VALUES
    (100, '{3, 7, 1}', '{1, 2, 8}', '{1}', '{"shoes": 6, "hats": 3, "bags": 1.5, "x": "y"}'),
    (101, '{5, 99, 4}', '{4, 1, 1}', '{}', '{"hats": 2}');
INSERT INTO rerank.items (item_id, category) VALUES
    (1, 'shoes'), (2, 'shoes'), (3, 'hats'), (4, 'hats'), (5, 'bags'), (6, 'shoes'),
    (7, 'bags'), (9, 'hats');

-- no active model: the candidates are scored from the features that need
-- no model (here the upstream position and the category affinity; NULLs
-- and duplicates dropped), a NOTICE once per session, never an error
SELECT * FROM rerank.rerank(100, '{4, 2, NULL, 6, 2, 1}');
SELECT rerank.rerank_ids(100, '{4, 2, 6, 1}', k => 3);
SELECT rerank.rerank_ids(100, '{4, 2, 6, 1, 3}', max_per_category => 1);

SELECT rerank.activate_model('m');

-- the order is the order by the documented score, with default weights and
-- with each term alone
SHOW rerank.model_weight;
SHOW rerank.recent_weight;
SHOW rerank.position_weight;
SHOW rerank.category_weight;
SELECT w.name,
       rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1}', model_weight => w.wm,
                         recent_weight => w.wr, position_weight => w.wp,
                         category_weight => w.wc) AS rerank,
       pg_temp.ref_order(100, '{6, 2, 7, 5, 3, 4, 1}', w.wm, w.wr, w.wp, w.wc) AS reference
  FROM (VALUES ('defaults', 1.0, 0.2, 0.1, 0.1),
               ('model', 1, 0, 0, 0),
               ('recent', 0, 1, 0, 0),
               ('position', 0, 0, 1, 0),
               ('category', 0, 0, 0, 1),
               ('mixed', 0.5, 2, 0.3, 0.7),
               ('negative', -1, 0, 0.1, 0)) AS w(name, wm, wr, wp, wc);
SELECT bool_and(rerank.rerank_ids(u, c) IS NOT DISTINCT FROM
                pg_temp.ref_order(u, c, 1.0, 0.2, 0.1, 0.1))
       AS all_users_match
  FROM unnest('{100, 101, 102, 103, 104}'::bigint[]) u,
       (VALUES ('{1,2,3,4,5,6,7}'::bigint[]), ('{7,6,5,4,3,2,1}'), ('{5,1,4,2}')) c(c);

-- the scores are the documented ones
SELECT r.item_id, r.rank, round(r.score::numeric, 6) AS score,
       round(pg_temp.ref_score(100, r.item_id, p.pos::int, 1.0, 0.2, 0.1, 0.1)::numeric, 6)
       AS reference
  FROM rerank.rerank(100, '{6, 2, 7, 5, 3, 4, 1}') r
  JOIN unnest('{6, 2, 7, 5, 3, 4, 1}'::bigint[]) WITH ORDINALITY p(id, pos) ON p.id = r.item_id
 ORDER BY r.rank;

-- served from the model cache: repeated calls load nothing
SELECT loads AS loads_before FROM rerank.model_cache_info() WHERE serving \gset
SELECT count(*) FROM generate_series(1, 20) g, LATERAL rerank.rerank(100, '{6, 2, 7}');
SELECT model, vectors_cached, loads - :loads_before AS new_loads
  FROM rerank.model_cache_info() WHERE serving;
-- over the cache budget: index look-ups, the same result
SELECT array_agg(item_id || ':' || round(score::numeric, 9) ORDER BY rank) AS cached
  FROM rerank.rerank(100, '{6, 2, 7, 5, 3, 4, 1, 10}', diversity => 0.4) \gset
SET rerank.model_cache_mb = 0;
SELECT array_agg(item_id || ':' || round(score::numeric, 9) ORDER BY rank) = :'cached' AS same_uncached
  FROM rerank.rerank(100, '{6, 2, 7, 5, 3, 4, 1, 10}', diversity => 0.4);
SELECT model, vectors_cached FROM rerank.model_cache_info() WHERE serving;
RESET rerank.model_cache_mb;

-- the settings are the defaults; arguments override them
SET rerank.model_weight = 0;
SET rerank.position_weight = 0;
SET rerank.category_weight = 0;
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1}') = pg_temp.ref_order(100, '{6, 2, 7, 5, 3, 4, 1}', 0, 0.2, 0, 0) AS recent_only;
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1}', model_weight => 1) = pg_temp.ref_order(100, '{6, 2, 7, 5, 3, 4, 1}', 1, 0.2, 0, 0) AS argument_wins;
SET rerank.recent_decay = 0.3;
SET rerank.recent_items = 2;
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1}') = pg_temp.ref_order(100, '{6, 2, 7, 5, 3, 4, 1}', 0, 0.2, 0, 0) AS decay_and_depth;
RESET ALL;
SET extra_float_digits = 0;
SELECT public.blend_010();

-- duplicates: the first position wins; NULLs skipped; k cuts
SELECT * FROM rerank.rerank(100, '{3, 3, NULL, 5, 3, 5}', position_weight => 0, category_weight => 0, recent_weight => 0);
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1}', k => 3);
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1}', k => 0);
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1}', k => 100);
SELECT rerank.rerank_ids(100, '{NULL, NULL}');
SELECT rerank.rerank_ids(100, '{}');
SELECT count(*) FROM rerank.rerank(100, '{}');
SELECT rerank.rerank_ids(100, '[0:2]={5,3,1}', recent_weight => 0) AS lower_bound_0;

-- filters: purchased items (from user_features) and an exclusion list
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1}', exclude_purchased => true);
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1}', exclude => '{2, NULL, 42}');
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1}', exclude_purchased => true, exclude => '{6}');
SELECT rerank.rerank_ids(100, '{1, 2}', exclude_purchased => true, exclude => '{2}');
SELECT rerank.rerank_ids(102, '{6, 2, 1}', exclude_purchased => true) AS nothing_bought;
-- filtered items do not take an upstream position
SELECT * FROM rerank.rerank(102, '{9, 1, 2}', exclude => '{9}', model_weight => 0);

-- category caps: at most n per category in the top, the rest demoted in
-- their order, never dropped; items without a category are not capped
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1, 8}') AS uncapped;
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1, 8}', max_per_category => 1) AS cap_1;
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1, 8}', max_per_category => 2) AS cap_2;
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1, 8}', max_per_category => 1, k => 4) AS cap_1_k_4;
SELECT i.category, count(*)
  FROM rerank.rerank(100, '{6, 2, 7, 5, 3, 4, 1, 8}', max_per_category => 1, k => 4) r
  LEFT JOIN rerank.items i USING (item_id)
 GROUP BY 1 ORDER BY 1;

-- categories are cached; changes of rerank.items are seen at once
UPDATE rerank.items SET category = 'bags' WHERE item_id = 1;
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1, 8}', max_per_category => 1) AS item_1_in_bags;
INSERT INTO rerank.items (item_id, category) VALUES (8, 'hats');
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1, 8}', max_per_category => 1) AS item_8_in_hats;
BEGIN;
DELETE FROM rerank.items WHERE item_id = 8;
UPDATE rerank.items SET category = 'shoes' WHERE item_id = 1;
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1, 8}', max_per_category => 1) AS in_transaction;
COMMIT;
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1, 8}', max_per_category => 1) = '{2,3,5,8,1,6,4,7}' AS back_to_cap_1;
-- over the category cache's budget: a query per call, the same result
SELECT array_agg(item_id || ':' || round(score::numeric, 9) ORDER BY rank) AS cached
  FROM rerank.rerank(100, '{6, 2, 7, 5, 3, 4, 1, 8, 9}', max_per_category => 2) \gset
SET rerank.category_cache_mb = 0;
SELECT array_agg(item_id || ':' || round(score::numeric, 9) ORDER BY rank) = :'cached' AS same_uncached
  FROM rerank.rerank(100, '{6, 2, 7, 5, 3, 4, 1, 8, 9}', max_per_category => 2);
RESET rerank.category_cache_mb;

-- cold start
-- user 101: no vector, a history (item 99 has no vector): the recent term
SELECT * FROM rerank.rerank(101, '{1, 2, 3, 4, 5, 6, 7}', category_weight => 0);
-- user 102: nothing known: the upstream order
SELECT rerank.rerank_ids(102, '{6, 2, 7, 5, 3, 4, 1}');
-- items without a vector (10, 11, 9) are scored from the features they have
-- (position, category affinity), not kept at their upstream slot
SELECT * FROM rerank.rerank(100, '{10, 6, 2, 11, 7, 5, 3, 9}');
SELECT rerank.rerank_ids(100, '{10, 6, 2, 11, 7, 5, 3, 9}', k => 3);
SELECT rerank.rerank_ids(100, '{10, 11, 12}') AS no_vectors_at_all;
-- a zero vector is a vector: it is scored (model term = bias = 0)
SELECT item_id, rank, round(score::numeric, 6) FROM rerank.rerank(100, '{8, 6}', recent_weight => 0, category_weight => 0);

-- diversity (MMR): near-duplicates of the best item move down
SELECT rerank.create_model('div', 2) AS div_id \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors) VALUES
    (:div_id, 201, '{1.0, 0.0}'),
    (:div_id, 202, '{0.98, 0.2}'),
    (:div_id, 203, '{0.0, 1.0}'),
    (:div_id, 204, '{0.7, 0.7}');
INSERT INTO rerank.user_factors (model_id, user_id, factors) VALUES (:div_id, 100, '{1, 0.5}');
SELECT d AS diversity,
       rerank.rerank_ids(100, '{201, 202, 203, 204}', diversity => d, model => 'div',
                         recent_weight => 0, position_weight => 0, category_weight => 0)
  FROM unnest('{0, 0.5, 0.9, 1}'::float8[]) d;
-- scores stay the relevance; only the order changes
SELECT item_id, rank, round(score::numeric, 4) AS score
  FROM rerank.rerank(100, '{201, 202, 203, 204}', diversity => 0.9, model => 'div',
                     recent_weight => 0, position_weight => 0, category_weight => 0);
-- diversity_depth: MMR chooses the first places only
SET rerank.diversity_depth = 1;
SELECT rerank.rerank_ids(100, '{201, 202, 203, 204}', diversity => 0.9, model => 'div',
                         recent_weight => 0, position_weight => 0, category_weight => 0);
RESET rerank.diversity_depth;
-- with a cap and a cut
SELECT rerank.rerank_ids(100, '{6, 2, 7, 5, 3, 4, 1}', diversity => 0.5, max_per_category => 2, k => 5);

-- a named model that is not active
SELECT rerank.rerank_ids(100, '{201, 202, 203, 204}', model => 'div');

-- model changes are seen at once: activation, new vectors, a new model
SELECT rerank.rerank_ids(100, '{1, 3, 5}', recent_weight => 0, position_weight => 0, category_weight => 0) AS before;
UPDATE rerank.item_factors SET factors = '{0, 0, 5}' WHERE model_id = :m_id AND item_id = 1;
SELECT rerank.rerank_ids(100, '{1, 3, 5}', recent_weight => 0, position_weight => 0, category_weight => 0) AS item_1_updated;
UPDATE rerank.user_factors SET factors = '{0, 0, 1}' WHERE model_id = :m_id AND user_id = 100;
SELECT rerank.rerank_ids(100, '{1, 3, 5}', recent_weight => 0, position_weight => 0, category_weight => 0) AS user_updated;
DELETE FROM rerank.item_factors WHERE model_id = :m_id AND item_id = 3;
SELECT rerank.rerank_ids(100, '{1, 3, 5}', recent_weight => 0, position_weight => 0, category_weight => 0) AS item_3_deleted;
SELECT rerank.activate_model('div');
SELECT rerank.rerank_ids(100, '{201, 202, 203, 204, 1}', recent_weight => 0, position_weight => 0, category_weight => 0) AS div_active;
SELECT rerank.create_model('m2', 3) AS m2_id \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors) VALUES
    (:m2_id, 1, '{0, 1, 0}'), (:m2_id, 3, '{0, 0, 1}'), (:m2_id, 5, '{1, 0, 0}');
INSERT INTO rerank.user_factors (model_id, user_id, factors) VALUES (:m2_id, 100, '{3, 2, 1}');
SELECT rerank.activate_model('m2');
SELECT rerank.rerank_ids(100, '{1, 3, 5}', recent_weight => 0, position_weight => 0, category_weight => 0) AS m2_active;
SELECT rerank.rollback_model();
SELECT rerank.rerank_ids(100, '{201, 202, 203, 204}', recent_weight => 0, position_weight => 0, category_weight => 0) AS rolled_back;
SELECT rerank.deactivate_model();
SELECT rerank.rerank_ids(100, '{201, 202, 203, 204}') AS none_active;
-- inside one transaction, a change is seen by the next call
BEGIN;
SELECT rerank.activate_model('m2');
SELECT rerank.rerank_ids(100, '{1, 3, 5}', recent_weight => 0, position_weight => 0, category_weight => 0) AS in_transaction;
UPDATE rerank.item_factors SET factors = '{9, 9, 9}' WHERE model_id = :m2_id AND item_id = 3;
SELECT rerank.rerank_ids(100, '{1, 3, 5}', recent_weight => 0, position_weight => 0, category_weight => 0) AS updated_in_transaction;
ROLLBACK;
SELECT rerank.rerank_ids(100, '{1, 3, 5}', recent_weight => 0, position_weight => 0, category_weight => 0) AS after_rollback;

-- explain(): the model score split exactly over the history.  A 2-d ALS
-- model and a user whose vector is the fold-in of the history, computed
-- here by hand: x = A⁻¹ Σ c_j y_j with A = YᵀY + Σ (c_j − 1) y_j y_jᵀ + λI.
SELECT rerank.create_model('als2', 2, 'als', '{"regularization": 0.5, "alpha": 2}') AS als_id \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias) VALUES
    (:als_id, 301, '{1, 0}', 0), (:als_id, 302, '{0, 1}', 0),
    (:als_id, 303, '{1, 1}', 0.25), (:als_id, 304, '{2, -1}', 0);
INSERT INTO rerank.user_features (user_id, recent_items, recent_weights) VALUES
    (300, '{301, 304, 999}', '{1, 0.5, 3}');
-- YᵀY = [[6, -1], [-1, 3]]; c = 3 for 301, 2 for 304 (999 has no vector)
-- A = [[6 + 2·1 + 1·4 + 0.5, -1 + 1·(-2)], [-3, 3 + 1·1 + 0.5]] = [[12.5, -3], [-3, 4.5]]
-- b = 3·(1, 0) + 2·(2, -1) = (7, -2); det = 56.25 - 9 = 47.25
-- x = (4.5·7 + 3·(-2), 3·7 + 12.5·(-2)) / 47.25 = (25.5, -4) / 47.25
INSERT INTO rerank.user_factors (model_id, user_id, factors)
VALUES (:als_id, 300, ARRAY[25.5 / 47.25, -4 / 47.25]::real[]);
SELECT term, history_item_id, round(value::numeric, 6) AS value,
       round(contribution::numeric, 6) AS contribution
  FROM rerank.explain(300, 303, model => 'als2');
-- by hand: z = A⁻¹ y_303 = (4.5 + 3, 3 + 12.5) / 47.25 = (7.5, 15.5) / 47.25;
-- 301: 3 · (1, 0)·z = 22.5 / 47.25; 304: 2 · (2, -1)·z = -1 / 47.25
SELECT round(22.5 / 47.25, 6) AS c301, round(-1 / 47.25, 6) AS c304,
       round((25.5 - 4) / 47.25 + 0.25, 6) AS model_score;
-- the parts add up: history + bias + not from history = model;
-- weighted terms = score, for the stored vector of any user
SELECT u, i,
       count(*) FILTER (WHERE term LIKE 'model_score: %') AS model_rows,
       round((coalesce(sum(value) FILTER (WHERE term LIKE 'model_score: %'), 0)
              - coalesce(sum(value) FILTER (WHERE term = 'model_score'), 0))::numeric, 9)
           AS model_parts,
       count(*) FILTER (WHERE term LIKE 'recent_similarity: %') AS recent_rows,
       round((coalesce(sum(value) FILTER (WHERE term LIKE 'recent_similarity: %'), 0)
              - coalesce(sum(value) FILTER (WHERE term = 'recent_similarity'), 0))::numeric, 6)
           AS recent_parts,
       round((sum(contribution) FILTER (WHERE term NOT LIKE '%:%' AND term <> 'score')
              - sum(contribution) FILTER (WHERE term = 'score'))::numeric, 9) AS terms
  FROM unnest('{100, 101, 102, 300}'::bigint[]) u,
       unnest('{1, 3, 5, 303}'::bigint[]) i,
       LATERAL rerank.explain(u, i, n => 1, upstream_position => 2, model => 'm') e
 GROUP BY u, i ORDER BY u, i;
-- explain's score is rerank's score (at the same upstream position)
SELECT rerank.activate_model('m');
SELECT r.rank, r.item_id, round(r.score::numeric, 9) = round(e.value::numeric, 9) AS same
  FROM unnest('{6, 2, 7, 5, 4, 10}'::bigint[]) WITH ORDINALITY p(id, pos)
  JOIN rerank.rerank(100, '{6, 2, 7, 5, 4, 10}') r ON r.item_id = p.id,
       LATERAL rerank.explain(100, r.item_id, upstream_position => p.pos::int) e
 WHERE e.term = 'score'
 ORDER BY r.rank;
-- n limits the listed history; NULL lists all; a user or item unknown
SELECT term, history_item_id, round(value::numeric, 6) AS value
  FROM rerank.explain(300, 303, n => 1, model => 'als2');
SELECT count(*) FROM rerank.explain(300, 303, n => NULL, model => 'als2')
 WHERE term LIKE '%: %history';
SELECT term, round(value::numeric, 6) AS value FROM rerank.explain(12345, 1);
SELECT term, round(value::numeric, 6) AS value FROM rerank.explain(100, 12345, upstream_position => 1);
SELECT count(*) FROM rerank.explain(NULL, 1);
SELECT count(*) FROM rerank.explain(100, NULL);

-- 100,000 candidates: bounded memory, every one returned once, cancellable
SELECT rerank.create_model('big', 8) AS big_id \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT :big_id, i, ARRAY[sin(i), cos(i), sin(2 * i), cos(3 * i),
                         sin(5 * i), cos(7 * i), sin(11 * i), 1]::real[]
  FROM generate_series(1, 100000) i;
INSERT INTO rerank.user_factors (model_id, user_id, factors)
VALUES (:big_id, 100, '{1, 0.5, 0, 0, 0.2, 0, 0, 0.1}');
SELECT count(*), count(DISTINCT item_id), min(rank), max(rank)
  FROM rerank.rerank(100, ARRAY(SELECT i FROM generate_series(100000, 1, -1) i), model => 'big');
SELECT cardinality(rerank.rerank_ids(100, ARRAY(SELECT i % 150000 FROM generate_series(1, 200000) i),
                                     model => 'big', k => 10, diversity => 0.3)) AS top_10_of_150000;
SET rerank.diversity_depth = 100000;
SET statement_timeout = '500ms';
SELECT count(*) FROM rerank.rerank(100, ARRAY(SELECT generate_series(1, 100000)),
                                   model => 'big', diversity => 1);
RESET statement_timeout;
RESET rerank.diversity_depth;
SELECT rerank.rerank_ids(100, ARRAY(SELECT generate_series(1, 1000001)), model => 'big');

-- privileges: an application role can serve once granted EXECUTE, and
-- still cannot read user data or manage models
CREATE ROLE rerank_regress_app;
SET ROLE rerank_regress_app;
SELECT rerank.rerank_ids(100, '{1, 2}');
RESET ROLE;
GRANT EXECUTE ON FUNCTION rerank.rerank, rerank.rerank_ids TO rerank_regress_app;
SET ROLE rerank_regress_app;
SELECT rerank.rerank_ids(100, '{6, 2, 7}') AS app_serves;
SELECT count(*) FROM rerank.rerank(100, '{6, 2, 7}', exclude_purchased => true);
SELECT * FROM rerank.explain(100, 1);
SELECT * FROM rerank.user_features;
SELECT * FROM rerank.user_factors;
SELECT rerank.activate_model('div');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION rerank.rerank, rerank.rerank_ids FROM rerank_regress_app;
DROP ROLE rerank_regress_app;

-- bad input: clear errors with their SQLSTATE
SELECT q AS query, error_of(q) AS result FROM (VALUES
    ($q$SELECT rerank.rerank_ids(100, '{1, 2}', k => -1)$q$),
    ($q$SELECT rerank.rerank_ids(100, '{1, 2}', diversity => -0.1)$q$),
    ($q$SELECT rerank.rerank_ids(100, '{1, 2}', diversity => 1.5)$q$),
    ($q$SELECT rerank.rerank_ids(100, '{1, 2}', diversity => 'NaN')$q$),
    ($q$SELECT rerank.rerank_ids(100, '{1, 2}', max_per_category => 0)$q$),
    ($q$SELECT rerank.rerank_ids(100, '{1, 2}', model_weight => 'NaN')$q$),
    ($q$SELECT rerank.rerank_ids(100, '{1, 2}', recent_weight => 'Infinity')$q$),
    ($q$SELECT rerank.rerank_ids(100, '{1, 2}', position_weight => '-Infinity')$q$),
    ($q$SELECT rerank.rerank_ids(100, '{1, 2}', category_weight => 'NaN')$q$),
    ($q$SELECT rerank.rerank_ids(100, '{1, 2}', model => 'nope')$q$),
    ($q$SELECT rerank.rerank_ids(NULL, '{1, 2}', model => 'nope')$q$),
    ($q$SELECT rerank.rerank_ids(100, NULL, model => 'nope')$q$),
    ($q$SELECT rerank.rerank_ids(100, '{{1, 2}, {3, 4}}')$q$),
    ($q$SELECT rerank.rerank_ids(100, '{1, 2}', exclude => '{{1}}')$q$),
    ($q$SELECT rerank.rerank_ids(100, '{1, 2}', model_weight => 1e300)$q$),
    ($q$SELECT rerank.rerank_ids(100, '{1, 2}', model_weight => 1.7e308, position_weight => 1.7e308)$q$),
    ($q$SELECT * FROM rerank.explain(100, 1, n => -1)$q$),
    ($q$SELECT * FROM rerank.explain(100, 1, upstream_position => 0)$q$),
    ($q$SELECT * FROM rerank.explain(100, 1, model => 'nope')$q$),
    ($q$SELECT * FROM rerank.explain(100, 1, model_weight => 'NaN')$q$),
    ($q$SET rerank.recent_decay = 2$q$),
    ($q$SET rerank.diversity_depth = 0$q$),
    ($q$SET rerank.no_such_setting = 1$q$)
) t(q);
-- NULL user or NULL array: empty result (rerank_ids: NULL)
SELECT count(*) FROM rerank.rerank(NULL, '{1, 2}');
SELECT count(*) FROM rerank.rerank(100, NULL);
SELECT rerank.rerank_ids(NULL, '{1, 2}') IS NULL AS null_user,
       rerank.rerank_ids(100, NULL) IS NULL AS null_items;
-- every other argument NULL: its default
SELECT rerank.rerank_ids(100, '{6, 2, 7}', k => NULL, diversity => NULL, max_per_category => NULL,
                         exclude_purchased => NULL, exclude => NULL, model_weight => NULL,
                         recent_weight => NULL, position_weight => NULL,
                         category_weight => NULL, model => NULL)
       = rerank.rerank_ids(100, '{6, 2, 7}') AS defaults;
-- unknown users and items are cold starts, not errors
SELECT rerank.rerank_ids(-1, '{-5, 0, 9223372036854775807}');
