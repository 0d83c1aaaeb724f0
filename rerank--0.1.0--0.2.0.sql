-- rerank 0.1.0 -> 0.2.0 update script: ALTER EXTENSION rerank UPDATE.
--
-- Released with 0.2.0; never edited after that release.  While 0.2.0 is
-- under work, every change to the objects of src/sql/*.sql (the full
-- rerank--0.2.0.sql) is appended here too, with the same hardening (see
-- src/sql/00_header.sql; test/lint/check_sql_scripts.pl checks this file),
-- and test/e2e/upgrade.sh compares an updated database with a fresh one,
-- object by object.

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION rerank UPDATE TO '0.2.0'" to load this file. \quit

-- ALTER EXTENSION runs this script with the extension's schema (rerank,
-- for a 0.1.0 install) first in the search_path: nothing below resolves
-- there.
SET LOCAL search_path = pg_catalog, pg_temp;

-- 0.1.0's script resolved some operators and functions of its CHECK
-- constraints through the search_path, so a role that could create in the
-- schema rerank beforehand could bind its own into them (issue 10).  Such
-- an install is not updated: the DBA has to look at it first.  The query
-- is test/upgrade/foreign_refs.sql.
DO $check$
DECLARE
    found pg_catalog.text;
    creators pg_catalog.text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('%s uses %s', q.used_by, q.uses), '; ')
      INTO found
      FROM (
        WITH RECURSIVE
        ext AS (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'rerank'),
        members AS (
            SELECT d.classid, d.objid FROM pg_catalog.pg_depend d, ext
             WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
               AND d.refobjid OPERATOR(pg_catalog.=) ext.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'),
        rels AS (
            SELECT m.objid AS oid FROM members m
             WHERE m.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass),
        users(classid, objid) AS (
            SELECT m.classid, m.objid FROM members m
            UNION ALL
            SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass, c.oid FROM pg_catalog.pg_constraint c
             WHERE c.conrelid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT r.oid FROM rels r))
            UNION ALL
            SELECT 'pg_catalog.pg_attrdef'::pg_catalog.regclass, a.oid FROM pg_catalog.pg_attrdef a
             WHERE a.adrelid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT r.oid FROM rels r))
            UNION ALL
            SELECT 'pg_catalog.pg_rewrite'::pg_catalog.regclass, w.oid FROM pg_catalog.pg_rewrite w
             WHERE w.ev_class OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT r.oid FROM rels r))),
        own(classid, objid) AS (
            SELECT m.classid, m.objid FROM members m
            UNION ALL
            SELECT d.classid, d.objid FROM pg_catalog.pg_depend d
             WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
               AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
               AND d.refobjid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT r.oid FROM rels r))
               AND d.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['a', 'i']::pg_catalog.char[])
            UNION ALL
            SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, i.indexrelid FROM pg_catalog.pg_index i
             WHERE i.indrelid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT r.oid FROM rels r))
            UNION ALL
            SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, t.oid FROM pg_catalog.pg_type t
             WHERE t.typrelid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT r.oid FROM rels r))
            UNION ALL
            SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, t.oid
              FROM pg_catalog.pg_type t JOIN own o
                ON o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass
               AND t.typelem OPERATOR(pg_catalog.=) o.objid)
        SELECT DISTINCT pg_catalog.pg_describe_object(d.classid, d.objid, 0) AS used_by,
               pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0) AS uses
          FROM pg_catalog.pg_depend d
          JOIN users u ON u.classid OPERATOR(pg_catalog.=) d.classid AND u.objid OPERATOR(pg_catalog.=) d.objid
         WHERE d.refclassid OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.pg_proc', 'pg_catalog.pg_operator',
                                                            'pg_catalog.pg_type', 'pg_catalog.pg_collation',
                                                            'pg_catalog.pg_class', 'pg_catalog.pg_opclass',
                                                            'pg_catalog.pg_opfamily', 'pg_catalog.pg_conversion',
                                                            'pg_catalog.pg_ts_config', 'pg_catalog.pg_ts_dict']
                                                           ::pg_catalog.regclass[])
           AND NOT EXISTS (SELECT FROM own o
                            WHERE o.classid OPERATOR(pg_catalog.=) d.refclassid
                              AND o.objid OPERATOR(pg_catalog.=) d.refobjid)
         ORDER BY 1, 2
           ) q;
    -- a fresh install refuses a schema rerank that others may create in;
    -- an updated one keeps its schema, so say so
    SELECT pg_catalog.string_agg(DISTINCT
               CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                    ELSE pg_catalog.quote_ident(a.grantee::pg_catalog.regrole::pg_catalog.text) END,
               ', ')
      INTO creators
      FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
     WHERE n.nspname OPERATOR(pg_catalog.=) 'rerank'
       AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
       AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner;
    IF creators IS NOT NULL THEN
        RAISE WARNING 'other roles may create objects in schema "rerank": %', creators
            USING DETAIL = 'An object created there can capture references of callers whose search_path includes rerank.',
                  HINT = 'REVOKE CREATE ON SCHEMA rerank FROM them.';
    END IF;
    IF found IS NOT NULL THEN
        RAISE EXCEPTION 'rerank is bound to objects outside pg_catalog and the extension'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('%s.', found),
                  HINT = 'The install was probably hijacked through a schema that another role could create in: find who made these objects, drop the extension and create it anew.';
    END IF;
END
$check$;

-- Changes of 0.2.0, in the order of src/sql (append below).

-- 30_models.sql (issue 10, defect 2): every new factors_version comes from a
-- sequence, which no aborted transaction gives back (caches key on it:
-- src/cache/cache_key.h).  The sequence continues above every version
-- stored (setval to the largest).
CREATE SEQUENCE rerank.data_version_seq;
COMMENT ON SEQUENCE rerank.data_version_seq IS
    'every new factors_version of rerank.models comes from here (models_guard): a number an aborted transaction took is never taken again, so caches keyed by it never mistake aborted data for committed data';
SELECT pg_catalog.pg_extension_config_dump('rerank.data_version_seq', '');
ALTER TABLE rerank.models ALTER COLUMN factors_version
    SET DEFAULT pg_catalog.nextval('rerank.data_version_seq'::pg_catalog.regclass);
-- after the ALTER TABLE, which holds rerank.models locked until commit: no
-- version committed by another transaction meanwhile is missed
SELECT pg_catalog.setval('rerank.data_version_seq'::pg_catalog.regclass,
                         pg_catalog.max(v))
  FROM (SELECT m.factors_version AS v FROM rerank.models m
        UNION ALL SELECT 1) versions;
COMMENT ON COLUMN rerank.models.factors_version IS 'a new value of rerank.data_version_seq at every statement that changes the model''s item factors or neighbor lists (any change of it takes the next value); caches key on it';

CREATE OR REPLACE FUNCTION rerank.models_guard() RETURNS pg_catalog.trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NEW.dimensions <> OLD.dimensions THEN
        RAISE EXCEPTION 'cannot change the dimensions of model "%"', OLD.name
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Create a new model instead.';
    END IF;
    IF NEW.model_id <> OLD.model_id THEN
        RAISE EXCEPTION 'cannot change the id of model "%"', OLD.name
            USING ERRCODE = 'feature_not_supported';
    END IF;
    -- a new data version: the next number of the sequence above the old
    -- one (a model's versions only grow, even after a restore of versions
    -- the sequence has not reached yet)
    IF NEW.factors_version IS DISTINCT FROM OLD.factors_version THEN
        LOOP
            NEW.factors_version := pg_catalog.nextval('rerank.data_version_seq'::pg_catalog.regclass);
            EXIT WHEN NEW.factors_version > OLD.factors_version;
        END LOOP;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION rerank.models_guard() IS
    'BEFORE UPDATE trigger of rerank.models: a model''s id and dimensions never change; a changed factors_version takes the next value of rerank.data_version_seq';
COMMENT ON FUNCTION rerank.item_factors_changed() IS
    'AFTER statement trigger of rerank.item_factors, rerank.item_neighbors and rerank.user_neighbors: resets the changed models'' YᵀY and gives them a new factors_version';

-- 30_models.sql: functions called from the PL/pgSQL bodies schema-qualified
-- (defence in depth: these bodies run with search_path = pg_catalog, pg_temp).
-- A new body for a function the extension owns (comments and grants stay).
CREATE OR REPLACE FUNCTION rerank.create_model(model_name pg_catalog.text, dimensions integer,
                                    algorithm pg_catalog.text DEFAULT 'imported',
                                    params pg_catalog.jsonb DEFAULT '{}',
                                    description pg_catalog.text DEFAULT NULL)
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    new_id integer;
BEGIN
    IF model_name IS NULL OR dimensions IS NULL OR algorithm IS NULL THEN
        RAISE EXCEPTION 'model name, dimensions and algorithm must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.length(model_name) NOT BETWEEN 1 AND 63 THEN
        RAISE EXCEPTION 'model name must have 1 to 63 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF dimensions NOT BETWEEN 0 AND 2048 THEN
        RAISE EXCEPTION 'dimensions must be between 0 and 2048, not %', dimensions
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF algorithm NOT IN ('imported', 'als', 'item_knn', 'user_knn') THEN
        RAISE EXCEPTION 'unknown algorithm "%"', algorithm
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use imported, als, item_knn or user_knn.';
    END IF;
    IF params IS NULL OR pg_catalog.jsonb_typeof(params) <> 'object' THEN
        RAISE EXCEPTION 'params must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM rerank.models m WHERE m.name = model_name) THEN
        RAISE EXCEPTION 'model "%" already exists', model_name
            USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO rerank.models (name, algorithm, dimensions, params, description)
    VALUES (model_name, create_model.algorithm, create_model.dimensions,
            create_model.params, create_model.description)
    RETURNING model_id INTO new_id;
    RETURN new_id;
END
$$;

-- 30_models.sql: switch_active_model runs as the caller, who needs the
-- registry's table privileges anyway, so it keeps the default EXECUTE for
-- PUBLIC (a DBA granted activate_model needs no grant on it,
-- sql/dba_role.sql): re-created to drop 0.1.0's REVOKE.
DROP FUNCTION rerank.switch_active_model(integer, pg_catalog.text);
CREATE FUNCTION rerank.switch_active_model(target_id integer, action pg_catalog.text)
    RETURNS pg_catalog.void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    previous_id integer;
    target rerank.models;
BEGIN
    SELECT m.model_id INTO previous_id FROM rerank.models m WHERE m.is_active;
    IF target_id IS NOT NULL THEN
        SELECT * INTO target FROM rerank.models m WHERE m.model_id = target_id;
        IF target.dimensions > 0 AND target.gram IS NULL THEN
            IF NOT EXISTS (SELECT FROM rerank.item_factors f
                            WHERE f.model_id = target_id) THEN
                RAISE EXCEPTION 'model "%" has no item factors', target.name
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          HINT = 'Load its vectors into rerank.item_factors first.';
            END IF;
            UPDATE rerank.models m
               SET gram = (SELECT rerank.gram_matrix(f.factors)
                             FROM rerank.item_factors f
                            WHERE f.model_id = target_id)
             WHERE m.model_id = target_id;
        END IF;
    END IF;
    UPDATE rerank.models m SET is_active = false WHERE m.is_active;
    UPDATE rerank.models m SET is_active = true, activated_at = pg_catalog.now()
     WHERE m.model_id = target_id;
    INSERT INTO rerank.model_activations (model_id, previous_model_id, action)
    VALUES (target_id, previous_id, switch_active_model.action);
END
$$;
COMMENT ON FUNCTION rerank.switch_active_model(integer, pg_catalog.text) IS
    'internal: makes a model (or none) active, computing its YᵀY if needed, and logs the change';

-- 30_models.sql (issue 10, defect 4): dropping the active model waits for
-- the transactions writing its user vectors before any row (docs/locking.md).
CREATE OR REPLACE FUNCTION rerank.drop_model(model_name pg_catalog.text, force boolean DEFAULT false)
    RETURNS pg_catalog.void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    target_id integer := rerank.model_id(model_name);
BEGIN
    LOCK TABLE rerank.models IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT FROM rerank.models m
                WHERE m.model_id = target_id AND m.is_active) THEN
        IF NOT coalesce(force, false) THEN
            RAISE EXCEPTION 'model "%" is active', model_name
                USING ERRCODE = 'object_in_use',
                      HINT = 'Activate another model first, or pass force => true.';
        END IF;
        -- the triggers are writing its user vectors: wait for them before
        -- any row (docs/locking.md)
        LOCK TABLE rerank.user_factors IN EXCLUSIVE MODE;
        PERFORM rerank.switch_active_model(NULL, 'deactivate');
    END IF;
    DELETE FROM rerank.models m WHERE m.model_id = target_id;
END
$$;

-- 60_realtime.sql (issue 10, defect 4): forget_user waits for a first event
-- of the user being inserted, so an event committed before it is forgotten;
-- (issue 13) it also deletes the user's user-kNN lists and the user's place
-- in the other users' lists, and gives the user-kNN models it changed a new
-- version (their rows locked first, in the lock order).
CREATE OR REPLACE FUNCTION rerank.forget_user(user_id bigint) RETURNS boolean
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    had_features boolean;
    created boolean;
    user_knn_models integer[];
    trained_on integer[];
BEGIN
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'user id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the user-kNN models' rows, whose versions change below: before any
    -- user row, in the lock order (docs/locking.md)
    SELECT pg_catalog.array_agg(m.model_id ORDER BY m.model_id) INTO user_knn_models
      FROM (SELECT m.model_id FROM rerank.models m WHERE m.algorithm = 'user_knn'
             ORDER BY m.model_id FOR NO KEY UPDATE) m;
    -- the features row first: the order the triggers lock in
    -- (docs/locking.md).  A first event of the user being inserted right
    -- now is waited for (the insert below waits for the other transaction's
    -- row), so that an event committed before this forget is forgotten too.
    INSERT INTO rerank.user_features (user_id) VALUES (forget_user.user_id)
        ON CONFLICT ON CONSTRAINT user_features_pkey DO NOTHING
        RETURNING true INTO created;
    DELETE FROM rerank.user_features f WHERE f.user_id = forget_user.user_id;
    had_features := FOUND AND created IS NULL;
    -- model_id = ANY (every model): look-ups of the primary keys
    -- (model_id, user_id) rather than scans for the user id alone
    DELETE FROM rerank.user_factors u
     WHERE u.model_id = ANY (ARRAY(SELECT m.model_id FROM rerank.models m))
       AND u.user_id = forget_user.user_id;
    had_features := had_features OR FOUND;
    -- what models were trained on (recommend() and item-kNN read it); the
    -- user-kNN models among them hold it in their index: a new version
    WITH gone AS (
        DELETE FROM rerank.model_interactions i
         WHERE i.model_id = ANY (ARRAY(SELECT m.model_id FROM rerank.models m))
           AND i.user_id = forget_user.user_id
        RETURNING i.model_id)
    SELECT pg_catalog.array_agg(g.model_id) INTO trained_on FROM gone g;
    had_features := had_features OR trained_on IS NOT NULL;
    UPDATE rerank.models m SET factors_version = m.factors_version + 1
     WHERE m.model_id = ANY (user_knn_models) AND m.model_id = ANY (trained_on);
    -- user-kNN: the user's own lists, and the user's place in the others'
    -- (found through the GIN index on neighbor_ids; their trigger gives
    -- the models a new version)
    DELETE FROM rerank.user_neighbors n
     WHERE n.model_id = ANY (ARRAY(SELECT m.model_id FROM rerank.models m))
       AND n.user_id = forget_user.user_id;
    had_features := had_features OR FOUND;
    UPDATE rerank.user_neighbors n
       SET (neighbor_ids, similarities) =
           (SELECT coalesce(pg_catalog.array_agg(n.neighbor_ids[i] ORDER BY i), '{}'),
                   coalesce(pg_catalog.array_agg(n.similarities[i] ORDER BY i), '{}')
              FROM pg_catalog.generate_subscripts(n.neighbor_ids, 1) AS i
             WHERE n.neighbor_ids[i] <> forget_user.user_id)
     WHERE n.neighbor_ids @> ARRAY[forget_user.user_id];
    RETURN had_features OR FOUND;
END
$$;
COMMENT ON FUNCTION rerank.forget_user(bigint) IS
    'deletes everything the extension keeps about a user (features, vectors, training interactions and user-kNN lists in every model, and the user''s place in other users'' lists); true if there was anything; the shop''s own event rows are the shop''s to delete';

-- 30_models.sql (issue 13): user-kNN models in the registry.
ALTER TABLE rerank.models DROP CONSTRAINT models_algorithm_check,
    ADD CONSTRAINT models_algorithm_check
        CHECK (algorithm OPERATOR(pg_catalog.=) ANY (ARRAY['imported', 'als', 'item_knn', 'user_knn']));
COMMENT ON COLUMN rerank.models.algorithm IS 'imported (vectors brought from elsewhere), als, item_knn or user_knn';

-- 45_user_knn.sql (issue 13), as in the full script:
-- User-based collaborative filtering: each user's nearest users, stored
-- like item-kNN lists, served from an index held with the model (the
-- users' training interactions by user and by item), and recomputed at
-- serving time from the current history of users whose history changed or
-- whom training did not see.  C in src/train/train_user_knn.c,
-- src/cache/user_knn_cache.c, src/model/user_neighbors.c, src/core/user_knn.c.

CREATE TABLE rerank.user_neighbors (
    model_id integer NOT NULL REFERENCES rerank.models ON DELETE CASCADE,
    user_id bigint NOT NULL,
    neighbor_ids bigint[] NOT NULL,
    similarities real[] NOT NULL,
    PRIMARY KEY (model_id, user_id),
    CHECK (pg_catalog.cardinality(neighbor_ids) OPERATOR(pg_catalog.=) pg_catalog.cardinality(similarities))
);
-- forget_user finds the lists that name a user through this index
CREATE INDEX user_neighbors_neighbor_ids ON rerank.user_neighbors USING gin (neighbor_ids);
COMMENT ON TABLE rerank.user_neighbors IS
    'user-kNN models: each user''s nearest users (the user left out), most similar first';
COMMENT ON COLUMN rerank.user_neighbors.model_id IS 'the model (algorithm user_knn)';
COMMENT ON COLUMN rerank.user_neighbors.user_id IS 'the shop''s user id';
COMMENT ON COLUMN rerank.user_neighbors.neighbor_ids IS 'the neighbors, most similar first';
COMMENT ON COLUMN rerank.user_neighbors.similarities IS 'their similarity to the user (same order), all positive';

SELECT pg_catalog.pg_extension_config_dump('rerank.user_neighbors', '');

-- Changed lists give their model a new factors_version, as changed item
-- neighbor lists do, so backends that cache the model's index reload it.
-- Its training interactions have no trigger (a training of any model
-- writes them, and only the model it trains): what changes them under a
-- user-kNN model, forget_user, gives it a new version itself.
CREATE TRIGGER user_neighbors_inserted AFTER INSERT ON rerank.user_neighbors
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER user_neighbors_updated AFTER UPDATE ON rerank.user_neighbors
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER user_neighbors_deleted AFTER DELETE ON rerank.user_neighbors
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER user_neighbors_truncated AFTER TRUNCATE ON rerank.user_neighbors
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();

CREATE PROCEDURE rerank.train_user_knn(
    model_name pg_catalog.text,
    source pg_catalog.regclass,
    neighbors integer DEFAULT 50,
    similarity pg_catalog.text DEFAULT 'cosine',
    shrinkage double precision DEFAULT 0,
    min_overlap integer DEFAULT 1,
    activate boolean DEFAULT false,
    replace boolean DEFAULT false,
    weight_column pg_catalog.text DEFAULT NULL,
    description pg_catalog.text DEFAULT NULL)
    AS 'MODULE_PATHNAME', 'train_user_knn'
    LANGUAGE C
    -- its queries resolve operators and functions here, never in the caller's path
    SET search_path = pg_catalog, pg_temp;
COMMENT ON PROCEDURE rerank.train_user_knn(pg_catalog.text, pg_catalog.regclass, integer, pg_catalog.text, double precision, integer, boolean, boolean, pg_catalog.text, pg_catalog.text) IS
    'trains a user-based collaborative filtering model: each user''s nearest users by cosine, jaccard or pearson similarity over their items, shrunk by n / (n + shrinkage) for n shared items, at least min_overlap shared items';
REVOKE EXECUTE ON PROCEDURE rerank.train_user_knn(pg_catalog.text, pg_catalog.regclass, integer, pg_catalog.text, double precision, integer, boolean, boolean, pg_catalog.text, pg_catalog.text) FROM PUBLIC;

-- Served like predict, recommend and similar_items (40_training.sql).
CREATE FUNCTION rerank.similar_users(user_id bigint, k integer DEFAULT 10,
                                     model pg_catalog.text DEFAULT NULL)
    RETURNS TABLE (similar_user_id bigint, similarity double precision)
    AS 'MODULE_PATHNAME', 'similar_users'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.similar_users(bigint, integer, pg_catalog.text) IS
    'the k users most similar to a user in a user-kNN model (NULL: the active model), most similar first: the trained list, or for a user whose history changed since training or whom training did not see, the list computed from the current history (stable: reads the model)';
REVOKE EXECUTE ON FUNCTION rerank.similar_users(bigint, integer, pg_catalog.text) FROM PUBLIC;

-- 30_models.sql (issue 12): activation and rollback build the model's
-- served copy (with the preload) before they change the registry, so no
-- backend waits for it after the commit.
CREATE OR REPLACE FUNCTION rerank.activate_model(model_name pg_catalog.text) RETURNS pg_catalog.void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    target_id integer := rerank.model_id(model_name);
BEGIN
    -- the served copy first (with the preload), so nobody waits after the commit
    PERFORM rerank.prepare_activation(target_id);
    -- one activation at a time; readers are not blocked
    LOCK TABLE rerank.models IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT FROM rerank.models m
                WHERE m.model_id = target_id AND m.is_active) THEN
        RAISE NOTICE 'model "%" is already active', model_name;
        RETURN;
    END IF;
    PERFORM rerank.switch_active_model(target_id, 'activate');
END
$$;

CREATE OR REPLACE FUNCTION rerank.rollback_model() RETURNS pg_catalog.text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    current_id integer;
    target_id integer;
BEGIN
    LOCK TABLE rerank.models IN SHARE ROW EXCLUSIVE MODE;
    SELECT m.model_id INTO current_id FROM rerank.models m WHERE m.is_active;
    IF current_id IS NULL THEN
        RAISE EXCEPTION 'no model is active'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- the model this one replaced when it was last activated on purpose
    SELECT a.previous_model_id INTO target_id
      FROM rerank.model_activations a
     WHERE a.model_id = current_id AND a.action = 'activate'
     ORDER BY a.activation_id DESC
     LIMIT 1;
    IF target_id IS NULL THEN
        RAISE EXCEPTION 'no earlier model to roll back to'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The active model replaced no model that still exists.';
    END IF;
    PERFORM rerank.prepare_activation(target_id);
    PERFORM rerank.switch_active_model(target_id, 'rollback');
    RETURN (SELECT m.name FROM rerank.models m WHERE m.model_id = target_id);
END
$$;

-- 35_model_memory.sql (issue 12), as in the full script:
-- Served snapshots (src/cache/snapshot.c): what the server holds in memory
-- to serve models and item categories, ahead-of-time builds, and the step
-- activation takes before it changes the registry.
CREATE FUNCTION rerank.model_memory_info(OUT kind pg_catalog.text, OUT name pg_catalog.text,
                                         OUT object_id bigint, OUT version bigint,
                                         OUT state pg_catalog.text, OUT bytes bigint,
                                         OUT readers integer, OUT mapped_here boolean,
                                         OUT shared boolean, OUT builder_pid integer,
                                         OUT built_at pg_catalog.timestamptz,
                                         OUT build_seconds double precision,
                                         OUT huge_pages boolean)
    RETURNS SETOF pg_catalog.record
    AS 'MODULE_PATHNAME', 'model_memory'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION rerank.model_memory_info() IS
    'the versions held in memory for this database: with rerank in shared_preload_libraries the server''s shared copies (building, ready, retiring, over budget) with their readers, else this backend''s own (volatile: shared state)';

CREATE VIEW rerank.model_memory AS
SELECT i.kind, i.name, i.object_id, i.version, i.state, i.bytes, i.readers,
       i.mapped_here, i.shared, i.builder_pid, i.built_at, i.build_seconds, i.huge_pages
  FROM rerank.model_memory_info() i;
COMMENT ON VIEW rerank.model_memory IS
    'what is held in memory to serve this database: model versions (kind model, name, model_id, factors_version) and item catalog versions; bytes, readers (backends mapping it), state, huge_pages (whether its builder found it on huge pages; NULL until built)';

CREATE FUNCTION rerank.warm_model(model_name pg_catalog.text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'warm_model'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION rerank.warm_model(pg_catalog.text) IS
    'builds the served copy of the model''s committed version now (a ranker''s: its forest; once per server with the preload, else in this backend), so that calls after its activation find it ready; true when it is held in memory';

CREATE FUNCTION rerank.prepare_activation(model_id integer) RETURNS pg_catalog.void
    AS 'MODULE_PATHNAME', 'prepare_activation'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION rerank.prepare_activation(integer) IS
    'internal: what activation and rollback do before they change the registry; with the preload, builds the model''s served copy (a ranker''s forest, refused if its booster does not build) so that no backend waits for it after the commit';

-- A dropped model's versions held in memory are released at commit.
CREATE FUNCTION rerank.model_memory_release() RETURNS pg_catalog.trigger
    AS 'MODULE_PATHNAME', 'model_memory_release'
    LANGUAGE C;
COMMENT ON FUNCTION rerank.model_memory_release() IS
    'AFTER DELETE statement trigger of rerank.models: the deleted models'' versions held in memory are released at commit (shared ones freed when no backend maps them)';
CREATE TRIGGER model_memory_release
    AFTER DELETE ON rerank.models
    REFERENCING OLD TABLE AS dropped_models
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.model_memory_release();

REVOKE EXECUTE ON FUNCTION rerank.model_memory_info() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.warm_model(pg_catalog.text) FROM PUBLIC;

-- 45_user_knn.sql: model_versions counts the neighbor lists of kNN models
-- beside the vectors (items and users with a list); nothing depends on it.
DROP VIEW rerank.model_versions;
CREATE VIEW rerank.model_versions AS
SELECT m.name, m.algorithm, m.dimensions, m.is_active, m.created_at, m.trained_at,
       m.training_seconds, m.activated_at,
       (SELECT pg_catalog.count(*) FROM rerank.item_factors f
         WHERE f.model_id OPERATOR(pg_catalog.=) m.model_id)
       OPERATOR(pg_catalog.+)
       (SELECT pg_catalog.count(*) FROM rerank.item_neighbors n
         WHERE n.model_id OPERATOR(pg_catalog.=) m.model_id) AS items,
       (SELECT pg_catalog.count(*) FROM rerank.user_factors u
         WHERE u.model_id OPERATOR(pg_catalog.=) m.model_id)
       OPERATOR(pg_catalog.+)
       (SELECT pg_catalog.count(*) FROM rerank.user_neighbors n
         WHERE n.model_id OPERATOR(pg_catalog.=) m.model_id) AS users,
       m.params, m.metrics, m.description
  FROM rerank.models m
 ORDER BY m.model_id;
COMMENT ON VIEW rerank.model_versions IS
    'the registered models, oldest first, with their item and user counts (vectors, or neighbor lists for kNN models)';

-- Candidate features (issue 11, docs/features.md).

-- 50_features.sql: event kinds.  The rows of the shipped event types get
-- their kind while the edit trigger still has its 0.1.0 body (which does
-- not compare kinds), so shipped defaults stay defaults.
ALTER TABLE rerank.event_weights ADD COLUMN kind pg_catalog.text CONSTRAINT event_weights_kind_check
        CHECK (kind OPERATOR(pg_catalog.=) ANY
               (ARRAY['view', 'click', 'favorite', 'cart', 'purchase']::pg_catalog.text[]));
COMMENT ON COLUMN rerank.event_weights.kind IS 'what the event says about the item (view, click, favorite, cart, purchase; NULL: none): the re-visit features record which kinds a user''s events on an item had';
UPDATE rerank.event_weights w SET kind = w.event_type
 WHERE w.kind IS NULL
   AND w.event_type OPERATOR(pg_catalog.=) ANY
       (ARRAY['view', 'click', 'favorite', 'cart', 'purchase']::pg_catalog.text[]);
CREATE OR REPLACE FUNCTION rerank.event_weights_edit() RETURNS pg_catalog.trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- a shipped event type keeps its kind unless the row says otherwise
        IF NEW.kind IS NULL AND NEW.event_type OPERATOR(pg_catalog.=) ANY
               (ARRAY['view', 'click', 'favorite', 'cart', 'purchase']::pg_catalog.text[]) THEN
            NEW.kind := NEW.event_type;
        END IF;
        DELETE FROM rerank.event_weights w
         WHERE w.event_type = NEW.event_type AND w.is_default;
    ELSIF NEW.is_default AND OLD.is_default
          AND (NEW.weight, NEW.is_purchase, NEW.description, NEW.event_type, NEW.kind)
              IS DISTINCT FROM (OLD.weight, OLD.is_purchase, OLD.description, OLD.event_type, OLD.kind) THEN
        NEW.is_default := false;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION rerank.event_weights_edit() IS
    'BEFORE INSERT OR UPDATE trigger of rerank.event_weights: an insert replaces a shipped default of the same event type (and, without a kind, takes the kind of that name: view, click, favorite, cart, purchase), an edit makes the row the DBA''s own';

-- 50_features.sql: what the trigger keeps per history item and the session
-- start.  Rows kept by 0.1.0 get empty arrays: their items read as one event
-- of unknown time and kind until the user's next event rewrites them.
ALTER TABLE rerank.user_features
    ADD COLUMN recent_counts integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN recent_last_at pg_catalog.timestamptz[] NOT NULL DEFAULT '{}',
    ADD COLUMN recent_kinds smallint[] NOT NULL DEFAULT '{}',
    ADD COLUMN session_started_at pg_catalog.timestamptz,
    ADD CONSTRAINT user_features_recent_counts_check
        CHECK (pg_catalog.cardinality(recent_counts) OPERATOR(pg_catalog.=) ANY
               (ARRAY[0, pg_catalog.cardinality(recent_items)])),
    ADD CONSTRAINT user_features_recent_last_at_check
        CHECK (pg_catalog.cardinality(recent_last_at) OPERATOR(pg_catalog.=) ANY
               (ARRAY[0, pg_catalog.cardinality(recent_items)])),
    ADD CONSTRAINT user_features_recent_kinds_check
        CHECK (pg_catalog.cardinality(recent_kinds) OPERATOR(pg_catalog.=) ANY
               (ARRAY[0, pg_catalog.cardinality(recent_items)]));
COMMENT ON COLUMN rerank.user_features.recent_counts IS 'number of events on each recent item (same order) since it entered the history; empty in rows kept before 0.2.0';
COMMENT ON COLUMN rerank.user_features.recent_last_at IS 'time of the last event on each recent item (same order); empty in rows kept before 0.2.0';
COMMENT ON COLUMN rerank.user_features.recent_kinds IS 'event kinds seen on each recent item (same order), bits 1 view, 2 click, 4 favorite, 8 cart, 16 purchase (rerank.event_weights.kind); empty in rows kept before 0.2.0';
COMMENT ON COLUMN rerank.user_features.session_started_at IS 'time of the first event of the user''s last session (a session ends after 30 minutes without an event)';

-- 55_signals.sql: item statistics and co-visitation lists from the event
-- log, and the invalidation of their per-backend cache.
CREATE TABLE rerank.item_stats (
    item_id bigint PRIMARY KEY,
    first_seen_at pg_catalog.timestamptz,
    events bigint NOT NULL DEFAULT 0 CHECK (events OPERATOR(pg_catalog.>=) 0),
    popularity_hour real NOT NULL DEFAULT 0
        CHECK (popularity_hour OPERATOR(pg_catalog.>=) 0 AND popularity_hour OPERATOR(pg_catalog.<) 'Infinity'),
    popularity_day real NOT NULL DEFAULT 0
        CHECK (popularity_day OPERATOR(pg_catalog.>=) 0 AND popularity_day OPERATOR(pg_catalog.<) 'Infinity'),
    popularity_week real NOT NULL DEFAULT 0
        CHECK (popularity_week OPERATOR(pg_catalog.>=) 0 AND popularity_week OPERATOR(pg_catalog.<) 'Infinity'),
    computed_at pg_catalog.timestamptz NOT NULL
);
COMMENT ON TABLE rerank.item_stats IS
    'item popularity and first-seen times, recomputed from the event log by rerank.refresh_item_stats() (on a schedule: no counter is updated on the insert path)';
COMMENT ON COLUMN rerank.item_stats.item_id IS 'the shop''s item id';
COMMENT ON COLUMN rerank.item_stats.first_seen_at IS 'time of the item''s first event in the log (up to computed_at)';
COMMENT ON COLUMN rerank.item_stats.events IS 'events on the item in the refresh''s window';
COMMENT ON COLUMN rerank.item_stats.popularity_hour IS 'events on the item, each weighing 2^(-age / 1 hour) at computed_at';
COMMENT ON COLUMN rerank.item_stats.popularity_day IS 'events on the item, each weighing 2^(-age / 1 day) at computed_at';
COMMENT ON COLUMN rerank.item_stats.popularity_week IS 'events on the item, each weighing 2^(-age / 7 days) at computed_at';
COMMENT ON COLUMN rerank.item_stats.computed_at IS 'the time the counts are decayed to (refresh_item_stats'' as_of)';

CREATE TABLE rerank.item_covisits (
    item_id bigint PRIMARY KEY,
    neighbor_ids bigint[] NOT NULL,
    weights real[] NOT NULL,
    sessions integer NOT NULL CHECK (sessions OPERATOR(pg_catalog.>) 0),
    CHECK (pg_catalog.cardinality(neighbor_ids) OPERATOR(pg_catalog.=) pg_catalog.cardinality(weights))
);
COMMENT ON TABLE rerank.item_covisits IS
    'each item''s co-visitation list: the items most often in the same sessions, built from the event log by rerank.build_covisitation()';
COMMENT ON COLUMN rerank.item_covisits.item_id IS 'the shop''s item id';
COMMENT ON COLUMN rerank.item_covisits.neighbor_ids IS 'the items seen in the same sessions, most often first';
COMMENT ON COLUMN rerank.item_covisits.weights IS 'for each neighbor (same order), the share of the item''s sessions that also hold it, in (0, 1]';
COMMENT ON COLUMN rerank.item_covisits.sessions IS 'number of sessions with the item';

SELECT pg_catalog.pg_extension_config_dump('rerank.item_stats', '');
SELECT pg_catalog.pg_extension_config_dump('rerank.item_covisits', '');

CREATE FUNCTION rerank.refresh_item_stats(events pg_catalog.regclass DEFAULT NULL,
                                          item_column pg_catalog.text DEFAULT NULL,
                                          time_column pg_catalog.text DEFAULT NULL,
                                          as_of pg_catalog.timestamptz DEFAULT NULL,
                                          horizon pg_catalog.interval DEFAULT '28 days')
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'refresh_item_stats'
    LANGUAGE C
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.refresh_item_stats(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.interval) IS
    'recomputes rerank.item_stats as of as_of (NULL: now) from the events of the last horizon (NULL, or the first refresh: all events up to as_of) of every tracked table (or of events with item_column and time_column); returns the number of items; run it on a schedule';
REVOKE EXECUTE ON FUNCTION rerank.refresh_item_stats(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.interval) FROM PUBLIC;

CREATE PROCEDURE rerank.build_covisitation(events pg_catalog.regclass DEFAULT NULL,
                                           user_column pg_catalog.text DEFAULT NULL,
                                           item_column pg_catalog.text DEFAULT NULL,
                                           time_column pg_catalog.text DEFAULT NULL,
                                           session_gap pg_catalog.interval DEFAULT '30 minutes',
                                           window_size integer DEFAULT 10,
                                           neighbors integer DEFAULT 20,
                                           min_count integer DEFAULT 1,
                                           since pg_catalog.timestamptz DEFAULT NULL,
                                           until pg_catalog.timestamptz DEFAULT NULL)
    AS 'MODULE_PATHNAME', 'build_covisitation'
    LANGUAGE C
    SET search_path = pg_catalog, pg_temp;
COMMENT ON PROCEDURE rerank.build_covisitation(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.interval, integer, integer, integer, pg_catalog.timestamptz, pg_catalog.timestamptz) IS
    'rebuilds rerank.item_covisits from the events in (since, until] of every tracked table (or of events with the columns given): each user''s events in time order are cut into sessions at gaps over session_gap; two distinct items of a session at most window_size places apart co-occur; each item keeps its neighbors most co-occurring items with the share of its sessions as weight';
REVOKE EXECUTE ON PROCEDURE rerank.build_covisitation(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.interval, integer, integer, integer, pg_catalog.timestamptz, pg_catalog.timestamptz) FROM PUBLIC;

-- The item signals are served from memory for rerank()
-- (src/cache/signals_cache.c: once per server with the preload, else per
-- backend); a change of the statistics, the lists or the items and their
-- brands makes a new version at commit.
CREATE FUNCTION rerank.signals_cache_invalidate() RETURNS pg_catalog.trigger
    AS 'MODULE_PATHNAME', 'signals_cache_invalidate'
    LANGUAGE C;
COMMENT ON FUNCTION rerank.signals_cache_invalidate() IS
    'AFTER statement trigger of rerank.item_stats, rerank.item_covisits and rerank.items (ids and brands): a change replaces the item signals served to every backend at commit; until then the changing transaction reads its own';
CREATE TRIGGER signals_cache_invalidate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rerank.item_stats
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.signals_cache_invalidate();
CREATE TRIGGER signals_cache_invalidate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rerank.item_covisits
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.signals_cache_invalidate();
CREATE TRIGGER signals_cache_invalidate
    AFTER INSERT OR UPDATE OF item_id, brand OR DELETE OR TRUNCATE ON rerank.items
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.signals_cache_invalidate();

-- 70_rerank.sql: rerank(), rerank_ids() and explain() take as_of.  A new
-- signature is a new function: the 0.1.0 ones are dropped and created
-- anew, and the EXECUTE privileges granted on them (to the serving roles)
-- carried over.
CREATE TABLE rerank.update_grants AS
SELECT p.proname AS fn, a.grantee
  FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
 WHERE p.pronamespace OPERATOR(pg_catalog.=) 'rerank'::pg_catalog.regnamespace
   AND p.proname OPERATOR(pg_catalog.=) ANY (ARRAY['rerank', 'rerank_ids', 'explain']::pg_catalog.name[])
   AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
   AND a.grantee OPERATOR(pg_catalog.<>) p.proowner;
DROP FUNCTION rerank.rerank(bigint, bigint[], integer, double precision, integer, boolean, bigint[], double precision, double precision, double precision, double precision, pg_catalog.text);
DROP FUNCTION rerank.rerank_ids(bigint, bigint[], integer, double precision, integer, boolean, bigint[], double precision, double precision, double precision, double precision, pg_catalog.text);
DROP FUNCTION rerank.explain(bigint, bigint, integer, integer, double precision, double precision, double precision, double precision, pg_catalog.text);

CREATE FUNCTION rerank.rerank(
    user_id bigint,
    item_ids bigint[],
    k integer DEFAULT NULL,
    diversity double precision DEFAULT 0,
    max_per_category integer DEFAULT NULL,
    exclude_purchased boolean DEFAULT false,
    exclude bigint[] DEFAULT NULL,
    model_weight double precision DEFAULT NULL,
    recent_weight double precision DEFAULT NULL,
    position_weight double precision DEFAULT NULL,
    category_weight double precision DEFAULT NULL,
    model pg_catalog.text DEFAULT NULL,
    as_of pg_catalog.timestamptz DEFAULT NULL,
    OUT item_id bigint,
    OUT score double precision,
    OUT rank integer)
    RETURNS SETOF pg_catalog.record
    AS 'MODULE_PATHNAME', 'rerank'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.rerank(bigint, bigint[], integer, double precision, integer,
                                  boolean, bigint[], double precision, double precision,
                                  double precision, double precision, pg_catalog.text, pg_catalog.timestamptz) IS
    're-orders the candidates item_ids for the user by the hand-weighted blend of the candidate features (rerank.candidate_features: model score, recent similarity, re-visits, co-visitation, category and brand affinity, popularity, trend, item age, upstream position, purchases) computed as of as_of (NULL: now); the weights are the rerank.<feature>_weight settings, four of them also arguments; an item without a vector is scored from the features it has; k cuts, diversity applies MMR, max_per_category caps categories, exclude_purchased and exclude filter';

CREATE FUNCTION rerank.rerank_ids(
    user_id bigint,
    item_ids bigint[],
    k integer DEFAULT NULL,
    diversity double precision DEFAULT 0,
    max_per_category integer DEFAULT NULL,
    exclude_purchased boolean DEFAULT false,
    exclude bigint[] DEFAULT NULL,
    model_weight double precision DEFAULT NULL,
    recent_weight double precision DEFAULT NULL,
    position_weight double precision DEFAULT NULL,
    category_weight double precision DEFAULT NULL,
    model pg_catalog.text DEFAULT NULL,
    as_of pg_catalog.timestamptz DEFAULT NULL)
    RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'rerank_ids'
    LANGUAGE C STABLE PARALLEL RESTRICTED
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.rerank_ids(bigint, bigint[], integer, double precision, integer,
                                      boolean, bigint[], double precision, double precision,
                                      double precision, double precision, pg_catalog.text, pg_catalog.timestamptz) IS
    'the item ids of rerank.rerank() with the same arguments, in their new order; NULL when user_id or item_ids is NULL';

CREATE FUNCTION rerank.explain(
    user_id bigint,
    item_id bigint,
    n integer DEFAULT 5,
    upstream_position integer DEFAULT NULL,
    model_weight double precision DEFAULT NULL,
    recent_weight double precision DEFAULT NULL,
    position_weight double precision DEFAULT NULL,
    category_weight double precision DEFAULT NULL,
    model pg_catalog.text DEFAULT NULL,
    as_of pg_catalog.timestamptz DEFAULT NULL,
    OUT term pg_catalog.text,
    OUT history_item_id bigint,
    OUT value double precision,
    OUT contribution double precision)
    RETURNS SETOF pg_catalog.record
    AS 'MODULE_PATHNAME', 'explain'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 12
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.explain(bigint, bigint, integer, integer, double precision,
                                   double precision, double precision, double precision, pg_catalog.text, pg_catalog.timestamptz) IS
    'why rerank() scores the item as it does for the user: every feature (value, NULL when missing, and weighted contribution: the contributions add up to the score), the model score split exactly into per-history-item contributions (as implicit''s explain) and the recent-items similarity split by recent item; the n largest shown, the rest summed';

REVOKE EXECUTE ON FUNCTION rerank.rerank(bigint, bigint[], integer, double precision, integer,
                                         boolean, bigint[], double precision, double precision,
                                         double precision, double precision, pg_catalog.text, pg_catalog.timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.rerank_ids(bigint, bigint[], integer, double precision, integer,
                                             boolean, bigint[], double precision, double precision,
                                             double precision, double precision, pg_catalog.text, pg_catalog.timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.explain(bigint, bigint, integer, integer, double precision,
                                          double precision, double precision, double precision, pg_catalog.text, pg_catalog.timestamptz)
    FROM PUBLIC;

DO $grants$
DECLARE
    fn pg_catalog.name;
    grantee pg_catalog.oid;
BEGIN
    FOR fn, grantee IN SELECT u.fn, u.grantee FROM rerank.update_grants u ORDER BY u.fn, u.grantee LOOP
        EXECUTE pg_catalog.format(
            'GRANT EXECUTE ON FUNCTION rerank.%I(%s) TO %s', fn,
            CASE WHEN fn OPERATOR(pg_catalog.=) 'explain'
                 THEN 'bigint, bigint, integer, integer, double precision, double precision, double precision, double precision, pg_catalog.text, pg_catalog.timestamptz'
                 ELSE 'bigint, bigint[], integer, double precision, integer, boolean, bigint[], double precision, double precision, double precision, double precision, pg_catalog.text, pg_catalog.timestamptz' END,
            CASE WHEN grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                 ELSE pg_catalog.quote_ident(grantee::pg_catalog.regrole::pg_catalog.text) END);
    END LOOP;
END
$grants$;
DROP TABLE rerank.update_grants;

-- 70_rerank.sql: the features of a call, and the blend's weights.
CREATE FUNCTION rerank.candidate_features(
    user_id bigint,
    item_ids bigint[],
    as_of pg_catalog.timestamptz DEFAULT NULL,
    model pg_catalog.text DEFAULT NULL,
    OUT item_id bigint,
    OUT upstream_position integer,
    OUT feature pg_catalog.text,
    OUT value double precision)
    RETURNS SETOF pg_catalog.record
    AS 'MODULE_PATHNAME', 'candidate_features'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 2600
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.candidate_features(bigint, bigint[], pg_catalog.timestamptz, pg_catalog.text) IS
    'the features rerank() scores each candidate from, as of as_of (NULL: now), one row per candidate and feature in feature order; value NULL where the feature is missing; reveals the user''s history (grant it as narrowly as explain)';
REVOKE EXECUTE ON FUNCTION rerank.candidate_features(bigint, bigint[], pg_catalog.timestamptz, pg_catalog.text) FROM PUBLIC;

CREATE FUNCTION rerank.blend_weights(
    OUT feature pg_catalog.text,
    OUT setting pg_catalog.text,
    OUT weight double precision)
    RETURNS SETOF pg_catalog.record
    AS 'MODULE_PATHNAME', 'blend_weights'
    LANGUAGE C STABLE PARALLEL SAFE ROWS 26
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.blend_weights() IS
    'each feature of rerank()''s blend, in feature order, with its weight setting and current value (stable: reads settings)';

-- The learned ranker (issue 11, item 3; docs/ranker.md).

-- 30_models.sql: a model of algorithm ranker, and one active ranker beside
-- the one active factor model.
ALTER TABLE rerank.models DROP CONSTRAINT models_algorithm_check,
    ADD CONSTRAINT models_algorithm_check
        CHECK (algorithm OPERATOR(pg_catalog.=) ANY (ARRAY['imported', 'als', 'item_knn', 'user_knn', 'ranker']));
DROP INDEX rerank.models_one_active;
-- at most one active factor model, and one active ranker (80_ranker.sql)
CREATE UNIQUE INDEX models_one_active ON rerank.models (is_active)
    WHERE is_active AND algorithm OPERATOR(pg_catalog.<>) 'ranker';
CREATE UNIQUE INDEX models_one_active_ranker ON rerank.models (is_active)
    WHERE is_active AND algorithm OPERATOR(pg_catalog.=) 'ranker';

COMMENT ON COLUMN rerank.models.algorithm IS 'imported (vectors brought from elsewhere), als, item_knn, user_knn (factor models) or ranker (a learned ranker, rerank.rankers)';
COMMENT ON COLUMN rerank.models.is_active IS 'true for the factor model that serving and real-time updates use, and for the ranker that scores rerank()''s candidates (at most one of each)';

-- 30_models.sql: the factor model's functions leave the active ranker alone.
CREATE OR REPLACE FUNCTION rerank.active_model() RETURNS pg_catalog.text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT m.name FROM rerank.models m
         WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.<>) 'ranker';
    END;
COMMENT ON FUNCTION rerank.active_model() IS
    'name of the active factor model, NULL when none is active (stable: reads rerank.models)';

CREATE OR REPLACE FUNCTION rerank.switch_active_model(target_id integer, action pg_catalog.text)
    RETURNS pg_catalog.void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    previous_id integer;
    target rerank.models;
BEGIN
    SELECT m.model_id INTO previous_id FROM rerank.models m
     WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.<>) 'ranker';
    IF target_id IS NOT NULL THEN
        SELECT * INTO target FROM rerank.models m WHERE m.model_id = target_id;
        IF target.algorithm OPERATOR(pg_catalog.=) 'ranker' THEN
            RAISE EXCEPTION 'model "%" is a ranker', target.name
                USING ERRCODE = 'wrong_object_type';
        END IF;
        IF target.dimensions > 0 AND target.gram IS NULL THEN
            IF NOT EXISTS (SELECT FROM rerank.item_factors f
                            WHERE f.model_id = target_id) THEN
                RAISE EXCEPTION 'model "%" has no item factors', target.name
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          HINT = 'Load its vectors into rerank.item_factors first.';
            END IF;
            UPDATE rerank.models m
               SET gram = (SELECT rerank.gram_matrix(f.factors)
                             FROM rerank.item_factors f
                            WHERE f.model_id = target_id)
             WHERE m.model_id = target_id;
        END IF;
    END IF;
    UPDATE rerank.models m SET is_active = false
     WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.<>) 'ranker';
    UPDATE rerank.models m SET is_active = true, activated_at = pg_catalog.now()
     WHERE m.model_id = target_id;
    INSERT INTO rerank.model_activations (model_id, previous_model_id, action)
    VALUES (target_id, previous_id, switch_active_model.action);
END
$$;
COMMENT ON FUNCTION rerank.switch_active_model(integer, pg_catalog.text) IS
    'internal: makes a factor model (or none) active, computing its YᵀY if needed, and logs the change';

CREATE OR REPLACE FUNCTION rerank.activate_model(model_name pg_catalog.text) RETURNS pg_catalog.void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    target_id integer := rerank.model_id(model_name);
BEGIN
    -- the served copy first (with the preload: a factor model's snapshot,
    -- a ranker's forest), so nobody waits after the commit
    PERFORM rerank.prepare_activation(target_id);
    -- one activation at a time; readers are not blocked
    LOCK TABLE rerank.models IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT FROM rerank.models m
                WHERE m.model_id = target_id AND m.is_active) THEN
        RAISE NOTICE 'model "%" is already active', model_name;
        RETURN;
    END IF;
    IF EXISTS (SELECT FROM rerank.models m
                WHERE m.model_id = target_id AND m.algorithm OPERATOR(pg_catalog.=) 'ranker') THEN
        PERFORM rerank.switch_active_ranker(target_id, 'activate');
        RETURN;
    END IF;
    PERFORM rerank.switch_active_model(target_id, 'activate');
END
$$;
COMMENT ON FUNCTION rerank.activate_model(pg_catalog.text) IS
    'makes the model the active one in one transaction (computing its YᵀY if missing); the previous one stays registered for rollback_model(); a ranker becomes the active ranker instead (rollback_ranker())';

CREATE OR REPLACE FUNCTION rerank.rollback_model() RETURNS pg_catalog.text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    current_id integer;
    target_id integer;
BEGIN
    LOCK TABLE rerank.models IN SHARE ROW EXCLUSIVE MODE;
    SELECT m.model_id INTO current_id FROM rerank.models m
     WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.<>) 'ranker';
    IF current_id IS NULL THEN
        RAISE EXCEPTION 'no model is active'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- the model this one replaced when it was last activated on purpose
    SELECT a.previous_model_id INTO target_id
      FROM rerank.model_activations a
     WHERE a.model_id = current_id AND a.action = 'activate'
     ORDER BY a.activation_id DESC
     LIMIT 1;
    IF target_id IS NULL THEN
        RAISE EXCEPTION 'no earlier model to roll back to'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The active model replaced no model that still exists.';
    END IF;
    PERFORM rerank.prepare_activation(target_id);
    PERFORM rerank.switch_active_model(target_id, 'rollback');
    RETURN (SELECT m.name FROM rerank.models m WHERE m.model_id = target_id);
END
$$;
COMMENT ON FUNCTION rerank.rollback_model() IS
    're-activates the model that the active one replaced, and returns its name; repeated calls walk further back';

CREATE OR REPLACE FUNCTION rerank.deactivate_model() RETURNS pg_catalog.void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    LOCK TABLE rerank.models IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT FROM rerank.models m
                WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.<>) 'ranker') THEN
        PERFORM rerank.switch_active_model(NULL, 'deactivate');
    END IF;
END
$$;
COMMENT ON FUNCTION rerank.deactivate_model() IS
    'leaves no factor model active: serving scores without a model, triggers keep only features (the active ranker, if any, stays)';

CREATE OR REPLACE FUNCTION rerank.drop_model(model_name pg_catalog.text, force boolean DEFAULT false)
    RETURNS pg_catalog.void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    target_id integer := rerank.model_id(model_name);
BEGIN
    LOCK TABLE rerank.models IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT FROM rerank.models m
                WHERE m.model_id = target_id AND m.is_active) THEN
        IF NOT coalesce(force, false) THEN
            RAISE EXCEPTION 'model "%" is active', model_name
                USING ERRCODE = 'object_in_use',
                      HINT = 'Activate another model first, or pass force => true.';
        END IF;
        IF EXISTS (SELECT FROM rerank.models m
                    WHERE m.model_id = target_id AND m.algorithm OPERATOR(pg_catalog.=) 'ranker') THEN
            PERFORM rerank.switch_active_ranker(NULL, 'deactivate');
        ELSE
            -- the triggers are writing its user vectors: wait for them before
            -- any row (docs/locking.md)
            LOCK TABLE rerank.user_factors IN EXCLUSIVE MODE;
            PERFORM rerank.switch_active_model(NULL, 'deactivate');
        END IF;
    END IF;
    DELETE FROM rerank.models m WHERE m.model_id = target_id;
END
$$;
COMMENT ON FUNCTION rerank.drop_model(pg_catalog.text, boolean) IS
    'deletes a model with all its vectors; an active model only with force => true (then no model is active)';

-- 80_ranker.sql: all of it.
-- The learned ranker (issue 11, item 3): a LambdaMART booster trained in
-- the database from the shop's event log (CALL rerank.train_ranker), kept
-- as a model version of algorithm 'ranker' with its booster in
-- rerank.rankers, activated and rolled back in a slot of its own beside
-- the active factor model.  C code in src/train/train_ranker.c and
-- src/train/ranker_replay.c (training), src/cache/ranker_cache.c and
-- src/serve/scoring.c (serving).
--
-- Privileges: training reads the shop's tables as its caller and writes
-- the registry: EXECUTE is revoked from PUBLIC, as for the other training
-- procedures.  switch_active_ranker, what activation does inside, keeps it,
-- like switch_active_model (it runs as the caller, who needs the registry's
-- table privileges anyway).  Serving reads rerank.rankers through rerank()
-- (SECURITY DEFINER).

CREATE TABLE rerank.rankers (
    model_id integer PRIMARY KEY REFERENCES rerank.models ON DELETE CASCADE,
    features_version integer NOT NULL CHECK (features_version OPERATOR(pg_catalog.>) 0),
    feature_names pg_catalog.text[] NOT NULL,
    booster pg_catalog.bytea NOT NULL,
    factor_model_id integer REFERENCES rerank.models ON DELETE SET NULL
);
COMMENT ON TABLE rerank.rankers IS
    'the booster of each learned ranker (a model of algorithm ranker): what rerank() scores the candidate features with when the ranker is active';
COMMENT ON COLUMN rerank.rankers.model_id IS 'the model (algorithm ranker)';
COMMENT ON COLUMN rerank.rankers.features_version IS 'the version of the candidate features (their list, order and definitions) the booster was trained on; a ranker is served only by a build that computes the same version (rerank.features_version())';
COMMENT ON COLUMN rerank.rankers.feature_names IS 'the features in the booster''s column order';
COMMENT ON COLUMN rerank.rankers.booster IS 'the XGBoost booster as saved in JSON (XGBoosterSaveModelToBuffer): convert_from(booster, ''UTF8'')::jsonb reads it';
COMMENT ON COLUMN rerank.rankers.factor_model_id IS 'the factor model that was active when the ranker was trained (its model_score and recent_similarity came from it); NULL: none, or dropped since';

-- A changed booster bumps the model's factors_version, as changed item
-- factors do, so backends that cache its forest rebuild it.
CREATE TRIGGER rankers_inserted AFTER INSERT ON rerank.rankers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER rankers_updated AFTER UPDATE ON rerank.rankers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER rankers_deleted AFTER DELETE ON rerank.rankers
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER rankers_truncated AFTER TRUNCATE ON rerank.rankers
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();

SELECT pg_catalog.pg_extension_config_dump('rerank.rankers', '');

CREATE FUNCTION rerank.features_version() RETURNS integer
    AS 'MODULE_PATHNAME', 'features_version'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION rerank.features_version() IS
    'the version of the candidate features this build computes (core/features.h, FEATURES_VERSION); a ranker trained on another version is not served';

-- Makes a ranker (or none) the active one; the caller holds the registry lock.
CREATE FUNCTION rerank.switch_active_ranker(target_id integer, action pg_catalog.text)
    RETURNS pg_catalog.void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    previous_id integer;
    target rerank.models;
    version integer;
BEGIN
    SELECT m.model_id INTO previous_id FROM rerank.models m
     WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.=) 'ranker';
    IF target_id IS NOT NULL THEN
        SELECT * INTO target FROM rerank.models m WHERE m.model_id OPERATOR(pg_catalog.=) target_id;
        IF target.algorithm OPERATOR(pg_catalog.<>) 'ranker' THEN
            RAISE EXCEPTION 'model "%" is not a ranker', target.name
                USING ERRCODE = 'wrong_object_type';
        END IF;
        SELECT r.features_version INTO version FROM rerank.rankers r
         WHERE r.model_id OPERATOR(pg_catalog.=) target_id;
        IF version IS NULL THEN
            RAISE EXCEPTION 'ranker "%" has no booster', target.name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Train it with rerank.train_ranker().';
        END IF;
        IF version OPERATOR(pg_catalog.<>) rerank.features_version() THEN
            RAISE EXCEPTION 'ranker "%" was trained on features version %, this build computes version %',
                            target.name, version, rerank.features_version()
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Train a new ranker with rerank.train_ranker().';
        END IF;
    END IF;
    UPDATE rerank.models m SET is_active = false
     WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.=) 'ranker';
    UPDATE rerank.models m SET is_active = true, activated_at = pg_catalog.now()
     WHERE m.model_id OPERATOR(pg_catalog.=) target_id;
    INSERT INTO rerank.model_activations (model_id, previous_model_id, action)
    VALUES (target_id, previous_id, switch_active_ranker.action);
END
$$;
COMMENT ON FUNCTION rerank.switch_active_ranker(integer, pg_catalog.text) IS
    'internal: makes a ranker (or none) the active ranker, after checking its features version, and logs the change';

CREATE FUNCTION rerank.active_ranker() RETURNS pg_catalog.text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT m.name FROM rerank.models m
         WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.=) 'ranker';
    END;
COMMENT ON FUNCTION rerank.active_ranker() IS
    'name of the active ranker, NULL when none is active and rerank() scores by the hand-weighted blend (stable: reads rerank.models)';

CREATE FUNCTION rerank.rollback_ranker() RETURNS pg_catalog.text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    current_id integer;
    target_id integer;
BEGIN
    LOCK TABLE rerank.models IN SHARE ROW EXCLUSIVE MODE;
    SELECT m.model_id INTO current_id FROM rerank.models m
     WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.=) 'ranker';
    IF current_id IS NULL THEN
        RAISE EXCEPTION 'no ranker is active'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT a.previous_model_id INTO target_id
      FROM rerank.model_activations a
     WHERE a.model_id OPERATOR(pg_catalog.=) current_id AND a.action OPERATOR(pg_catalog.=) 'activate'
     ORDER BY a.activation_id DESC
     LIMIT 1;
    IF target_id IS NULL THEN
        RAISE EXCEPTION 'no earlier ranker to roll back to'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The active ranker replaced no ranker that still exists.',
                  HINT = 'rerank.deactivate_ranker() returns to the hand-weighted blend.';
    END IF;
    -- its forest first (with the preload), so nobody waits after the commit
    PERFORM rerank.prepare_activation(target_id);
    PERFORM rerank.switch_active_ranker(target_id, 'rollback');
    RETURN (SELECT m.name FROM rerank.models m WHERE m.model_id OPERATOR(pg_catalog.=) target_id);
END
$$;
COMMENT ON FUNCTION rerank.rollback_ranker() IS
    're-activates the ranker that the active one replaced, and returns its name; repeated calls walk further back (the active factor model does not change)';

CREATE FUNCTION rerank.deactivate_ranker() RETURNS pg_catalog.void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    LOCK TABLE rerank.models IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT FROM rerank.models m
                WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.=) 'ranker') THEN
        PERFORM rerank.switch_active_ranker(NULL, 'deactivate');
    END IF;
END
$$;
COMMENT ON FUNCTION rerank.deactivate_ranker() IS
    'leaves no ranker active: rerank() scores by the hand-weighted blend again (the active factor model does not change)';

-- Impressions: what was shown to whom, when, at which position.  A shop's
-- own table is mapped with attach_impressions(); rerank() writes into
-- rerank.impressions when rerank.impression_log_rate asks it to.
CREATE TABLE rerank.impression_sources (
    relid pg_catalog.regclass PRIMARY KEY,
    user_column pg_catalog.text NOT NULL,
    item_column pg_catalog.text NOT NULL,
    time_column pg_catalog.text NOT NULL,
    position_column pg_catalog.text NOT NULL,
    page_column pg_catalog.text
);
COMMENT ON TABLE rerank.impression_sources IS
    'the column mapping of each impressions table, recorded by rerank.attach_impressions()';
COMMENT ON COLUMN rerank.impression_sources.relid IS 'the shop''s impressions table';
COMMENT ON COLUMN rerank.impression_sources.user_column IS 'the user the page was shown to';
COMMENT ON COLUMN rerank.impression_sources.item_column IS 'the item shown';
COMMENT ON COLUMN rerank.impression_sources.time_column IS 'when it was shown';
COMMENT ON COLUMN rerank.impression_sources.position_column IS 'its 1-based position on the page';
COMMENT ON COLUMN rerank.impression_sources.page_column IS 'the page (one request); NULL: the impressions of one user at one time form a page';
SELECT pg_catalog.pg_extension_config_dump('rerank.impression_sources', '');

CREATE FUNCTION rerank.attach_impressions(impressions pg_catalog.regclass,
                                          user_column pg_catalog.text DEFAULT 'user_id',
                                          item_column pg_catalog.text DEFAULT 'item_id',
                                          time_column pg_catalog.text DEFAULT 'shown_at',
                                          position_column pg_catalog.text DEFAULT 'position',
                                          page_column pg_catalog.text DEFAULT NULL)
    RETURNS pg_catalog.void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    roles pg_catalog.text[] := ARRAY['user id', 'item id', 'time', 'position', 'page id'];
    names pg_catalog.text[] := ARRAY[user_column, item_column, time_column, position_column, page_column];
    typ pg_catalog.regtype;
BEGIN
    IF impressions IS NULL OR user_column IS NULL OR item_column IS NULL
       OR time_column IS NULL OR position_column IS NULL THEN
        RAISE EXCEPTION 'the impressions table and its user, item, time and position columns must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR i IN 1 .. 5 LOOP
        CONTINUE WHEN names[i] IS NULL;
        SELECT CASE WHEN t.typtype OPERATOR(pg_catalog.=) 'd' THEN t.typbasetype ELSE t.oid END
               ::pg_catalog.regtype INTO typ
          FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
         WHERE a.attrelid OPERATOR(pg_catalog.=) impressions AND a.attname OPERATOR(pg_catalog.=) names[i]
           AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
        IF typ IS NULL THEN
            RAISE EXCEPTION 'column "%" of "%" does not exist', names[i], impressions
                USING ERRCODE = 'undefined_column',
                      DETAIL = pg_catalog.format('It was given as the %s column.', roles[i]);
        END IF;
        IF (i OPERATOR(pg_catalog.=) 3 AND typ NOT IN ('pg_catalog.timestamptz'::pg_catalog.regtype,
                                                       'pg_catalog.timestamp'::pg_catalog.regtype))
           OR (i OPERATOR(pg_catalog.<>) 3 AND typ NOT IN ('pg_catalog.int2'::pg_catalog.regtype,
                                                           'pg_catalog.int4'::pg_catalog.regtype,
                                                           'pg_catalog.int8'::pg_catalog.regtype)) THEN
            RAISE EXCEPTION 'column "%" of "%" has type %, but the % column must be %', names[i],
                            impressions, typ, roles[i],
                            CASE WHEN i OPERATOR(pg_catalog.=) 3 THEN 'a timestamp' ELSE 'an integer' END
                USING ERRCODE = 'datatype_mismatch';
        END IF;
        typ := NULL;
    END LOOP;
    DELETE FROM rerank.impression_sources s WHERE s.relid OPERATOR(pg_catalog.=) impressions;
    INSERT INTO rerank.impression_sources
    VALUES (impressions, user_column, item_column, time_column, position_column, page_column);
END
$$;
COMMENT ON FUNCTION rerank.attach_impressions(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'records the column mapping of a shop''s impressions table (what was shown to whom, when, at which position, on which page) for rerank.train_ranker(impressions => …)';

CREATE FUNCTION rerank.detach_impressions(impressions pg_catalog.regclass) RETURNS pg_catalog.void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        DELETE FROM rerank.impression_sources s WHERE s.relid OPERATOR(pg_catalog.=) impressions;
    END;
COMMENT ON FUNCTION rerank.detach_impressions(pg_catalog.regclass) IS
    'forgets the column mapping of an impressions table';

CREATE TABLE rerank.impressions (
    user_id bigint NOT NULL,
    item_id bigint NOT NULL,
    shown_at pg_catalog.timestamptz NOT NULL,
    position integer NOT NULL CHECK (position OPERATOR(pg_catalog.>=) 1),
    page_id bigint NOT NULL
);
COMMENT ON TABLE rerank.impressions IS
    'what rerank() returned to whom and when, for the calls that rerank.impression_log_rate samples (at most rerank.impression_log_depth rows per call); train_ranker(impressions => ''rerank.impressions'') learns from it; delete old rows as you see fit';
COMMENT ON COLUMN rerank.impressions.user_id IS 'the user of the call';
COMMENT ON COLUMN rerank.impressions.item_id IS 'an item returned';
COMMENT ON COLUMN rerank.impressions.shown_at IS 'the call''s as_of (default: the transaction''s start)';
COMMENT ON COLUMN rerank.impressions.position IS 'its rank in rerank()''s result';
COMMENT ON COLUMN rerank.impressions.page_id IS 'the call (a number unique per call)';
CREATE SEQUENCE rerank.impressions_page_id_seq;
SELECT pg_catalog.pg_extension_config_dump('rerank.impressions', '');
SELECT pg_catalog.pg_extension_config_dump('rerank.impressions_page_id_seq', '');

CREATE PROCEDURE rerank.train_ranker(
    model_name pg_catalog.text,
    events pg_catalog.regclass DEFAULT NULL,
    user_column pg_catalog.text DEFAULT NULL,
    item_column pg_catalog.text DEFAULT NULL,
    event_type_column pg_catalog.text DEFAULT NULL,
    time_column pg_catalog.text DEFAULT NULL,
    since pg_catalog.timestamptz DEFAULT NULL,
    until pg_catalog.timestamptz DEFAULT NULL,
    impressions pg_catalog.regclass DEFAULT NULL,
    negatives integer DEFAULT 20,
    max_groups integer DEFAULT 100000,
    users double precision DEFAULT 1,
    holdout double precision DEFAULT 0.1,
    trees integer DEFAULT 100,
    max_depth integer DEFAULT 6,
    learning_rate double precision DEFAULT 0.1,
    options pg_catalog.jsonb DEFAULT '{}',
    seed bigint DEFAULT 42,
    activate boolean DEFAULT false,
    replace boolean DEFAULT false,
    description pg_catalog.text DEFAULT NULL)
    AS 'MODULE_PATHNAME', 'train_ranker'
    LANGUAGE C
    -- its queries resolve operators and functions here, never in the caller's path
    SET search_path = pg_catalog, pg_temp;
COMMENT ON PROCEDURE rerank.train_ranker(pg_catalog.text, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.regclass, integer, integer, double precision, double precision, integer, integer, double precision, pg_catalog.jsonb, bigint, boolean, boolean, pg_catalog.text) IS
    'learns a LambdaMART ranker of the candidate features from the event log (every tracked table with attach()''s mapping, or events with the columns given) replayed point in time in [since, until): one ranking group per positive event of a sampled user (the touched item among sampled negatives) or, with impressions, per page shown; the last holdout share is held out and scored beside the blend; registers it as a model of algorithm ranker';

CREATE FUNCTION rerank.ranker_examples(
    events pg_catalog.regclass DEFAULT NULL,
    user_column pg_catalog.text DEFAULT NULL,
    item_column pg_catalog.text DEFAULT NULL,
    event_type_column pg_catalog.text DEFAULT NULL,
    time_column pg_catalog.text DEFAULT NULL,
    since pg_catalog.timestamptz DEFAULT NULL,
    until pg_catalog.timestamptz DEFAULT NULL,
    impressions pg_catalog.regclass DEFAULT NULL,
    negatives integer DEFAULT 20,
    max_groups integer DEFAULT 100000,
    users double precision DEFAULT 1,
    options pg_catalog.jsonb DEFAULT '{}',
    seed bigint DEFAULT 42,
    OUT group_id integer,
    OUT user_id bigint,
    OUT occurred_at pg_catalog.timestamptz,
    OUT item_id bigint,
    OUT source pg_catalog.text,
    OUT label real,
    OUT features real[])
    RETURNS SETOF pg_catalog.record
    AS 'MODULE_PATHNAME', 'ranker_examples'
    LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.ranker_examples(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.regclass, integer, integer, double precision, pg_catalog.jsonb, bigint) IS
    'the training examples train_ranker() would learn from with the same arguments: one row per candidate of each ranking group, its source (event, popular, category, uniform, shown), label and features in feature order (NULL: missing), computed as of the group''s time; for inspection and for training elsewhere (volatile: reads the active model and settings; reveals users'' histories)';

REVOKE EXECUTE ON FUNCTION rerank.rollback_ranker() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.deactivate_ranker() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.attach_impressions(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.detach_impressions(pg_catalog.regclass) FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE rerank.train_ranker(pg_catalog.text, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.regclass, integer, integer, double precision, double precision, integer, integer, double precision, pg_catalog.jsonb, bigint, boolean, boolean, pg_catalog.text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.ranker_examples(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.regclass, integer, integer, double precision, pg_catalog.jsonb, bigint) FROM PUBLIC;
