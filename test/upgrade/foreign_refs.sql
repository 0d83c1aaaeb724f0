-- The objects that rerank's own SQL is bound to outside pg_catalog and the
-- extension: one line per (object of the extension, object it uses).  What
-- PostgreSQL parsed while the install or update script ran (CHECK
-- constraints, column defaults, views, BEGIN ATOMIC bodies) is bound to the
-- functions, operators and types it resolved then; built-in ones are pinned
-- and leave no pg_depend row, so any row here is an object someone else
-- made: what a hijacked install looks like (issue 10: a planted
-- rerank.>=(real, integer) bound in the CHECK of event_weights).  Empty on
-- a sound install.  The same query guards rerank--0.1.0--0.2.0.sql.
WITH RECURSIVE
ext AS (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'rerank'),
members AS (
    SELECT d.classid, d.objid FROM pg_catalog.pg_depend d, ext
     WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
       AND d.refobjid OPERATOR(pg_catalog.=) ext.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'),
rels AS (
    SELECT m.objid AS oid FROM members m
     WHERE m.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass),
-- the extension's objects and the parts PostgreSQL parsed for them
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
-- what counts as the extension's own: members, the indexes and sequences
-- of its tables, and their row and array types
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
