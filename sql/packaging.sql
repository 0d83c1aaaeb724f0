-- The installed extension as the install script must leave it (issue 10):
-- its version, its own schema (a member, so DROP EXTENSION drops it), every
-- SQL and PL/pgSQL function and every SECURITY DEFINER one with its
-- search_path pinned, and nothing it uses outside pg_catalog and itself
-- (test/upgrade/foreign_refs.sql; test/e2e/install_hijack.sh plants such
-- objects, test/e2e/upgrade.sh compares with an updated install).

SELECT extversion, extrelocatable FROM pg_extension WHERE extname = 'rerank';

-- the schema is the extension's own
SELECT pg_describe_object(d.classid, d.objid, 0) AS member
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'rerank')
   AND d.classid = 'pg_namespace'::regclass;

-- functions whose search_path is not pinned: none
SELECT p.oid::regprocedure AS unpinned
  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
  JOIN pg_language l ON l.oid = p.prolang
 WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'rerank')
   AND (l.lanname NOT IN ('c', 'internal') OR p.prosecdef)
   AND NOT coalesce(p.proconfig @> '{"search_path=pg_catalog, pg_temp"}', false);

-- what the extension is bound to outside pg_catalog and itself: nothing
\set ECHO none
\i test/upgrade/foreign_refs.sql
\set ECHO all
