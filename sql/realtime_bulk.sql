-- The statement form's two ways to item categories (the backend's category
-- cache, or a join with rerank.items when the catalog does not fit in
-- rerank.category_cache_mb) give the same features as the row form, for long
-- histories (written compressed) and fractional event weights (whose sums
-- must read back as the same doubles).
SET extra_float_digits = 0;

-- The triggers write user_features and user_factors at the row level
-- (src/model/user_rows.c), which fires no trigger on them: check_factors' checks
-- are made there, the foreign key's need none (model_id never changes), and
-- a trigger added to these tables must be handled there.
SELECT tgrelid::regclass AS written_by_the_real_time_path, tgname
  FROM pg_trigger
 WHERE tgrelid IN ('rerank.user_features'::regclass, 'rerank.user_factors'::regclass)
   AND NOT tgisinternal
 ORDER BY 1, 2;

CREATE SCHEMA bulk;
CREATE TABLE bulk.row_events (user_id bigint, item_id bigint, event_type text);
CREATE TABLE bulk.stmt_events (LIKE bulk.row_events);
INSERT INTO rerank.event_weights (event_type, weight) VALUES ('glance', 0.3), ('hover', 1.7);
INSERT INTO rerank.items SELECT i, 'k' || (i % 5), NULL FROM generate_series(1000, 1299) i;
CREATE TEMP TABLE generated AS
SELECT i AS seq, 500 + i % 4 AS user_id, 1000 + (i * 37) % 300 AS item_id,
       (ARRAY['glance', 'hover', 'view', 'cart', 'purchase', 'glance'])[(i / 4) % 6 + 1] AS event_type
  FROM generate_series(1, 900) i;
CREATE VIEW pg_temp.bulk_state AS
SELECT user_id, event_counts, total_dwell_ms, recent_items, recent_weights,
       purchased_items, category_weights
  FROM rerank.user_features WHERE user_id BETWEEN 500 AND 503;

-- the row form
SELECT rerank.attach('bulk.row_events');
INSERT INTO bulk.row_events SELECT user_id, item_id, event_type FROM generated ORDER BY seq;
SELECT user_id, cardinality(recent_items) AS history, event_counts,
       category_weights->>'k1' AS k1_weight
  FROM pg_temp.bulk_state ORDER BY user_id;
CREATE TEMP TABLE row_form AS SELECT * FROM pg_temp.bulk_state;

-- the statement form, categories from the cache
SELECT count(*) FILTER (WHERE rerank.forget_user(u)) AS forgotten FROM generate_series(500, 503) u;
SELECT rerank.attach('bulk.stmt_events', for_each => 'statement');
INSERT INTO bulk.stmt_events SELECT user_id, item_id, event_type FROM generated ORDER BY seq;
SELECT count(*) AS cached_categories_differences FROM (
    (SELECT * FROM pg_temp.bulk_state EXCEPT SELECT * FROM row_form)
    UNION ALL
    (SELECT * FROM row_form EXCEPT SELECT * FROM pg_temp.bulk_state)) d;
SELECT bool_and(s.category_weights::text = r.category_weights::text) AS same_text
  FROM pg_temp.bulk_state s JOIN row_form r USING (user_id);

-- the statement form, categories joined from rerank.items
SELECT count(*) FILTER (WHERE rerank.forget_user(u)) AS forgotten FROM generate_series(500, 503) u;
SET rerank.category_cache_mb = 0;
INSERT INTO bulk.stmt_events SELECT user_id, item_id, event_type FROM generated ORDER BY seq;
RESET rerank.category_cache_mb;
SELECT count(*) AS joined_categories_differences FROM (
    (SELECT * FROM pg_temp.bulk_state EXCEPT SELECT * FROM row_form)
    UNION ALL
    (SELECT * FROM row_form EXCEPT SELECT * FROM pg_temp.bulk_state)) d;

-- row-level writes keep the rules of an UPDATE statement
BEGIN TRANSACTION READ ONLY;
SELECT rerank.rebuild_user_features('bulk.row_events');
ROLLBACK;

-- A batch inside a batch: the event query of a rebuild calls a function
-- that fails and recovers in a subtransaction, raises rerank.history_size
-- and records events through a row trigger.  The inner batches must leave
-- the outer one's fold-in buffers alone (they once freed them: a crash).
CREATE SCHEMA nested;
SELECT rerank.create_model('wide', 64, params => '{"regularization": 0.2, "alpha": 1.5}') > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('wide'), i,
       (SELECT array_agg(sin(i * d + d)::real ORDER BY d) FROM generate_series(1, 64) d)
  FROM generate_series(1, 200) i;
SELECT rerank.activate_model('wide');
CREATE TABLE nested.inner_events (user_id bigint, item_id bigint, event_type text);
SELECT rerank.attach('nested.inner_events');
CREATE TABLE nested.outer_events (LIKE nested.inner_events);
INSERT INTO nested.outer_events SELECT 600 + i % 4, 1 + (i * 7) % 200, 'view' FROM generate_series(1, 40) i;
CREATE FUNCTION nested.echo_event(uid bigint, iid bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM 1 / 0;
    EXCEPTION WHEN division_by_zero THEN
        NULL;
    END;
    PERFORM pg_catalog.set_config('rerank.history_size', '5000', false);
    INSERT INTO nested.inner_events VALUES (uid + 10, iid, 'cart');
    RETURN uid;
END
$$;
CREATE VIEW nested.echoed_events AS
SELECT nested.echo_event(user_id, item_id) AS user_id, item_id, event_type FROM nested.outer_events;
SELECT rerank.rebuild_user_features('nested.echoed_events') AS rebuilt_users;
RESET rerank.history_size;
SELECT count(*) AS users,
       bool_and(u.factors = rerank.fold_in_history(f.recent_items, f.recent_weights)) AS vectors_match
  FROM rerank.user_features f JOIN rerank.user_factors u USING (user_id)
 WHERE f.user_id BETWEEN 600 AND 613;
SELECT count(*) FILTER (WHERE rerank.forget_user(u)) AS forgotten FROM generate_series(600, 613) u;
SELECT rerank.deactivate_model();
SELECT rerank.drop_model('wide');
DROP SCHEMA nested CASCADE;

DROP SCHEMA bulk CASCADE;
SELECT count(*) FILTER (WHERE rerank.forget_user(u)) AS forgotten FROM generate_series(500, 503) u;
TRUNCATE rerank.items;
DELETE FROM rerank.event_weights WHERE event_type IN ('glance', 'hover');
