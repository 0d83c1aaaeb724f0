-- The candidate features (core/features.h), as rerank.candidate_features()
-- gives them: every feature of every candidate equals the value computed
-- here in SQL from the tables (user_features, item_factors, items,
-- item_stats, item_covisits) by its documented definition; rerank()'s
-- score is the weighted sum of them; explain()'s contributions add up to
-- it; the features of a moment do not change with events after it.
SET extra_float_digits = 0;
\set SHOW_CONTEXT never

CREATE SCHEMA feat;
CREATE TABLE feat.events (user_id bigint, item_id bigint, event_type text, occurred_at timestamptz);
SELECT rerank.attach('feat.events', time_column => 'occurred_at');
INSERT INTO rerank.items (item_id, category, brand) VALUES
    (501, 'tops', 'acme'), (502, 'tops', 'zeta'), (503, 'shoes', 'acme'),
    (504, 'shoes', NULL), (505, 'bags', 'zeta'), (506, NULL, 'acme'), (507, 'tops', 'acme');

-- a factor model with vectors for some items only (504, 506, 507 have none)
SELECT rerank.create_model('fm', 2) AS fm \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias) VALUES
    (:fm, 501, '{1, 0}', 0.1), (:fm, 502, '{0.6, 0.8}', 0), (:fm, 503, '{0, 1}', -0.2),
    (:fm, 505, '{-1, 0.5}', 0.3);

-- user 7001: two sessions, the second current at the moment below; user
-- 7002 makes the co-visitation lists richer
INSERT INTO feat.events VALUES
    (7001, 501, 'view',     '2026-04-01 09:00'),
    (7001, 503, 'view',     '2026-04-01 09:05'),
    (7001, 501, 'cart',     '2026-04-01 09:10'),
    (7001, 505, 'favorite', '2026-04-01 09:20'),
    (7001, 502, 'click',    '2026-04-02 18:00'),
    (7001, 503, 'purchase', '2026-04-02 18:05'),
    (7001, 507, 'view',     '2026-04-02 18:06'),
    (7002, 502, 'view',     '2026-04-01 12:00'),
    (7002, 504, 'view',     '2026-04-01 12:01'),
    (7002, 503, 'view',     '2026-04-01 12:03'),
    (7002, 506, 'view',     '2026-04-02 17:00'),
    (7002, 507, 'view',     '2026-04-02 17:02');
INSERT INTO rerank.user_factors (model_id, user_id, factors) VALUES (:fm, 7001, '{0.5, -0.25}');
SELECT rerank.refresh_item_stats('feat.events', time_column => 'occurred_at',
                                 as_of => '2026-04-02 18:00');
SET client_min_messages = warning;
CALL rerank.build_covisitation('feat.events', time_column => 'occurred_at');
RESET client_min_messages;

-- the features in documented order
SELECT feature, setting FROM rerank.blend_weights();

-- The definitions, in SQL, for user u and the candidates at positions,
-- as of t.  NULL where a feature is missing.
CREATE FUNCTION pg_temp.expected(u bigint, ids bigint[], t timestamptz, model text)
RETURNS TABLE (item_id bigint, feature text, value float8)
LANGUAGE sql STABLE AS $$
WITH
m AS (SELECT model_id FROM rerank.models WHERE name = model),
f AS (SELECT * FROM rerank.user_features WHERE user_id = u),
x AS (SELECT uf.factors FROM rerank.user_factors uf, m
       WHERE uf.model_id = m.model_id AND uf.user_id = u),
nrecent AS (SELECT current_setting('rerank.recent_items')::int AS n,
                   current_setting('rerank.recent_decay')::float8 AS d),
hist AS (SELECT h.item_id, h.j - 1 AS j, h.weight, h.count, h.last_at, h.kinds,
                i.category, i.brand
           FROM f, unnest(f.recent_items, f.recent_weights, f.recent_counts,
                          f.recent_last_at, f.recent_kinds)
                   WITH ORDINALITY h(item_id, weight, count, last_at, kinds, j)
           LEFT JOIN rerank.items i ON i.item_id = h.item_id),
sess AS (SELECT f.session_started_at AS started,
                (t - f.last_event_at) <= interval '30 minutes' AS current FROM f),
c AS (SELECT id AS item_id, pos::int AS pos FROM unnest(ids) WITH ORDINALITY p(id, pos)),
cand AS (SELECT c.item_id, c.pos, v.factors, v.bias, i.category, i.brand,
                s.popularity_hour, s.popularity_day, s.popularity_week, s.first_seen_at,
                s.computed_at
           FROM c LEFT JOIN m ON true
           LEFT JOIN rerank.item_factors v ON v.model_id = m.model_id AND v.item_id = c.item_id
           LEFT JOIN rerank.items i ON i.item_id = c.item_id
           LEFT JOIN rerank.item_stats s ON s.item_id = c.item_id),
decayed AS (SELECT h.*, h.weight * power(2, -greatest(extract(epoch FROM t - h.last_at), 0) / 86400)
                        AS dw
              FROM hist h),
stats AS (SELECT max(computed_at) AS at, max(popularity_day) AS max_day,
                 max(popularity_week) AS max_week FROM rerank.item_stats),
-- recent items with a vector: their recency weights and unit vectors
rv AS (SELECT h.j, power(nr.d, h.j) AS dj, v.factors
         FROM hist h, nrecent nr, m, rerank.item_factors v
        WHERE h.j < nr.n AND v.model_id = m.model_id AND v.item_id = h.item_id
          AND rerank.l2_norm(v.factors) > 0),
-- recent items with a co-visitation list
rl AS (SELECT h.j, power(nr.d, h.j) AS dj, l.neighbor_ids, l.weights
         FROM hist h, nrecent nr, rerank.item_covisits l
        WHERE h.j < nr.n AND l.item_id = h.item_id),
rows AS (
  SELECT cand.item_id,
         rerank.dot(x.factors, cand.factors) + cand.bias AS model_score,
         (cand.factors IS NOT NULL)::int::float8 AS in_model,
         CASE WHEN cand.factors IS NOT NULL AND rerank.l2_norm(cand.factors) > 0 THEN
              (SELECT sum(rv.dj * rerank.cosine_similarity(rv.factors, cand.factors)) / sum(rv.dj)
                 FROM rv) END AS recent_similarity,
         h.item_id IS NOT NULL AS touched, h.weight, h.count, h.last_at, h.kinds,
         cand.category, cand.brand, cand.pos,
         cand.popularity_hour, cand.popularity_day, cand.popularity_week,
         cand.first_seen_at, cand.computed_at
    FROM cand LEFT JOIN x ON true LEFT JOIN hist h ON h.item_id = cand.item_id)
SELECT r.item_id, v.feature, v.value
  FROM rows r CROSS JOIN stats LEFT JOIN f ON true LEFT JOIN sess ON true,
  LATERAL (VALUES
    ('model_score', r.model_score),
    ('in_model', r.in_model),
    ('recent_similarity', r.recent_similarity),
    ('revisit', r.touched::int::float8),
    ('revisit_recency', CASE WHEN r.touched THEN
        1 / (1 + greatest(extract(epoch FROM t - r.last_at), 0) / 3600) ELSE 0 END),
    ('revisit_log_count', CASE WHEN r.touched THEN ln(1 + r.count) / ln(2) ELSE 0 END),
    ('revisit_log_weight', CASE WHEN r.touched THEN ln(1 + r.weight) / ln(2) ELSE 0 END),
    ('revisit_clicked', CASE WHEN r.kinds & 2 <> 0 THEN 1 ELSE 0 END),
    ('revisit_favorited', CASE WHEN r.kinds & 4 <> 0 THEN 1 ELSE 0 END),
    ('revisit_carted', CASE WHEN r.kinds & 8 <> 0 THEN 1 ELSE 0 END),
    ('revisit_session', CASE WHEN r.touched AND sess.current AND r.last_at >= sess.started
                             THEN 1 ELSE 0 END),
    ('purchased', coalesce(r.item_id = ANY (f.purchased_items), false)::int::float8),
    ('covisit', (SELECT sum(rl.dj * coalesce((SELECT w FROM unnest(rl.neighbor_ids, rl.weights) n(id, w)
                                              WHERE n.id = r.item_id), 0)) / sum(rl.dj)
                   FROM rl)),
    ('covisit_last', (SELECT coalesce((SELECT w FROM unnest(rl.neighbor_ids, rl.weights) n(id, w)
                                        WHERE n.id = r.item_id), 0)
                        FROM rl WHERE rl.j = 0)),
    ('category_affinity', CASE WHEN r.category IS NOT NULL THEN
        coalesce((f.category_weights ->> r.category)::float8 /
                 (SELECT max(value::float8) FROM jsonb_each_text(f.category_weights)), 0) END),
    ('category_recent', CASE WHEN r.category IS NOT NULL THEN
        coalesce((SELECT sum(dw) FILTER (WHERE category = r.category) / nullif(sum(dw), 0)
                    FROM decayed), 0) END),
    ('category_session', CASE WHEN r.category IS NOT NULL THEN
        (SELECT count(*) FILTER (WHERE h.category = r.category AND sess.current
                                   AND h.last_at >= sess.started) > 0
           FROM hist h)::int::float8 END),
    ('brand_affinity', CASE WHEN r.brand IS NOT NULL THEN
        coalesce((SELECT sum(weight) FILTER (WHERE brand = r.brand) / nullif(sum(weight), 0)
                    FROM hist), 0) END),
    ('brand_recent', CASE WHEN r.brand IS NOT NULL THEN
        coalesce((SELECT sum(dw) FILTER (WHERE brand = r.brand) / nullif(sum(dw), 0)
                    FROM decayed), 0) END),
    ('popularity', CASE WHEN r.popularity_day IS NULL OR r.popularity_day = 0 THEN 0 ELSE
        ln(1 + r.popularity_day * power(2, -greatest(extract(epoch FROM t - stats.at), 0) / 86400)) /
        ln(1 + stats.max_day * power(2, -greatest(extract(epoch FROM t - stats.at), 0) / 86400)) END),
    ('popularity_week', CASE WHEN r.popularity_week IS NULL OR r.popularity_week = 0 THEN 0 ELSE
        ln(1 + r.popularity_week * power(2, -greatest(extract(epoch FROM t - stats.at), 0) / 604800)) /
        ln(1 + stats.max_week * power(2, -greatest(extract(epoch FROM t - stats.at), 0) / 604800)) END),
    ('trend', ln((24 * coalesce(r.popularity_hour, 0)
                     * power(2, -greatest(extract(epoch FROM t - stats.at), 0) / 3600) + 1) /
                 (coalesce(r.popularity_day, 0)
                     * power(2, -greatest(extract(epoch FROM t - stats.at), 0) / 86400) + 1)) / ln(2)),
    ('item_newness', CASE WHEN r.first_seen_at <= t THEN
        1 / (1 + extract(epoch FROM t - r.first_seen_at) / 86400) END),
    ('position', ln(2) / ln(1 + r.pos)),
    ('user_log_history', ln(1 + coalesce(cardinality(f.recent_items), 0)) / ln(2)),
    ('session_active', coalesce(sess.current, false)::int::float8)
  ) AS v(feature, value)
$$;

-- at the moment of user 7001's last event (18:06) plus 4 minutes
SELECT rerank.rerank_ids(7001, '{507, 506, 505, 504, 503, 502, 501}') IS NOT NULL AS warm;
SELECT f.item_id, f.feature, round(f.value::numeric, 6) AS value
  FROM rerank.candidate_features(7001, '{507, 506, 505, 504, 503, 502, 501}',
                                 as_of => '2026-04-02 18:10', model => 'fm') f
 WHERE f.item_id IN (501, 504) ORDER BY f.item_id;
-- every value equals its definition (to 1e-6: recent_similarity reads a
-- profile of floats), NULL where missing
SELECT e.feature, count(*) AS candidates,
       count(*) FILTER (WHERE a.value IS NULL AND e.value IS NULL
                           OR abs(a.value - e.value) <= 1e-6 * (1 + abs(e.value))) AS equal,
       count(*) FILTER (WHERE a.value IS NULL) AS missing
  FROM pg_temp.expected(7001, '{507, 506, 505, 504, 503, 502, 501}', '2026-04-02 18:10', 'fm') e
  FULL JOIN rerank.candidate_features(7001, '{507, 506, 505, 504, 503, 502, 501}',
                                      as_of => '2026-04-02 18:10', model => 'fm') a
       USING (item_id, feature)
 GROUP BY e.feature ORDER BY min(array_position(ARRAY(SELECT b.feature FROM rerank.blend_weights() b),
                                               e.feature));
-- a day later the session is over and everything has decayed
SELECT count(*) AS values,
       count(*) FILTER (WHERE a.value IS NULL AND e.value IS NULL
                           OR abs(a.value - e.value) <= 1e-6 * (1 + abs(e.value))) AS equal
  FROM pg_temp.expected(7001, '{501, 502, 503, 504, 505, 506, 507}', '2026-04-03 18:10', 'fm') e
  FULL JOIN rerank.candidate_features(7001, '{501, 502, 503, 504, 503, 505, 506, 507}',
                                      as_of => '2026-04-03 18:10', model => 'fm') a
       USING (item_id, feature);
-- a user with no row: only the item's own features
SELECT count(*) AS values,
       count(*) FILTER (WHERE a.value IS NULL AND e.value IS NULL
                           OR abs(a.value - e.value) <= 1e-6 * (1 + abs(e.value))) AS equal
  FROM pg_temp.expected(7999, '{501, 504}', '2026-04-02 18:10', 'fm') e
  FULL JOIN rerank.candidate_features(7999, '{501, 504}', as_of => '2026-04-02 18:10', model => 'fm') a
       USING (item_id, feature);

-- rerank()'s score is the weighted sum of the features (missing ones add
-- nothing), with weights from the settings and the arguments
SET rerank.revisit_weight = 2;
SET rerank.revisit_recency_weight = 1.5;
SET rerank.covisit_weight = 0.7;
SET rerank.popularity_weight = 0.3;
SET rerank.category_session_weight = 0.4;
SET rerank.brand_affinity_weight = -0.2;
SET rerank.item_newness_weight = 0.05;
SELECT bool_and(abs(r.score - s.score) <= 1e-9) AS score_is_weighted_sum, count(*)
  FROM rerank.rerank(7001, '{507, 506, 505, 504, 503, 502, 501}', model => 'fm',
                     as_of => '2026-04-02 18:10', recent_weight => 0.5) r
  JOIN (SELECT a.item_id,
               sum(a.value * CASE w.feature WHEN 'recent_similarity' THEN 0.5 ELSE w.weight END)
                 FILTER (WHERE a.value IS NOT NULL) AS score
          FROM rerank.candidate_features(7001, '{507, 506, 505, 504, 503, 502, 501}',
                                         as_of => '2026-04-02 18:10', model => 'fm') a
          JOIN rerank.blend_weights() w USING (feature)
         GROUP BY a.item_id) s USING (item_id);
-- items without a vector (504, 506, 507) are ranked by their score too
SELECT item_id, rank, round(score::numeric, 6) AS score
  FROM rerank.rerank(7001, '{507, 506, 505, 504, 503, 502, 501}', model => 'fm',
                     as_of => '2026-04-02 18:10');
-- explain: one row per feature, contributions adding up to rerank's score
SELECT r.item_id,
       abs(sum(e.contribution) FILTER (WHERE e.term NOT LIKE '%:%' AND e.term <> 'score')
           - r.score) < 1e-9 AS adds_up,
       count(*) FILTER (WHERE e.term NOT LIKE '%:%' AND e.term <> 'score') AS features,
       abs(max(e.value) FILTER (WHERE e.term = 'score') - r.score) < 1e-9 AS same_score
  FROM rerank.rerank(7001, '{507, 506, 505, 504, 503, 502, 501}', model => 'fm',
                     as_of => '2026-04-02 18:10') r
  JOIN unnest('{507, 506, 505, 504, 503, 502, 501}'::bigint[]) WITH ORDINALITY p(id, pos)
       ON p.id = r.item_id,
       LATERAL rerank.explain(7001, r.item_id, upstream_position => p.pos::int, model => 'fm',
                              as_of => '2026-04-02 18:10') e
 GROUP BY r.item_id, r.score ORDER BY r.item_id;
SELECT term, round(value::numeric, 6) AS value, round(contribution::numeric, 6) AS contribution
  FROM rerank.explain(7001, 501, upstream_position => 7, model => 'fm', as_of => '2026-04-02 18:10')
 WHERE contribution <> 0 OR term = 'score';
-- the purchase filter drops 503
SELECT rerank.rerank_ids(7001, '{507, 506, 505, 504, 503, 502, 501}', model => 'fm',
                         as_of => '2026-04-02 18:10', exclude_purchased => true);
RESET rerank.revisit_weight;
RESET rerank.revisit_recency_weight;
RESET rerank.covisit_weight;
RESET rerank.popularity_weight;
RESET rerank.category_session_weight;
RESET rerank.brand_affinity_weight;
RESET rerank.item_newness_weight;

-- point in time: events after the moment change neither the statistics
-- refreshed as of it nor the lists built until it, so the features of that
-- moment stay the same (and item 508, first seen later, has no age)
CREATE TABLE feat.before AS
SELECT * FROM rerank.candidate_features(7001, '{501, 502, 503, 508}', as_of => '2026-04-02 18:10',
                                        model => 'fm');
INSERT INTO feat.events VALUES (7002, 508, 'view', '2026-04-02 19:00'),
                               (7002, 501, 'view', '2026-04-02 19:01'),
                               (7003, 501, 'cart', '2026-04-02 19:02');
SELECT rerank.refresh_item_stats('feat.events', time_column => 'occurred_at',
                                 as_of => '2026-04-02 18:00');
SET client_min_messages = warning;
CALL rerank.build_covisitation('feat.events', time_column => 'occurred_at',
                               until => '2026-04-02 18:10');
RESET client_min_messages;
SELECT count(*) AS values,
       count(*) FILTER (WHERE a.value IS NOT DISTINCT FROM b.value) AS unchanged,
       (SELECT value FROM rerank.candidate_features(7001, '{508}', as_of => '2026-04-02 18:10')
         WHERE feature = 'item_newness') AS newness_508
  FROM feat.before b
  JOIN rerank.candidate_features(7001, '{501, 502, 503, 508}', as_of => '2026-04-02 18:10',
                                 model => 'fm') a USING (item_id, feature);
-- refreshed and rebuilt later, the later events count
SELECT rerank.refresh_item_stats('feat.events', time_column => 'occurred_at',
                                 as_of => '2026-04-02 19:10');
SELECT round(value::numeric, 6) AS newness_508
  FROM rerank.candidate_features(7001, '{508}', as_of => '2026-04-02 19:10')
 WHERE feature = 'item_newness';

-- bad input
SELECT error_of($$SELECT * FROM rerank.candidate_features(7001, '{1}', as_of => 'infinity')$$);
SELECT error_of($$SELECT * FROM rerank.rerank(7001, '{1}', as_of => '-infinity')$$);
SELECT error_of($$SELECT * FROM rerank.candidate_features(7001, '{{1}}')$$);
SELECT error_of($$SELECT * FROM rerank.candidate_features(7001, '{1}', model => 'nope')$$);
SELECT count(*) FROM rerank.candidate_features(NULL, '{1}');
SELECT count(*) FROM rerank.candidate_features(7001, NULL);
SELECT count(*) FROM rerank.candidate_features(7001, '{NULL, 501, 501}');
SELECT error_of($$SET rerank.covisit_weight = 'NaN'$$);
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p WHERE p.pronamespace = 'rerank'::regnamespace
   AND p.proname IN ('candidate_features', 'blend_weights') ORDER BY 1;

-- clean up
SELECT rerank.detach('feat.events');
DELETE FROM rerank.item_stats;
DELETE FROM rerank.item_covisits;
DELETE FROM rerank.user_features WHERE user_id BETWEEN 7001 AND 7003;
DELETE FROM rerank.items WHERE item_id BETWEEN 501 AND 507;
SELECT rerank.drop_model('fm');
DROP SCHEMA feat CASCADE;
