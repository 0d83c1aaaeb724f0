-- The learned ranker (issue 11, item 3): training examples replayed point
-- in time (equal to what serving computes from the tables as they were,
-- and blind to later events), training, the registry (activation beside
-- the factor model, rollback, replace, drop), serving (rerank() scores by
-- the forest, explain() gives TreeSHAP contributions that add up), the
-- backend's thread count after XGBoost, impressions, and every bad input
-- leaving the registry unchanged.
SET extra_float_digits = 0;
\set SHOW_CONTEXT never

CREATE SCHEMA ltr;
-- 24 users, 60 items in 6 categories and 4 brands; each user keeps to a
-- category and comes back to its items, in sessions of five events
INSERT INTO rerank.items (item_id, category, brand)
SELECT i, 'c' || (i % 6), 'b' || (i % 4) FROM generate_series(1, 60) i;
CREATE TABLE ltr.log (user_id bigint, item_id bigint, kind text, at timestamptz);
INSERT INTO ltr.log
SELECT u, 1 + (u % 6) + 6 * ((u + s * s) % 10),
       (ARRAY['view', 'view', 'click', 'view', 'cart', 'view', 'favorite', 'purchase'])[1 + (u + s) % 8],
       timestamptz '2026-03-01 00:00+00' + u * interval '7 minutes 1 second'
           + s * interval '13 minutes' + (s / 5) * interval '2 hours'
  FROM generate_series(1, 24) u, generate_series(0, 19) s;
-- an event of a type without weight, and one without an item
INSERT INTO ltr.log VALUES (3, 4, 'hover', '2026-03-01 05:00:00.5+00'),
                           (4, NULL, 'view', '2026-03-01 05:00:01.5+00');
-- a factor model with vectors for items 1..40 only
SELECT rerank.create_model('fm', 2) AS fm \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias)
SELECT :fm, i, ARRAY[cos(i), sin(i)]::real[], (i % 3) * 0.1 FROM generate_series(1, 40) i;
SELECT rerank.activate_model('fm');

-- the arguments every call below shares: the log with its columns, negatives
-- of the three sources (a quarter by popularity, a quarter from the category)
CREATE FUNCTION pg_temp.examples(negatives integer DEFAULT 6, options jsonb DEFAULT '{}',
                                 max_groups integer DEFAULT 100000)
RETURNS SETOF record LANGUAGE sql AS $$
    SELECT * FROM rerank.ranker_examples('ltr.log', event_type_column => 'kind',
                                         time_column => 'at', negatives => negatives,
                                         max_groups => max_groups,
                                         options => '{"warm_up": 0, "negative_mix": {"popular": 0.25,
                                                      "category": 0.25, "uniform": 0.5}}'::jsonb || options)
$$;

-- ---- the examples ----
CREATE TABLE ltr.ex AS
SELECT * FROM pg_temp.examples(options => '{"stats_every": 0, "covisit_every": 0}')
    AS (group_id int, user_id bigint, occurred_at timestamptz, item_id bigint, source text,
        label real, features real[]);
-- one group per positive event (weight > 0, with an item) but the first
-- (no item seen before it to draw negatives from): the event's item first,
-- labelled 1, then negatives of three kinds, no item twice
SELECT count(DISTINCT group_id) AS groups,
       (SELECT count(*) FROM ltr.log l JOIN rerank.event_weights w ON w.event_type = l.kind
         WHERE w.weight > 0 AND l.item_id IS NOT NULL) AS positive_events,
       count(*) FILTER (WHERE source = 'event') AS positives,
       bool_and((source = 'event') = (label = 1)) AS labels_ok,
       count(*) FILTER (WHERE source = 'popular') > 0 AS popular,
       count(*) FILTER (WHERE source = 'category') > 0 AS category,
       count(*) FILTER (WHERE source = 'uniform') > 0 AS uniform,
       bool_and(cardinality(features) = 26) AS widths
  FROM ltr.ex;
SELECT count(*) AS duplicates FROM (SELECT group_id, item_id FROM ltr.ex GROUP BY 1, 2 HAVING count(*) > 1) d;
-- the negatives were seen before their group's event, the category ones share its category
SELECT count(*) AS unseen_negatives FROM ltr.ex x
 WHERE x.source <> 'event'
   AND NOT EXISTS (SELECT FROM ltr.log l WHERE l.item_id = x.item_id AND l.at < x.occurred_at);
SELECT count(*) AS foreign_category FROM ltr.ex x
  JOIN ltr.ex p ON p.group_id = x.group_id AND p.source = 'event'
  JOIN rerank.items i ON i.item_id = x.item_id JOIN rerank.items j ON j.item_id = p.item_id
 WHERE x.source = 'category' AND i.category <> j.category;
-- deterministic: the same call gives the same rows
SELECT count(*) AS differences FROM (
    (SELECT * FROM ltr.ex EXCEPT
     SELECT * FROM pg_temp.examples(options => '{"stats_every": 0, "covisit_every": 0}')
         AS (group_id int, user_id bigint, occurred_at timestamptz, item_id bigint, source text,
             label real, features real[]))) d;
-- max_groups samples the groups
SELECT count(DISTINCT group_id) AS sampled_groups
  FROM pg_temp.examples(max_groups => 100)
    AS (group_id int, user_id bigint, occurred_at timestamptz, item_id bigint, source text,
        label real, features real[]);

-- ---- the same code as serving ----
-- The state just before a late event rebuilt the way serving builds it: the
-- events before it streamed through the trigger in log order, the item
-- statistics refreshed and the co-visitation lists built as of its time;
-- then rerank.candidate_features() of its candidates must equal the replay's
-- rows (position aside: the replay's groups have no upstream order).
SELECT group_id AS g, user_id AS u, occurred_at AS t FROM ltr.ex
 WHERE source = 'event' ORDER BY group_id DESC LIMIT 1 OFFSET 3 \gset
CREATE TABLE ltr.live (user_id bigint, item_id bigint, kind text, at timestamptz);
SELECT rerank.attach('ltr.live', event_type_column => 'kind', time_column => 'at');
INSERT INTO ltr.live SELECT * FROM ltr.log WHERE at < :'t' ORDER BY at;
SET client_min_messages = warning;
SELECT rerank.refresh_item_stats('ltr.live', 'item_id', 'at', as_of => :'t') > 0 AS refreshed;
CALL rerank.build_covisitation('ltr.live', 'user_id', 'item_id', 'at', until => :'t');
RESET client_min_messages;
CREATE TEMP TABLE served AS
SELECT f.item_id, f.feature, f.value
  FROM rerank.candidate_features(:u, ARRAY(SELECT item_id FROM ltr.ex WHERE group_id = :g),
                                 as_of => :'t') f;
CREATE TEMP TABLE replayed AS
SELECT x.item_id, b.feature, x.features[b.n]::float8 AS value
  FROM ltr.ex x, LATERAL (SELECT feature, row_number() OVER () AS n FROM rerank.blend_weights()) b
 WHERE x.group_id = :g;
SELECT count(*) AS compared,
       count(*) FILTER (WHERE s.value IS NOT NULL) AS present,
       count(*) FILTER (WHERE (s.value IS NULL) <> (r.value IS NULL)
                           OR abs(s.value - r.value) > 1e-5 * greatest(1, abs(s.value))) AS different
  FROM served s JOIN replayed r USING (item_id, feature)
 WHERE s.feature <> 'position';
-- negative_mix: the default's shares given explicitly (normalized) give the same rows
SELECT count(*) AS differences FROM (
    (SELECT * FROM ltr.ex EXCEPT
     SELECT * FROM pg_temp.examples(options => '{"stats_every": 0, "covisit_every": 0,
                                                 "negative_mix": {"popular": 1, "category": 1, "uniform": 2}}')
         AS (group_id int, user_id bigint, occurred_at timestamptz, item_id bigint, source text,
             label real, features real[]))) d;
-- the default mix: all uniform, no other source
SELECT source, count(*) > 0 AS drawn
  FROM rerank.ranker_examples('ltr.log', event_type_column => 'kind', time_column => 'at',
                              negatives => 6, options => '{"warm_up": 0}')
 GROUP BY source ORDER BY source;
-- half category: none by popularity, at most 3 of 6 per group
SELECT count(*) FILTER (WHERE source = 'popular') AS popular,
       count(*) FILTER (WHERE source = 'category') > 0 AS category,
       max(per_group) AS max_category_per_group
  FROM (SELECT source, count(*) FILTER (WHERE source = 'category') OVER (PARTITION BY group_id) AS per_group
          FROM pg_temp.examples(options => '{"negative_mix": {"category": 0.5, "uniform": 0.5}}')
            AS (group_id int, user_id bigint, occurred_at timestamptz, item_id bigint, source text,
                label real, features real[])) x;

-- the features that the state behind them makes non-trivial here
SELECT s.feature FROM served s GROUP BY s.feature
HAVING count(DISTINCT round(s.value::numeric, 6)) > 1 ORDER BY min(s.feature);

-- ---- training ----
SET client_min_messages = warning;
CALL rerank.train_ranker('ltr_a', 'ltr.log', event_type_column => 'kind', time_column => 'at',
                         negatives => 6, trees => 12, max_depth => 3,
                         options => '{"warm_up": "1 hour"}', description => 'first');
RESET client_min_messages;
SELECT m.name, m.algorithm, m.dimensions, m.is_active, m.description,
       r.features_version = rerank.features_version() AS version_ok,
       r.feature_names = ARRAY(SELECT feature FROM rerank.blend_weights()) AS names_ok,
       jsonb_typeof(convert_from(r.booster, 'UTF8')::jsonb -> 'learner') AS booster_json,
       r.factor_model_id = :fm AS factor_model_ok,
       m.params ->> 'factor_model' AS factor_model, (m.params ->> 'trees')::int AS trees,
       (m.metrics -> 'training' ->> 'groups')::int > 100 AS groups_ok,
       (m.metrics -> 'training' ->> 'rounds')::int AS rounds,
       (m.metrics -> 'evaluation' -> 'ranker' ->> 'ndcg_at_10')::float8 BETWEEN 0 AND 1 AS ndcg_ok,
       (m.metrics -> 'evaluation' -> 'blend' ->> 'hit_rate_at_10') IS NOT NULL AS blend_scored,
       m.training_seconds > 0 AS timed
  FROM rerank.models m JOIN rerank.rankers r USING (model_id) WHERE m.name = 'ltr_a';
-- XGBoost ran in this backend: still one thread (nthread = 1, OpenMP team of 1)
SELECT backend_threads FROM rerank.blas_info();
-- deterministic: the same data, arguments and seed give the same booster
-- (holdout_lists adds held-out groups only, drawn after the trained ones)
SET client_min_messages = warning;
CALL rerank.train_ranker('ltr_b', 'ltr.log', event_type_column => 'kind', time_column => 'at',
                         negatives => 6, trees => 12, max_depth => 3,
                         options => '{"warm_up": "1 hour", "holdout_lists": "all"}');
RESET client_min_messages;
SELECT a.booster = b.booster AS same_booster
  FROM rerank.rankers a, rerank.rankers b
 WHERE a.model_id = rerank.model_id('ltr_a') AND b.model_id = rerank.model_id('ltr_b');
-- another negative mix: recorded in params; the uniform held-out groups are
-- the same candidates whatever the mix (the blend scores them alike)
SET client_min_messages = warning;
CALL rerank.train_ranker('ltr_mix', 'ltr.log', event_type_column => 'kind', time_column => 'at',
                         negatives => 6, trees => 12, max_depth => 3,
                         options => '{"warm_up": "1 hour", "negative_mix": {"category": 1, "uniform": 3}, "holdout_lists": "all"}');
RESET client_min_messages;
SELECT a.params -> 'negative_mix' AS default_mix, b.params -> 'negative_mix' AS mix,
       a.metrics -> 'evaluation' -> 'holdout_uniform' ->> 'candidates' AS candidates,
       (a.metrics -> 'evaluation' -> 'holdout_uniform' ->> 'groups')::int AS uniform_groups,
       (a.metrics -> 'evaluation' ->> 'groups')::int AS held_out_groups,
       (a.metrics -> 'evaluation' -> 'holdout_uniform' -> 'ranker' ->> 'ndcg_at_10')::float8
           BETWEEN 0 AND 1 AS uniform_ndcg_ok,
       a.metrics -> 'evaluation' -> 'holdout_uniform' -> 'blend'
           = b.metrics -> 'evaluation' -> 'holdout_uniform' -> 'blend' AS same_uniform_blend,
       ra.booster <> rb.booster AS other_booster
  FROM rerank.models a JOIN rerank.rankers ra USING (model_id),
       rerank.models b JOIN rerank.rankers rb USING (model_id)
 WHERE a.name = 'ltr_a' AND b.name = 'ltr_mix';
-- the held-out groups of the popularity and category generators (holdout_lists
-- "all"; none by default): the same events, 100 candidates, the same
-- candidates whatever the mix
SELECT k AS kind, a.params ->> 'holdout_lists' AS lists,
       d.params ->> 'holdout_lists' AS default_lists,
       d.metrics -> 'evaluation' ? ('holdout_' || k) AS in_default, a.metrics -> 'evaluation' -> ('holdout_' || k) ->> 'candidates' AS candidates,
       (a.metrics -> 'evaluation' -> ('holdout_' || k) ->> 'groups')::int
           <= (a.metrics -> 'evaluation' -> 'holdout_uniform' ->> 'groups')::int AS at_most_uniform,
       (a.metrics -> 'evaluation' -> ('holdout_' || k) ->> 'groups')::int > 0 AS some_groups,
       (a.metrics -> 'evaluation' -> ('holdout_' || k) -> 'ranker' ->> 'ndcg_at_10')::float8
           BETWEEN 0 AND 1 AS ndcg_ok,
       a.metrics -> 'evaluation' -> ('holdout_' || k) -> 'blend'
           = b.metrics -> 'evaluation' -> ('holdout_' || k) -> 'blend' AS same_blend,
       a.metrics -> 'evaluation' -> ('holdout_' || k) -> 'blend'
           <> a.metrics -> 'evaluation' -> 'holdout_uniform' -> 'blend' AS other_candidates
  FROM rerank.models a, rerank.models b, rerank.models d, unnest(ARRAY['popularity', 'category']) k
 WHERE a.name = 'ltr_b' AND b.name = 'ltr_mix' AND d.name = 'ltr_a';
-- holdout_lists is "uniform" or "all"
CALL rerank.train_ranker('ltr_bad', 'ltr.log', event_type_column => 'kind', time_column => 'at',
                         options => '{"holdout_lists": "category"}');
SELECT rerank.drop_model('ltr_mix');
-- a name in use: an error without replace
CALL rerank.train_ranker('ltr_a', 'ltr.log', event_type_column => 'kind', time_column => 'at');

-- ---- serving ----
-- the user as of the group :g above (the tables hold the events before it)
SELECT ARRAY(SELECT item_id FROM ltr.ex WHERE group_id = :g ORDER BY item_id) AS cands \gset
CREATE TEMP TABLE blend AS
SELECT array_agg(score ORDER BY item_id) AS scores FROM rerank.rerank(:u, :'cands', as_of => :'t');
SELECT rerank.activate_model('ltr_a');
SELECT rerank.active_model() AS factor_model, rerank.active_ranker() AS ranker;
SELECT name, algorithm, is_active FROM rerank.model_versions ORDER BY name;
-- rerank() now scores by the forest: other scores than the blend's, each
-- equal to explain()'s, whose contributions (TreeSHAP) and bias add up to it
CREATE TEMP TABLE ranked AS SELECT * FROM rerank.rerank(:u, :'cands', as_of => :'t');
SELECT array_agg(score ORDER BY item_id) <> (SELECT scores FROM blend) AS other_scores FROM ranked;
SELECT count(*) AS explained,
       count(*) FILTER (WHERE abs(e.score - r.score) < 1e-6) AS same_score,
       count(*) FILTER (WHERE abs(e.total - r.score) < 1e-4) AS adds_up
  FROM ranked r,
       LATERAL (SELECT max(value) FILTER (WHERE term = 'score') AS score,
                       sum(contribution) FILTER (WHERE term <> 'score' AND term NOT LIKE '%:%') AS total
                  FROM rerank.explain(:u, r.item_id, as_of => :'t')) e;
-- the model term's split over the history shares its contribution
SELECT count(*) AS splits,
       count(*) FILTER (WHERE abs(parts - whole) < 1e-6) AS shares_add_up
  FROM (SELECT r.item_id,
               max(e.contribution) FILTER (WHERE e.term = 'model_score') AS whole,
               sum(e.contribution) FILTER (WHERE e.term LIKE 'model_score:%') AS parts
          FROM ranked r, rerank.explain(:u, r.item_id, as_of => :'t') e GROUP BY r.item_id) s
 WHERE parts IS NOT NULL;
SELECT term FROM rerank.explain(:u, (:'cands'::bigint[])[1], as_of => :'t')
 WHERE term NOT LIKE '%:%' ORDER BY term COLLATE "C" LIMIT 3;
-- blend arguments, a model argument or rerank.ranker = 'none' mean the blend
SELECT array_agg(score ORDER BY item_id) = (SELECT scores FROM blend) AS blend_with_args
  FROM rerank.rerank(:u, :'cands', model_weight => 1, as_of => :'t');
SET rerank.ranker = 'none';
SELECT array_agg(score ORDER BY item_id) = (SELECT scores FROM blend) AS blend_with_none
  FROM rerank.rerank(:u, :'cands', as_of => :'t');
SET rerank.ranker = 'ltr_b';
SELECT array_agg(r.score ORDER BY r.item_id) = (SELECT array_agg(score ORDER BY item_id) FROM ranked)
       AS named_ranker_same FROM rerank.rerank(:u, :'cands', as_of => :'t') r;
-- rerank()'s own impressions, when asked for: every call here, 3 places each;
-- none in a read-only transaction, and no error there
SET rerank.impression_log_rate = 1;
SET rerank.impression_log_depth = 3;
SELECT count(*) FROM rerank.rerank(:u, :'cands', as_of => :'t');
SELECT count(*) FROM rerank.rerank_ids(:u, :'cands', as_of => :'t') r;
BEGIN READ ONLY;
SELECT count(*) FROM rerank.rerank(:u, :'cands', as_of => :'t');
COMMIT;
SELECT count(*) AS impressions, count(DISTINCT page_id) AS pages,
       array_agg(position ORDER BY page_id, position) AS positions,
       bool_and(user_id = :u AND shown_at = :'t') AS user_and_time,
       (SELECT array_agg(item_id ORDER BY rank) FROM ranked WHERE rank <= 3)
       = (SELECT array_agg(item_id ORDER BY position) FROM rerank.impressions
           WHERE page_id = (SELECT min(page_id) FROM rerank.impressions)) AS first_three
  FROM rerank.impressions;
RESET rerank.impression_log_rate;
RESET rerank.impression_log_depth;
SELECT count(*) FROM rerank.rerank(:u, :'cands', as_of => :'t');
SELECT count(*) AS still FROM rerank.impressions;
TRUNCATE rerank.impressions;
SET rerank.ranker = 'nope';
SELECT count(*) FROM rerank.rerank(:u, :'cands', as_of => :'t');
SET rerank.ranker = 'fm';
SELECT count(*) FROM rerank.rerank(:u, :'cands', as_of => :'t');
RESET rerank.ranker;
-- over a user-kNN factor model: the forest scores with the neighbors'
-- model_score (and no recent_similarity, which user-kNN has not), every
-- score equal to explain()'s and its contributions adding up to it
SET client_min_messages = warning;
CREATE VIEW ltr.live_items AS SELECT user_id, item_id FROM ltr.live WHERE item_id IS NOT NULL;
CALL rerank.train_user_knn('ltr_uk', 'ltr.live_items', neighbors => 5);
RESET client_min_messages;
SELECT rerank.activate_model('ltr_uk');
SELECT rerank.active_model() AS factor_model, rerank.active_ranker() AS ranker;
CREATE TEMP TABLE ranked_uk AS SELECT * FROM rerank.rerank(:u, :'cands', as_of => :'t');
SELECT count(*) AS explained,
       count(*) FILTER (WHERE abs(e.score - r.score) < 1e-6) AS same_score,
       count(*) FILTER (WHERE abs(e.total - r.score) < 1e-4) AS adds_up,
       count(*) FILTER (WHERE e.model_score IS NOT NULL) > 0 AS with_model_score,
       count(*) FILTER (WHERE e.model_score IS DISTINCT FROM f.value) AS model_score_as_features,
       count(*) FILTER (WHERE e.model_score IS DISTINCT FROM fm.value) > 0 AS not_fm_scores
  FROM ranked_uk r,
       LATERAL (SELECT max(value) FILTER (WHERE term = 'score') AS score,
                       max(value) FILTER (WHERE term = 'model_score') AS model_score,
                       sum(contribution) FILTER (WHERE term <> 'score' AND term NOT LIKE '%:%') AS total
                  FROM rerank.explain(:u, r.item_id, as_of => :'t')) e,
       LATERAL (SELECT c.value FROM rerank.candidate_features(:u, ARRAY[r.item_id], as_of => :'t') c
                 WHERE c.feature = 'model_score') f,
       LATERAL (SELECT c.value FROM rerank.candidate_features(:u, ARRAY[r.item_id], as_of => :'t', model => 'fm') c
                 WHERE c.feature = 'model_score') fm;
-- serving a ranker leaves the backend with one thread too
SELECT backend_threads FROM rerank.blas_info();
SELECT rerank.rollback_model();
SELECT rerank.drop_model('ltr_uk');

-- ---- activation, rollback, replace, drop ----
SELECT rerank.activate_model('ltr_b');
SELECT rerank.active_ranker(), rerank.active_model();
SELECT rerank.rollback_ranker();
SELECT rerank.active_ranker(), rerank.active_model();
SELECT rerank.rollback_ranker();
SELECT rerank.rollback_model();
SELECT rerank.deactivate_ranker();
SELECT rerank.active_ranker(), rerank.active_model();
SELECT array_agg(score ORDER BY item_id) = (SELECT scores FROM blend) AS blend_again FROM rerank.rerank(:u, :'cands', as_of => :'t');
SELECT rerank.rollback_ranker();
-- a ranker of another features version is neither activated nor served
UPDATE rerank.rankers SET features_version = 999 WHERE model_id = rerank.model_id('ltr_b');
SELECT rerank.activate_model('ltr_b');
SET rerank.ranker = 'ltr_b';
SELECT array_agg(score ORDER BY item_id) = (SELECT scores FROM blend) AS blend_instead FROM rerank.rerank(:u, :'cands', as_of => :'t');
RESET rerank.ranker;
UPDATE rerank.rankers SET features_version = rerank.features_version() WHERE model_id = rerank.model_id('ltr_b');
-- retraining in place keeps the id and the activation
SELECT rerank.activate_model('ltr_a');
SELECT model_id AS a_id FROM rerank.models WHERE name = 'ltr_a' \gset
SET client_min_messages = warning;
CALL rerank.train_ranker('ltr_a', 'ltr.log', event_type_column => 'kind', time_column => 'at',
                         negatives => 4, trees => 5, max_depth => 2, replace => true,
                         options => '{"warm_up": "1 hour"}');
RESET client_min_messages;
SELECT model_id = :a_id AS same_id, is_active, (params ->> 'trees')::int AS trees,
       (SELECT count(*) FROM rerank.rankers r WHERE r.model_id = m.model_id) AS boosters
  FROM rerank.models m WHERE name = 'ltr_a';
SELECT array_agg(r.score ORDER BY r.item_id) <> (SELECT array_agg(score ORDER BY item_id) FROM ranked)
       AS new_forest_served FROM rerank.rerank(:u, :'cands', as_of => :'t') r;
SELECT rerank.drop_model('ltr_a');
SELECT rerank.drop_model('ltr_a', force => true);
SELECT rerank.active_ranker(), rerank.active_model();
SELECT count(*) AS boosters FROM rerank.rankers;

SELECT rerank.detach('ltr.live');
TRUNCATE rerank.user_features, rerank.item_stats, rerank.item_covisits;
DELETE FROM rerank.user_factors;

-- ---- point in time: a feature never sees a later event ----
-- Events planted right after a group's event, on that group's candidates,
-- by its user and by others (re-visits, popularity, co-visitation, the
-- session would all change if a feature looked ahead) leave the rows of
-- that group and of every earlier group as they were, and do change a
-- later group of the same user: the plant is visible to what comes after.
SELECT group_id AS pg, user_id AS pu, occurred_at AS pt FROM ltr.ex
 WHERE source = 'event' AND group_id = (SELECT max(group_id) / 2 FROM ltr.ex) \gset
CREATE TABLE ltr.plant AS
SELECT :pu::bigint AS user_id, x.item_id, 'cart' AS kind, :'pt'::timestamptz + interval '1 millisecond' AS at
  FROM ltr.ex x WHERE x.group_id = :pg
UNION ALL
SELECT 100 + k, x.item_id, 'view', :'pt'::timestamptz + k * interval '1 millisecond' + interval '2 milliseconds'
  FROM ltr.ex x, generate_series(1, 20) k WHERE x.group_id = :pg;
INSERT INTO ltr.log SELECT * FROM ltr.plant;
CREATE TABLE ltr.ex2 AS
SELECT * FROM pg_temp.examples(options => '{"stats_every": 0, "covisit_every": 0}')
    AS (group_id int, user_id bigint, occurred_at timestamptz, item_id bigint, source text,
        label real, features real[]);
SELECT count(*) AS rows_up_to_the_plant,
       count(*) FILTER (WHERE b.features IS DISTINCT FROM a.features) AS changed
  FROM ltr.ex a LEFT JOIN ltr.ex2 b USING (group_id, item_id)
 WHERE a.occurred_at <= :'pt';
SELECT count(*) > 0 AS later_rows_changed
  FROM ltr.ex a JOIN ltr.ex2 b ON b.occurred_at = a.occurred_at AND b.user_id = a.user_id
                              AND b.item_id = a.item_id
 WHERE a.occurred_at > :'pt' AND a.user_id = :pu AND b.features IS DISTINCT FROM a.features;
DELETE FROM ltr.log l USING ltr.plant p
 WHERE l.user_id = p.user_id AND l.item_id = p.item_id AND l.at = p.at;

-- ---- bad inputs: clear errors, the registry unchanged ----
CREATE TEMP TABLE registry AS SELECT * FROM rerank.models;
CREATE TABLE ltr.empty (LIKE ltr.log);
CREATE TABLE ltr.solo AS SELECT * FROM ltr.log WHERE user_id = 1;
CREATE TABLE ltr.unknown AS SELECT user_id, item_id, 'hover' AS kind, at FROM ltr.log;
CALL rerank.train_ranker('bad', 'ltr.empty', event_type_column => 'kind', time_column => 'at');
CALL rerank.train_ranker('bad', 'ltr.solo', event_type_column => 'kind', time_column => 'at');
CALL rerank.train_ranker('bad', 'ltr.unknown', event_type_column => 'kind', time_column => 'at');
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'nope');
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'item_id');
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind');
CALL rerank.train_ranker('bad', 'pg_catalog.pg_class', time_column => 'at');
CALL rerank.train_ranker('bad', time_column => 'at');
CALL rerank.train_ranker('bad');
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at',
                         since => '2026-03-05', until => '2026-03-01');
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at',
                         since => '2027-01-01');
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at',
                         users => 0.001);
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at',
                         options => '{"warm_up": "1 year"}');
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at', negatives => 0);
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at', max_groups => 0);
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at', users => 1.5);
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at', users => 'NaN');
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at', holdout => 0.9);
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at', trees => 0);
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at', max_depth => 99);
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at', learning_rate => 0);
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at', options => '{"nope": 1}');
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at', options => '{"warm_up": "soon"}');
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at', options => '{"subsample": "half"}');
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at', options => '[1, 2]');
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at', options => '{"objective": "reg:squarederror"}');
-- negative_mix's bad shares, each with its SQLSTATE
CREATE FUNCTION pg_temp.mix_error(mix jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at',
                             options => jsonb_build_object('negative_mix', mix));
    RETURN 'no error';
EXCEPTION WHEN others THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT m AS negative_mix, pg_temp.mix_error(m::jsonb) AS error
  FROM unnest(ARRAY['0.5', '[0.5]', '{"popular": -1, "uniform": 2}',
                    '{"popular": 0, "category": 0, "uniform": 0}', '{}',
                    '{"uniform": "half"}', '{"uniform": null}', '{"random": 1}',
                    '{"uniform": 1e400}']) m;
CALL rerank.train_ranker('fm', 'ltr.log', event_type_column => 'kind', time_column => 'at');
CALL rerank.train_ranker('', 'ltr.log', event_type_column => 'kind', time_column => 'at');
CALL rerank.train_ranker(NULL, 'ltr.log', event_type_column => 'kind', time_column => 'at');
CALL rerank.train_ranker('bad', 'ltr.log', event_type_column => 'kind', time_column => 'at', trees => NULL);
SELECT * FROM rerank.ranker_examples('ltr.log', time_column => 'at', negatives => 1001);
SELECT (SELECT count(*) FROM (SELECT * FROM rerank.models EXCEPT SELECT * FROM registry) d) AS changed,
       (SELECT count(*) FROM rerank.models) = (SELECT count(*) FROM registry) AS same_count,
       (SELECT count(*) FROM rerank.rankers) AS boosters;

-- ---- impressions ----
-- pages shown to users before some of their events: the items they then
-- touched within 30 minutes are the positives, the others real negatives
CREATE TABLE ltr.shown (uid bigint, iid bigint, ts timestamptz, pos int, page bigint);
INSERT INTO ltr.shown
SELECT l.user_id, c.item_id, l.at - interval '1 minute', c.n, l.page
  FROM (SELECT *, row_number() OVER (ORDER BY at) AS page FROM ltr.log
         WHERE (user_id + extract(minute FROM at)::int) % 4 = 0) l,
       LATERAL (SELECT item_id, row_number() OVER (ORDER BY item_id) AS n
                  FROM (SELECT l.item_id UNION SELECT 1 + ((l.item_id + 6 * k) % 60) FROM generate_series(1, 5) k) s) c
 WHERE l.item_id IS NOT NULL;
SELECT rerank.attach_impressions('ltr.shown', 'uid', 'iid', 'nope', 'pos');
SELECT rerank.attach_impressions('ltr.shown', 'uid', 'iid', 'pos', 'pos');
SELECT rerank.attach_impressions('ltr.shown', 'uid', 'iid', 'ts', 'pos', page_column => 'page');
CREATE TABLE ltr.imp AS
SELECT * FROM rerank.ranker_examples('ltr.log', event_type_column => 'kind', time_column => 'at',
                                     impressions => 'ltr.shown', options => '{"warm_up": 0}');
SELECT count(DISTINCT group_id) AS pages, bool_and(source = 'shown') AS shown,
       sum(label)::int AS clicks, count(*) AS impressions,
       bool_and(features[24] IS NOT NULL) AS positions_known
  FROM ltr.imp;
-- every label is a click: a positive event of the user on the item within 30 minutes
SELECT count(*) AS wrong_labels FROM ltr.imp x
 WHERE (x.label = 1) <> EXISTS (SELECT FROM ltr.log l JOIN rerank.event_weights w ON w.event_type = l.kind
                                 WHERE l.user_id = x.user_id AND l.item_id = x.item_id AND w.weight > 0
                                   AND l.at > x.occurred_at AND l.at <= x.occurred_at + interval '30 minutes');
SET client_min_messages = warning;
CALL rerank.train_ranker('ltr_imp', 'ltr.log', event_type_column => 'kind', time_column => 'at',
                         impressions => 'ltr.shown', trees => 5, options => '{"warm_up": 0}');
RESET client_min_messages;
SELECT (metrics -> 'training' ->> 'impressions')::int > 0 AS learned_from_impressions
  FROM rerank.models WHERE name = 'ltr_imp';
SELECT rerank.detach_impressions('ltr.shown');

-- leave the database as the other tests expect it
SELECT count(rerank.drop_model(name, force => true)) AS dropped FROM rerank.models
 WHERE name IN ('fm', 'ltr_b', 'ltr_imp');
DELETE FROM rerank.items WHERE item_id BETWEEN 1 AND 60;
SET client_min_messages = warning;
DROP SCHEMA ltr CASCADE;
RESET client_min_messages;
