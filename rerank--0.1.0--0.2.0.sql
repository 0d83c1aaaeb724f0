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
