-- Real-time behavior: the trigger on a shop's own event table updates the
-- user's features and re-solves the user's vector by fold-in, in the same
-- transaction; statement form, rebuild, forget_user, policies, bad input.
SET extra_float_digits = 0;
\set SHOW_CONTEXT never

CREATE SCHEMA shop;
CREATE TABLE shop.events (
    event_id bigserial PRIMARY KEY,
    user_id bigint,
    item_id integer,
    event_type text,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    dwell_ms integer
);

-- A check of the stored vector against the normal equations, computed here
-- independently of the C solver: (YᵀY + λI + Σ α·r·y yᵀ) x = Σ (1 + α·r) y,
-- with YᵀY taken from the item vectors themselves.  Returns the relative
-- residual ‖Ax − b‖ / ‖b‖.
CREATE FUNCTION pg_temp.residual(uid bigint, model_name text) RETURNS double precision
LANGUAGE sql AS $$
WITH m AS (
    SELECT model_id, dimensions AS k,
           coalesce((params->>'regularization')::float8, 0.1) AS lambda,
           coalesce((params->>'alpha')::float8, 1.0) AS alpha
      FROM rerank.models WHERE name = model_name),
x AS (SELECT u.factors FROM rerank.user_factors u, m
       WHERE u.model_id = m.model_id AND u.user_id = uid),
h AS (SELECT f.item_id, f.r FROM rerank.user_features uf,
             unnest(uf.recent_items, uf.recent_weights) AS f(item_id, r)
       WHERE uf.user_id = uid AND f.r > 0),
hy AS (SELECT h.r, i.factors AS y FROM h, m, rerank.item_factors i
        WHERE i.model_id = m.model_id AND i.item_id = h.item_id),
ax AS (SELECT d, sum(v) AS v FROM (
         SELECT d, i.factors[d]::float8 * rerank.dot(i.factors, x.factors) AS v
           FROM m, x, rerank.item_factors i, generate_series(1, m.k) d
          WHERE i.model_id = m.model_id
         UNION ALL
         SELECT d, m.lambda * x.factors[d] FROM m, x, generate_series(1, m.k) d
         UNION ALL
         SELECT d, m.alpha * hy.r * hy.y[d] * rerank.dot(hy.y, x.factors)
           FROM m, x, hy, generate_series(1, m.k) d) s
        GROUP BY d),
b AS (SELECT d, sum((1 + m.alpha * hy.r) * hy.y[d]) AS v
        FROM m, hy, generate_series(1, m.k) d GROUP BY d)
SELECT sqrt(sum((ax.v - b.v) ^ 2)) / nullif(sqrt(sum(b.v ^ 2)), 0)
  FROM ax JOIN b USING (d)
$$;


-- attach validates the mapping against the table
SELECT rerank.attach('shop.events', time_column => 'occurred_at', dwell_column => 'dwell_ms');
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'shop.events'::regclass;
SELECT rerank.attach('shop.events');
SELECT rerank.attach('shop.events', user_column => 'customer');
SELECT rerank.attach('shop.events', item_column => 'event_type');
SELECT rerank.attach('shop.events', event_type_column => 'user_id');
SELECT rerank.attach('shop.events', time_column => 'dwell_ms');
SELECT rerank.attach('shop.events', dwell_column => 'event_type');
SELECT rerank.attach('shop.events', user_column => 'ctid');
SELECT rerank.attach('shop.events', event_type_column => 'event_type', event_type => 'view');
SELECT rerank.attach('shop.events', event_type => '');
SELECT rerank.attach('shop.events', for_each => 'each');
SELECT rerank.attach('shop.events', user_column => NULL);
SELECT rerank.attach(NULL);
CREATE VIEW shop.events_view AS SELECT * FROM shop.events;
SELECT rerank.attach('shop.events_view');
SELECT rerank.check_event_columns('shop.events', 'user_id', 'item_id', NULL, 'nope', NULL, NULL);

-- no active model: only the features are kept
INSERT INTO shop.events (user_id, item_id, event_type, dwell_ms)
VALUES (1, 10, 'view', 1500), (1, 11, 'click', 200), (1, 10, 'purchase', NULL),
       (2, 10, 'view', -5);
SELECT user_id, event_counts, total_dwell_ms, recent_items, recent_weights,
       purchased_items, category_weights, first_event_at <= last_event_at AS times_ok
  FROM rerank.user_features ORDER BY user_id;
SELECT count(*) AS vectors FROM rerank.user_factors;

-- policies: an unknown or NULL event type is counted under "other" and not
-- learned from; a NULL item counts the event only; a NULL user is not tracked
INSERT INTO shop.events (user_id, item_id, event_type)
VALUES (2, 12, 'share'), (2, 13, NULL), (2, NULL, 'view'), (NULL, 14, 'view');
SELECT user_id, event_counts, recent_items, recent_weights
  FROM rerank.user_features WHERE user_id = 2;
SELECT count(*) AS users FROM rerank.user_features;

-- event weights: edits apply at once (the backend's cache is invalidated);
-- weight 0 counts without learning; categories accumulate weight
INSERT INTO rerank.event_weights (event_type, weight) VALUES ('share', 5);
UPDATE rerank.event_weights SET weight = 0 WHERE event_type = 'click';
INSERT INTO rerank.items (item_id, category, brand) VALUES (20, 'shoes', 'acme'), (21, 'hats', 'acme');
INSERT INTO shop.events (user_id, item_id, event_type)
VALUES (3, 20, 'share'), (3, 21, 'click'), (3, 21, 'view'), (3, 20, 'cart');
SELECT event_counts, recent_items, recent_weights, category_weights
  FROM rerank.user_features WHERE user_id = 3;
DELETE FROM rerank.event_weights WHERE event_type = 'share';
UPDATE rerank.event_weights SET weight = 2 WHERE event_type = 'click';

-- an active model: every event re-solves the user's vector
SELECT rerank.create_model('rt', 4, params => '{"regularization": 0.5, "alpha": 2}') > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('rt'), i,
       ARRAY[sin(i), cos(i), sin(2 * i) / 2, cos(3 * i) / 3]::real[]
  FROM generate_series(1, 200) i;
SELECT rerank.activate_model('rt');
INSERT INTO shop.events (user_id, item_id, event_type)
SELECT 4, (i * 37) % 150 + 1, (ARRAY['view', 'click', 'cart', 'view', 'purchase'])[i % 5 + 1]
  FROM generate_series(1, 60) i;
SELECT cardinality(recent_items) AS history, event_counts
  FROM rerank.user_features WHERE user_id = 4;
SELECT pg_temp.residual(4, 'rt') < 1e-5 AS vector_solves_normal_equations;

-- the user who had events before activation gets a vector at the next one
SELECT count(*) AS user1_vectors FROM rerank.user_factors WHERE user_id = 1;
INSERT INTO shop.events (user_id, item_id, event_type) VALUES (1, 12, 'view');
SELECT pg_temp.residual(1, 'rt') < 1e-5 AS user1_ok;

-- items without vectors stay in the history but are skipped by the fold-in
INSERT INTO shop.events (user_id, item_id, event_type) VALUES (1, 999, 'cart');
SELECT recent_items[1] AS newest FROM rerank.user_features WHERE user_id = 1;
SELECT pg_temp.residual(1, 'rt') < 1e-5 AS user1_still_ok;
-- a history with no known item leaves the vector alone (none here)
INSERT INTO shop.events (user_id, item_id, event_type) VALUES (5, 998, 'view');
SELECT count(*) AS user5_vectors FROM rerank.user_factors WHERE user_id = 5;

-- the history cap (rerank.history_size): the most recent distinct items
SET rerank.history_size = 5;
INSERT INTO shop.events (user_id, item_id, event_type)
SELECT 6, i, 'view' FROM generate_series(1, 8) i;
INSERT INTO shop.events (user_id, item_id, event_type) VALUES (6, 5, 'cart');
SELECT recent_items, recent_weights FROM rerank.user_features WHERE user_id = 6;
SELECT pg_temp.residual(6, 'rt') < 1e-5 AS capped_ok;
-- lowering the cap applies at the user's next event
SET rerank.history_size = 2;
INSERT INTO shop.events (user_id, item_id, event_type) VALUES (6, 1, 'view');
SELECT recent_items, recent_weights FROM rerank.user_features WHERE user_id = 6;
RESET rerank.history_size;
SET rerank.purchase_history_size = 2;
INSERT INTO shop.events (user_id, item_id, event_type)
VALUES (6, 1, 'purchase'), (6, 2, 'purchase'), (6, 3, 'purchase'), (6, 1, 'purchase');
SELECT purchased_items FROM rerank.user_features WHERE user_id = 6;
RESET rerank.purchase_history_size;
SET rerank.history_size = 100001;
SET rerank.history_size = -1;

-- rerank.realtime_fold_in = off keeps features only; fold_in_users catches up
SET rerank.realtime_fold_in = off;
CREATE TEMP TABLE before AS SELECT factors FROM rerank.user_factors WHERE user_id = 4;
INSERT INTO shop.events (user_id, item_id, event_type) VALUES (4, 7, 'purchase');
SELECT u.factors = b.factors AS unchanged, f.recent_items[1] AS newest
  FROM rerank.user_factors u, before b, rerank.user_features f
 WHERE u.user_id = 4 AND f.user_id = 4;
RESET rerank.realtime_fold_in;
SELECT rerank.fold_in_users(now() - interval '1 hour') > 0 AS folded;
SELECT pg_temp.residual(4, 'rt') < 1e-5 AS caught_up;
-- NULL: every stored user; a cut-off after every change: none
SELECT rerank.fold_in_users() AS all_users, rerank.fold_in_users('infinity') AS none,
       (SELECT count(*) FROM rerank.user_features) AS stored_users;

-- a rolled-back insert leaves no trace
SELECT event_counts AS counts_before FROM rerank.user_features WHERE user_id = 4 \gset
BEGIN;
INSERT INTO shop.events (user_id, item_id, event_type) VALUES (4, 8, 'cart'), (77, 8, 'cart');
ROLLBACK;
SELECT event_counts = :'counts_before' AS counts_unchanged FROM rerank.user_features WHERE user_id = 4;
SELECT count(*) AS user77 FROM rerank.user_features WHERE user_id = 77;
SELECT pg_temp.residual(4, 'rt') < 1e-5 AS vector_unchanged;

-- COPY goes through a statement trigger
SELECT rerank.detach('shop.events');
SELECT rerank.attach('shop.events', time_column => 'occurred_at',
                     dwell_column => 'dwell_ms', for_each => 'statement');
SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'shop.events'::regclass;
COPY shop.events (user_id, item_id, event_type, dwell_ms) FROM stdin;
8	1	view	10
8	2	click	20
9	1	cart	\N
8	1	purchase	5
\.
SELECT user_id, event_counts, total_dwell_ms, recent_items, recent_weights, purchased_items
  FROM rerank.user_features WHERE user_id IN (8, 9) ORDER BY user_id;
SELECT pg_temp.residual(8, 'rt') < 1e-5 AS copy_ok;
SELECT rerank.rebuild_user_features('shop.events', time_column => 'occurred_at',
                                    replace => false, fold_in => false) > 0 AS rebuilt;
-- replace => false adds the table's rows again: counts double
SELECT event_counts FROM rerank.user_features WHERE user_id = 8;
SELECT rerank.rebuild_user_features('shop.events', user_column => 'nope');
SELECT rerank.rebuild_user_features(NULL);

-- A stream of events for users 100..109, through the row trigger, then the
-- same rows through the statement trigger, then rebuilt from the table: the
-- three give the same features and vectors, the history is a replay of the
-- events, the vectors solve their normal equations.
CREATE TABLE shop.stream (event_id bigserial, user_id bigint, item_id bigint,
                          event_type text, occurred_at timestamptz, dwell_ms integer);
CREATE TEMP TABLE generated AS
SELECT i AS seq, 100 + (i * 7) % 10 AS user_id, (i * 31) % 220 + 1 AS item_id,
       (ARRAY['view', 'click', 'view', 'cart', 'favorite', 'purchase', 'view', 'share'])[(i * 3 + i / 7) % 8 + 1] AS event_type,
       '2024-03-01'::timestamptz + i * interval '1 minute' AS occurred_at,
       (i * 13) % 5000 AS dwell_ms
  FROM generate_series(1, 400) i;
INSERT INTO rerank.items SELECT i, 'c' || (i % 7), NULL FROM generate_series(1, 220, 2) i
ON CONFLICT DO NOTHING;
CREATE FUNCTION pg_temp.expected_history(uid bigint, OUT items bigint[], OUT weights real[])
LANGUAGE sql AS $$
SELECT array_agg(item_id ORDER BY last_touch DESC), array_agg(w ORDER BY last_touch DESC)
  FROM (SELECT e.item_id, sum(w.weight)::real AS w, max(e.event_id) AS last_touch
          FROM shop.stream e JOIN rerank.event_weights w USING (event_type)
         WHERE e.user_id = uid AND e.item_id IS NOT NULL AND w.weight > 0
         GROUP BY e.item_id) s
$$;
CREATE VIEW pg_temp.stream_state AS
SELECT f.user_id, f.event_counts, f.total_dwell_ms, f.first_event_at, f.last_event_at,
       f.recent_items, f.recent_weights, f.purchased_items, f.category_weights, u.factors
  FROM rerank.user_features f
  LEFT JOIN rerank.user_factors u ON u.user_id = f.user_id AND u.model_id = rerank.model_id('rt')
 WHERE f.user_id BETWEEN 100 AND 109;

SELECT rerank.attach('shop.stream', time_column => 'occurred_at', dwell_column => 'dwell_ms');
INSERT INTO shop.stream (user_id, item_id, event_type, occurred_at, dwell_ms)
SELECT user_id, item_id, event_type, occurred_at, dwell_ms FROM generated ORDER BY seq;
SELECT count(*) AS users,
       bool_and((SELECT h.items = recent_items AND h.weights = recent_weights
                   FROM pg_temp.expected_history(user_id) h)) AS histories_match,
       count(factors) AS with_vectors,
       bool_and(pg_temp.residual(user_id, 'rt') < 1e-5) AS vectors_solve,
       sum((SELECT sum(c.value::int) FROM jsonb_each_text(event_counts) c)) AS events,
       sum(total_dwell_ms) = (SELECT sum(dwell_ms) FROM generated) AS dwell_ok,
       bool_and(category_weights = coalesce((
           SELECT jsonb_object_agg(category, w) FROM (
               SELECT i.category, sum(w.weight) AS w
                 FROM shop.stream e JOIN rerank.event_weights w USING (event_type)
                 JOIN rerank.items i USING (item_id)
                WHERE e.user_id = s.user_id AND w.weight > 0 GROUP BY i.category) c),
           '{}')) AS categories_match,
       count(*) FILTER (WHERE category_weights <> '{}') AS with_categories
  FROM pg_temp.stream_state s;
-- the stored vectors are the fold-in of the stored histories, to the bit
SELECT bool_and(factors = rerank.fold_in_history(recent_items, recent_weights, 'rt')) AS same_as_batch,
       bool_and(factors = rerank.fold_in_history(recent_items, recent_weights)) AS active_model
  FROM pg_temp.stream_state;
CREATE TEMP TABLE row_form AS SELECT * FROM pg_temp.stream_state;

-- fold_in_history: bad input and degenerate cases
SELECT rerank.fold_in_history('{1,2}', '{1}');
SELECT rerank.fold_in_history('{1,NULL}', '{1,1}');
SELECT rerank.fold_in_history('{{1,2}}', '{1,1}');
SELECT rerank.fold_in_history('{1,2}', '{1,NULL}');
SELECT rerank.fold_in_history('{1,2}', '{1,-1}');
SELECT rerank.fold_in_history('{1,2}', '{1,NaN}');
SELECT rerank.fold_in_history('{1}', '{1}', 'nope');
SELECT rerank.fold_in_history('{}', '{}') IS NULL AS empty_is_null,
       rerank.fold_in_history('{5000,5001}', '{1,1}') IS NULL AS unknown_items_null,
       rerank.fold_in_history('{1,5000}', '{1,1}') = rerank.fold_in_history('{1}', '{1}') AS unknown_skipped,
       rerank.fold_in_history('{1,2}', '{1,0}') = rerank.fold_in_history('{1}', '{1}') AS zero_weight_skipped,
       rerank.fold_in_history(NULL, '{1}') IS NULL AS null_is_null;

SELECT count(*) FILTER (WHERE rerank.forget_user(u)) AS forgotten FROM generate_series(100, 109) u;
SELECT rerank.detach('shop.stream');
SELECT rerank.attach('shop.stream', time_column => 'occurred_at', dwell_column => 'dwell_ms',
                     for_each => 'statement');
TRUNCATE shop.stream;
INSERT INTO shop.stream (user_id, item_id, event_type, occurred_at, dwell_ms)
SELECT user_id, item_id, event_type, occurred_at, dwell_ms FROM generated ORDER BY seq;
SELECT count(*) AS statement_vs_row_differences FROM (
    (SELECT * FROM pg_temp.stream_state EXCEPT SELECT * FROM row_form)
    UNION ALL
    (SELECT * FROM row_form EXCEPT SELECT * FROM pg_temp.stream_state)) d;

SELECT count(*) FILTER (WHERE rerank.forget_user(u)) AS forgotten FROM generate_series(100, 109) u;
SELECT rerank.rebuild_user_features('shop.stream', time_column => 'occurred_at',
                                    dwell_column => 'dwell_ms') AS rebuilt_users;
SELECT count(*) AS rebuild_vs_row_differences FROM (
    (SELECT * FROM pg_temp.stream_state EXCEPT SELECT * FROM row_form)
    UNION ALL
    (SELECT * FROM row_form EXCEPT SELECT * FROM pg_temp.stream_state)) d;

-- a capped history: still the same in all three forms
SET rerank.history_size = 7;
TRUNCATE shop.stream;
SELECT count(*) FILTER (WHERE rerank.forget_user(u)) AS forgotten FROM generate_series(100, 109) u;
INSERT INTO shop.stream (user_id, item_id, event_type, occurred_at, dwell_ms)
SELECT user_id, item_id, event_type, occurred_at, dwell_ms FROM generated ORDER BY seq;
SELECT bool_and(cardinality(recent_items) = 7) AS capped,
       bool_and(recent_items = (SELECT h.items[1:7] FROM pg_temp.expected_history(user_id) h)) AS most_recent,
       bool_and(pg_temp.residual(user_id, 'rt') < 1e-5) AS vectors_solve
  FROM pg_temp.stream_state;
DROP TABLE row_form;
CREATE TEMP TABLE row_form AS SELECT * FROM pg_temp.stream_state;
SELECT rerank.rebuild_user_features('shop.stream', time_column => 'occurred_at',
                                    dwell_column => 'dwell_ms') AS rebuilt_users;
SELECT count(*) AS capped_rebuild_differences FROM (
    (SELECT * FROM pg_temp.stream_state EXCEPT SELECT * FROM row_form)
    UNION ALL
    (SELECT * FROM row_form EXCEPT SELECT * FROM pg_temp.stream_state)) d;
RESET rerank.history_size;

-- forget_user removes the features, the vectors in every model and the
-- interactions models were trained on
INSERT INTO rerank.model_interactions (model_id, user_id, item_ids, weights)
VALUES (rerank.model_id('rt'), 8, '{1,2}', '{1,1}');
SELECT rerank.forget_user(8) AS forgotten, rerank.forget_user(8) AS again;
SELECT (SELECT count(*) FROM rerank.user_features WHERE user_id = 8) +
       (SELECT count(*) FROM rerank.user_factors WHERE user_id = 8) +
       (SELECT count(*) FROM rerank.model_interactions WHERE user_id = 8) AS rows_left;
INSERT INTO rerank.model_interactions (model_id, user_id, item_ids, weights)
VALUES (rerank.model_id('rt'), 9999, '{1}', '{1}');
SELECT rerank.forget_user(9999) AS interactions_only;
SELECT rerank.forget_user(NULL);

-- other column types: int user ids, an enum event type, timestamp, interval
-- dwell; a table of orders with a constant event type; char(n) types
CREATE TYPE shop.kind AS ENUM ('view', 'cart', 'purchase');
CREATE TABLE shop.clicks (uid integer, sku smallint, kind shop.kind, at timestamp, spent interval);
SELECT rerank.attach('shop.clicks', 'uid', 'sku', 'kind', 'at', 'spent');
INSERT INTO shop.clicks VALUES (20, 1, 'view', '2024-01-01 10:00', '2 seconds'),
                               (20, 2, 'cart', NULL, NULL), (20, 1, 'purchase', '2024-01-01 09:00', '1 day');
SELECT event_counts, total_dwell_ms, recent_items, recent_weights, purchased_items,
       first_event_at = '2024-01-01 09:00'::timestamp AS first_ok
  FROM rerank.user_features WHERE user_id = 20;
CREATE TABLE shop.orders (order_id serial, customer_id bigint, product_id bigint, kind char(10), ordered_at timestamptz DEFAULT now(), amount numeric);
SELECT rerank.attach('shop.orders', 'customer_id', 'product_id', event_type => 'purchase', time_column => 'ordered_at');
SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'shop.orders'::regclass;
INSERT INTO shop.orders (customer_id, product_id) VALUES (21, 5), (21, 6);
SELECT event_counts, recent_items, purchased_items FROM rerank.user_features WHERE user_id = 21;
SELECT rerank.detach('shop.orders');
SELECT rerank.attach('shop.orders', 'customer_id', 'product_id', 'kind', dwell_column => 'amount', for_each => 'statement');
INSERT INTO shop.orders (customer_id, product_id, kind, amount) VALUES (22, 5, 'cart', 1.6), (22, 5, 'cart', 'NaN');
SELECT event_counts, total_dwell_ms, recent_weights FROM rerank.user_features WHERE user_id = 22;

-- a partitioned table: the trigger is cloned to each partition
CREATE TABLE shop.pevents (user_id bigint, item_id bigint, event_type text) PARTITION BY RANGE (user_id);
CREATE TABLE shop.pevents_low PARTITION OF shop.pevents FOR VALUES FROM (0) TO (100);
CREATE TABLE shop.pevents_high (event_type text, item_id bigint, user_id bigint);
ALTER TABLE shop.pevents ATTACH PARTITION shop.pevents_high FOR VALUES FROM (100) TO (1000);
SELECT rerank.attach('shop.pevents');
INSERT INTO shop.pevents VALUES (30, 1, 'view'), (300, 2, 'cart');
SELECT user_id, recent_items FROM rerank.user_features WHERE user_id IN (30, 300) ORDER BY 1;
SELECT rerank.detach('shop.pevents') AS dropped, rerank.detach('shop.pevents') AS again;
SELECT rerank.attach('shop.pevents', for_each => 'statement');
INSERT INTO shop.pevents VALUES (30, 3, 'view'), (300, 4, 'cart');
SELECT user_id, recent_items FROM rerank.user_features WHERE user_id IN (30, 300) ORDER BY 1;

-- misuse of the trigger function is a clear error at the first insert
CREATE TABLE shop.misuse (user_id bigint, item_id bigint, event_type text, note text);
CREATE TRIGGER t BEFORE INSERT ON shop.misuse FOR EACH ROW
    EXECUTE FUNCTION rerank.track_behavior('user_id', 'item_id', 'event_type');
INSERT INTO shop.misuse VALUES (1, 1, 'view');
DROP TRIGGER t ON shop.misuse;
CREATE TRIGGER t AFTER UPDATE ON shop.misuse FOR EACH ROW
    EXECUTE FUNCTION rerank.track_behavior('user_id', 'item_id', 'event_type');
INSERT INTO shop.misuse VALUES (1, 1, 'view');
UPDATE shop.misuse SET note = 'x';
DROP TRIGGER t ON shop.misuse;
CREATE TRIGGER t AFTER INSERT ON shop.misuse FOR EACH STATEMENT
    EXECUTE FUNCTION rerank.track_behavior('user_id', 'item_id', 'event_type');
INSERT INTO shop.misuse VALUES (1, 1, 'view');
DROP TRIGGER t ON shop.misuse;
CREATE TRIGGER t AFTER INSERT ON shop.misuse FOR EACH ROW
    EXECUTE FUNCTION rerank.track_behavior('user_id', 'item_id');
INSERT INTO shop.misuse VALUES (1, 1, 'view');
DROP TRIGGER t ON shop.misuse;
CREATE TRIGGER t AFTER INSERT ON shop.misuse FOR EACH ROW
    EXECUTE FUNCTION rerank.track_behavior('user_id', 'item_id', 'note', 'missing');
INSERT INTO shop.misuse VALUES (1, 1, 'view');
DROP TRIGGER t ON shop.misuse;
CREATE TRIGGER t AFTER INSERT ON shop.misuse FOR EACH ROW
    EXECUTE FUNCTION rerank.track_behavior('user_id', 'note', 'event_type');
INSERT INTO shop.misuse VALUES (1, 1, 'view');
DROP TRIGGER t ON shop.misuse;
SELECT rerank.track_behavior();

-- an imported model without params folds in with the documented defaults
-- (regularization 0.1, alpha 1); changed item factors are picked up
SELECT rerank.create_model('imported4', 4) > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('imported4'), i, ARRAY[cos(i), sin(i), 1, 0.5]::real[]
  FROM generate_series(1, 50) i;
SELECT rerank.activate_model('imported4');
INSERT INTO shop.events (user_id, item_id, event_type) VALUES (4, 3, 'view');
SELECT pg_temp.residual(4, 'imported4') < 1e-5 AS defaults_ok;
UPDATE rerank.item_factors SET factors = '{1,1,1,1}'
 WHERE model_id = rerank.model_id('imported4') AND item_id = 3;
INSERT INTO shop.events (user_id, item_id, event_type) VALUES (4, 3, 'view');
SELECT pg_temp.residual(4, 'imported4') < 1e-5 AS new_factors_ok;
SELECT count(*) AS models_with_user4 FROM rerank.user_factors WHERE user_id = 4;

-- privileges: the application role records events through the trigger
-- without any privilege on the extension's tables, but cannot attach the
-- trigger, rebuild, or forget users unless granted
CREATE ROLE rerank_regress_app;
GRANT USAGE ON SCHEMA shop TO rerank_regress_app;
GRANT INSERT ON shop.events TO rerank_regress_app;
GRANT USAGE ON SEQUENCE shop.events_event_id_seq TO rerank_regress_app;
GRANT TRIGGER ON shop.misuse TO rerank_regress_app;
SET ROLE rerank_regress_app;
INSERT INTO shop.events (user_id, item_id, event_type) VALUES (40, 1, 'view');
SELECT count(*) FROM rerank.user_features;
SELECT rerank.attach('shop.misuse');
SELECT rerank.rebuild_user_features('shop.events');
SELECT rerank.forget_user(40);
RESET ROLE;
SELECT event_counts FROM rerank.user_features WHERE user_id = 40;
REVOKE ALL ON SCHEMA shop FROM rerank_regress_app;
REVOKE ALL ON shop.events, shop.misuse FROM rerank_regress_app;
REVOKE ALL ON SEQUENCE shop.events_event_id_seq FROM rerank_regress_app;
DROP ROLE rerank_regress_app;

-- search_path cannot redirect the trigger's queries
CREATE SCHEMA evil;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '2000-01-01'::timestamptz $$;
SET search_path = evil, public, pg_catalog;
INSERT INTO shop.events (user_id, item_id, event_type) VALUES (41, 1, 'view');
RESET search_path;
SELECT updated_at > '2001-01-01' AS updated_now FROM rerank.user_features WHERE user_id = 41;
DROP SCHEMA evil CASCADE;

-- clean up
SELECT rerank.detach('shop.events'), rerank.detach('shop.clicks'),
       rerank.detach('shop.orders'), rerank.detach('shop.pevents'),
       rerank.detach('shop.stream');
DROP SCHEMA shop CASCADE;
SELECT rerank.deactivate_model();
SELECT rerank.drop_model('rt');
SELECT rerank.drop_model('imported4');
TRUNCATE rerank.user_features, rerank.items;
DELETE FROM rerank.event_weights WHERE NOT is_default;
