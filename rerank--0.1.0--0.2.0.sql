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
    'AFTER statement trigger of rerank.item_factors and rerank.item_neighbors: resets the changed models'' YᵀY and gives them a new factors_version';

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
    IF algorithm NOT IN ('imported', 'als', 'item_knn') THEN
        RAISE EXCEPTION 'unknown algorithm "%"', algorithm
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use imported, als or item_knn.';
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

CREATE OR REPLACE FUNCTION rerank.switch_active_model(target_id integer, action pg_catalog.text)
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
-- of the user being inserted, so an event committed before it is forgotten.
CREATE OR REPLACE FUNCTION rerank.forget_user(user_id bigint) RETURNS boolean
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    had_features boolean;
    created boolean;
BEGIN
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'user id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
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
    -- what models were trained on (recommend() and item-kNN read it)
    DELETE FROM rerank.model_interactions i
     WHERE i.model_id = ANY (ARRAY(SELECT m.model_id FROM rerank.models m))
       AND i.user_id = forget_user.user_id;
    RETURN had_features OR FOUND;
END
$$;
