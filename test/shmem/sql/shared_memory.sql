-- Served snapshots in shared memory (the server preloads rerank): one copy
-- per server, keyed by committed content, built once, bounded, visible.
SET extra_float_digits = 0;
\set SHOW_CONTEXT never
\set VERBOSITY terse

SELECT current_setting('shared_preload_libraries') AS preload;

SELECT rerank.create_model('shm_a', 3) > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias)
SELECT rerank.model_id('shm_a'), i, ARRAY[i, 1, -i]::real[], i / 100.0
  FROM generate_series(1, 2000) i;
SELECT rerank.create_model('shm_b', 3) > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('shm_b'), i, ARRAY[0, i, 0]::real[]
  FROM generate_series(1, 500) i;
INSERT INTO rerank.items (item_id, category)
SELECT i, 'c' || (i % 5) FROM generate_series(1, 2000) i;

-- nothing is held before a first use
SELECT count(*) AS held FROM rerank.model_memory WHERE name LIKE 'shm_%';

-- a warm-up builds the committed version once, in shared memory
SELECT rerank.warm_model('shm_a') AS warmed;
SELECT kind, name, version = (SELECT factors_version FROM rerank.models WHERE name = 'shm_a')
       AS current_version, state, bytes > 0 AS has_bytes, readers, mapped_here, shared,
       builder_pid IS NULL AS no_builder, built_at IS NOT NULL AS built,
       huge_pages IS NOT NULL AS pages_known
  FROM rerank.model_memory WHERE name = 'shm_a';
SELECT built_at AS built_a FROM rerank.model_memory WHERE name = 'shm_a' \gset

-- activation does not change the content's version: the warmed copy serves
SELECT rerank.activate_model('shm_a');
SELECT rerank.item_vector(7) AS v7, rerank.item_vector(2001) IS NULL AS unknown;
SELECT name, version = (SELECT factors_version FROM rerank.models WHERE name = 'shm_a')
       AS current_version, built_at = :'built_a' AS same_copy
  FROM rerank.model_memory WHERE name = 'shm_a';
SELECT model, items, vectors_cached, bytes > 0 AS has_bytes, serving
  FROM rerank.model_cache_info() WHERE model = 'shm_a';

-- rerank() reads the model and the item catalog from shared memory
SELECT item_id, rank FROM rerank.rerank(1, '{3, 9, 5, 7}', max_per_category => 1, k => 3);
SELECT kind, name, state FROM rerank.model_memory WHERE kind = 'item catalog';

-- a statement changing item factors makes a new version; the old one is
-- retired (freed when no backend maps it any more)
UPDATE rerank.item_factors SET factors = '{70,70,70}'
 WHERE model_id = rerank.model_id('shm_a') AND item_id = 7;
SELECT rerank.item_vector(7) AS v7_updated;
SELECT count(*) AS ready_versions,
       bool_and(version = (SELECT factors_version FROM rerank.models WHERE name = 'shm_a'))
       AS current_version
  FROM rerank.model_memory WHERE name = 'shm_a' AND state = 'ready';

-- an uncommitted change is read from the tables, never put in shared
-- memory; after the rollback the committed version serves again
BEGIN;
UPDATE rerank.item_factors SET factors = '{1,1,1}'
 WHERE model_id = rerank.model_id('shm_a') AND item_id = 9;
SELECT rerank.item_vector(9) AS v9_in_xact;
SELECT count(*) AS uncommitted_held FROM rerank.model_memory
 WHERE name = 'shm_a' AND version = (SELECT factors_version FROM rerank.models WHERE name = 'shm_a');
ROLLBACK;
SELECT rerank.item_vector(9) AS v9_after_rollback;

-- the same for an activation in progress: the model is served from its
-- tables in this transaction only
BEGIN;
SELECT rerank.activate_model('shm_b');
SELECT rerank.item_vector(7) AS v7_in_b;
ROLLBACK;
SELECT rerank.item_vector(7) AS v7_back_in_a;

-- a change of rerank.items makes a new catalog version at commit; in the
-- changing transaction categories come from the table
SELECT rerank.rerank_ids(1, '{3, 8, 13, 4}', max_per_category => 1) AS capped;
SELECT version AS catalog_before FROM rerank.model_memory WHERE kind = 'item catalog' \gset
BEGIN;
UPDATE rerank.items SET category = 'solo' WHERE item_id = 8;
SELECT rerank.rerank_ids(1, '{3, 8, 13, 4}', max_per_category => 1) AS capped_in_xact;
ROLLBACK;
SELECT rerank.rerank_ids(1, '{3, 8, 13, 4}', max_per_category => 1) AS capped_after_rollback;
SELECT count(*) AS catalogs, bool_and(version = :catalog_before) AS same_catalog
  FROM rerank.model_memory WHERE kind = 'item catalog' AND state = 'ready';
UPDATE rerank.items SET category = 'solo' WHERE item_id = 8;
SELECT rerank.rerank_ids(1, '{3, 8, 13, 4}', max_per_category => 1) AS capped_after_commit;
SELECT count(*) AS catalogs, bool_and(version > :catalog_before) AS new_catalog
  FROM rerank.model_memory WHERE kind = 'item catalog' AND state = 'ready';

-- over the server-wide budget: a WARNING naming the setting, once per
-- session, and the same answers from the tables
SELECT rerank.create_model('shm_big', 16) > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('shm_big'), i, array_fill((i % 97)::real, ARRAY[16])
  FROM generate_series(1, 40000) i;
SELECT rerank.item_vector(40, 'shm_big') AS from_memory;
ALTER SYSTEM SET rerank.shared_cache_mb = 1;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SHOW rerank.shared_cache_mb;
UPDATE rerank.item_factors SET bias = 1 WHERE model_id = rerank.model_id('shm_big') AND item_id = 1;
SELECT rerank.item_vector(40, 'shm_big') AS from_tables;
SELECT rerank.item_vector(41, 'shm_big') AS warned_once;
SELECT rerank.warm_model('shm_big') AS warmed;
SELECT name, state, bytes > 1024 * 1024 AS needs_more
  FROM rerank.model_memory WHERE name = 'shm_big'
   AND version = (SELECT factors_version FROM rerank.models WHERE name = 'shm_big');
ALTER SYSTEM RESET rerank.shared_cache_mb;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SHOW rerank.shared_cache_mb;
SELECT rerank.item_vector(40, 'shm_big') AS from_memory_again;
SELECT name, state FROM rerank.model_memory WHERE name = 'shm_big'
   AND version = (SELECT factors_version FROM rerank.models WHERE name = 'shm_big');

-- item-kNN lists and a user-kNN index are blocks of their model's snapshot
-- like vectors: held once, the same answers as from the tables
CREATE TABLE shm_events AS
SELECT u AS user_id, (u * 7 + j) % 40 + 1 AS item_id, 1::real AS weight
  FROM generate_series(1, 60) u, generate_series(1, 6) j;
SET client_min_messages = warning;
CALL rerank.train_item_knn('shm_iknn', 'shm_events', neighbors => 5);
CALL rerank.train_user_knn('shm_uknn', 'shm_events', neighbors => 5);
RESET client_min_messages;
SELECT array_agg(round(rerank.predict(3, i, 'shm_iknn')::numeric, 6) ORDER BY i) AS iknn_memory,
       array_agg(round(rerank.predict(3, i, 'shm_uknn')::numeric, 6) ORDER BY i) AS uknn_memory
  FROM generate_series(1, 40) i \gset
SELECT name, state, shared, bytes > 0 AS has_bytes
  FROM rerank.model_memory WHERE name IN ('shm_iknn', 'shm_uknn') ORDER BY name;
SET rerank.model_cache_mb = 0;
SELECT array_agg(round(rerank.predict(3, i, 'shm_iknn')::numeric, 6) ORDER BY i) = :'iknn_memory'
       AS iknn_same_from_tables,
       array_agg(round(rerank.predict(3, i, 'shm_uknn')::numeric, 6) ORDER BY i) = :'uknn_memory'
       AS uknn_same_from_tables
  FROM generate_series(1, 40) i;
RESET rerank.model_cache_mb;
SELECT rerank.drop_model('shm_iknn'), rerank.drop_model('shm_uknn');
DROP TABLE shm_events;

-- a learned ranker's forest is a block of its model's snapshot too: held
-- once, got again by each transaction, the same scores as a forest the
-- backend builds itself (serving from memory off)
CREATE TABLE shm_log AS
SELECT u AS user_id, (u * 7 + j) % 40 + 1 AS item_id,
       (ARRAY['view', 'click', 'cart'])[1 + j % 3] AS event_type,
       timestamptz '2026-01-01 00:00+00' + (u * 17 + j * 60) * interval '1 minute' AS at
  FROM generate_series(1, 30) u, generate_series(1, 30) j;
SET client_min_messages = warning;
CALL rerank.train_ranker('shm_ranker', 'shm_log', time_column => 'at', trees => 5, max_depth => 3,
                         options => '{"warm_up": 0}');
RESET client_min_messages;
-- training builds nothing; activation builds the forest before it commits,
-- so that no call after the commit builds it (checked before any call)
SELECT count(*) AS ranker_held_before FROM rerank.model_memory WHERE name = 'shm_ranker';
SELECT rerank.activate_model('shm_ranker');
SELECT name, state, shared, bytes > 0 AS has_bytes, builder_pid IS NULL AS no_builder,
       built_at IS NOT NULL AS built,
       version = (SELECT factors_version FROM rerank.models WHERE name = 'shm_ranker') AS current_version
  FROM rerank.model_memory WHERE name = 'shm_ranker';
SELECT built_at AS built_ranker FROM rerank.model_memory WHERE name = 'shm_ranker' \gset
SELECT array_agg(round(score::numeric, 6) ORDER BY item_id) AS ranker_memory
  FROM rerank.rerank(3, ARRAY(SELECT generate_series(1, 40)::bigint)) \gset
SELECT array_agg(round(score::numeric, 6) ORDER BY item_id) = :'ranker_memory' AS next_transaction_same
  FROM rerank.rerank(3, ARRAY(SELECT generate_series(1, 40)::bigint));
SELECT name, state, shared, bytes > 0 AS has_bytes, built_at = :'built_ranker' AS same_copy,
       version = (SELECT factors_version FROM rerank.models WHERE name = 'shm_ranker') AS current_version
  FROM rerank.model_memory WHERE name = 'shm_ranker';
SET rerank.model_cache_mb = 0;
SELECT array_agg(round(score::numeric, 6) ORDER BY item_id) = :'ranker_memory' AS same_built_here
  FROM rerank.rerank(3, ARRAY(SELECT generate_series(1, 40)::bigint));
RESET rerank.model_cache_mb;
-- the same through the setting (a ranker by name)
SET rerank.ranker = 'shm_ranker';
SELECT array_agg(round(score::numeric, 6) ORDER BY item_id) = :'ranker_memory' AS by_name_same
  FROM rerank.rerank(3, ARRAY(SELECT generate_series(1, 40)::bigint));
RESET rerank.ranker;

-- a second ranker: warm_model builds its forest ahead of time
SET client_min_messages = warning;
CALL rerank.train_ranker('shm_ranker_b', 'shm_log', time_column => 'at', trees => 7, max_depth => 3,
                         seed => 7, options => '{"warm_up": 0}');
RESET client_min_messages;
SELECT count(*) AS b_held_before FROM rerank.model_memory WHERE name = 'shm_ranker_b';
SELECT rerank.warm_model('shm_ranker_b') AS warmed_b;
SELECT name, state, bytes > 0 AS has_bytes FROM rerank.model_memory WHERE name = 'shm_ranker_b';
SELECT rerank.activate_model('shm_ranker_b');
-- the first ranker retrained in place (inactive: a new version, not built);
-- rolling back to it builds that version before the commit
SET client_min_messages = warning;
CALL rerank.train_ranker('shm_ranker', 'shm_log', time_column => 'at', trees => 6, max_depth => 3,
                         replace => true, options => '{"warm_up": 0}');
RESET client_min_messages;
SELECT count(*) AS retrained_held_before FROM rerank.model_memory
 WHERE name = 'shm_ranker'
   AND version = (SELECT factors_version FROM rerank.models WHERE name = 'shm_ranker');
SELECT rerank.rollback_ranker() AS rolled_back_to;
SELECT name, state, bytes > 0 AS has_bytes
  FROM rerank.model_memory
 WHERE name = 'shm_ranker'
   AND version = (SELECT factors_version FROM rerank.models WHERE name = 'shm_ranker');
-- a booster whose forest does not build: its activation fails (SQLSTATE
-- XX001) before anything changes, the active ranker stays
UPDATE rerank.rankers SET booster = pg_catalog.convert_to('{"learner": 1}', 'UTF8')
 WHERE model_id = rerank.model_id('shm_ranker_b');
SELECT rerank.activate_model('shm_ranker_b');
\echo :LAST_ERROR_SQLSTATE
SELECT rerank.active_ranker() AS still_active;
SELECT rerank.deactivate_ranker();
SELECT rerank.drop_model('shm_ranker'), rerank.drop_model('shm_ranker_b');
DROP TABLE shm_log;

-- rerank.model_cache_mb = 0 turns serving from memory off for a session
SET rerank.model_cache_mb = 0;
SELECT rerank.item_vector(7) AS v7_from_tables;
SELECT model, vectors_cached FROM rerank.model_cache_info() WHERE model = 'shm_a';
RESET rerank.model_cache_mb;

-- the view and the warm-up are for the DBA
CREATE ROLE shm_app;
SET ROLE shm_app;
SELECT count(*) FROM rerank.model_memory;
SELECT rerank.warm_model('shm_a');
RESET ROLE;
DROP ROLE shm_app;

-- a dropped and re-created extension never meets an old version: model ids
-- and versions start over, the registry table's OID does not
SELECT rerank.model_id('shm_a') AS old_id, factors_version AS old_version
  FROM rerank.models WHERE name = 'shm_a' \gset
DROP EXTENSION rerank;
CREATE EXTENSION rerank;
SELECT rerank.create_model('shm_a', 3) = :old_id AS same_id;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('shm_a'), i, ARRAY[-1, -1, -1]::real[] FROM generate_series(1, 10) i;
UPDATE rerank.models SET factors_version = :old_version WHERE name = 'shm_a';
SELECT rerank.activate_model('shm_a');
SELECT rerank.item_vector(7) AS v7_new_extension;
