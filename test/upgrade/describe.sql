-- The extension rerank as the catalog sees it, one sorted line per fact,
-- without OIDs: what test/e2e/upgrade.sh compares between a database
-- updated from 0.1.0 and a fresh install of the current version.  Anything
-- an install or update script can change shows here: the member objects;
-- functions with their signatures, defaults, markings, proconfig and
-- bodies (pg_get_functiondef); aggregates; tables with their columns,
-- defaults, constraints, indexes, triggers, options, policies; views;
-- sequences; grants, initial privileges and comments of all of them;
-- pg_extension_config_dump registrations; the rows the script ships.
--
-- Left out on purpose: the schema CREATE EXTENSION records (extnamespace)
-- and whether the schema rerank is a member of the extension.  A 0.1.0
-- install keeps both as 0.1.0 made them (the control file named the schema
-- rerank, so CREATE EXTENSION made it, outside the extension); PostgreSQL
-- offers no way to change them afterwards (a schema that contains its
-- extension cannot be added to it).  upgrade.sh checks them separately.
SET search_path = pg_catalog;
WITH
ext AS (SELECT e.* FROM pg_extension e WHERE e.extname = 'rerank'),
members AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
       AND NOT (d.classid = 'pg_namespace'::regclass AND d.objid = 'rerank'::regnamespace)),
procs AS (SELECT p.* FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid),
rels AS (SELECT c.* FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid),
facts(line) AS (
    -- the extension
    SELECT format('extension|version %s relocatable %s|comment %s', e.extversion, e.extrelocatable,
                  obj_description(e.oid, 'pg_extension'))
      FROM ext e
    UNION ALL
    SELECT format('extension|config dump %s|%s', c.rel::regclass, e.extcondition[c.n])
      FROM ext e, unnest(e.extconfig) WITH ORDINALITY AS c(rel, n)
    UNION ALL
    SELECT format('schema rerank|owner %s|acl %s|comment %s', n.nspowner::regrole, n.nspacl,
                  obj_description(n.oid, 'pg_namespace'))
      FROM pg_namespace n WHERE n.nspname = 'rerank'
    UNION ALL
    -- every member, whatever its kind
    SELECT format('member|%s', pg_describe_object(m.classid, m.objid, 0)) FROM members m
    UNION ALL
    SELECT format('member|%s|initprivs %s %s', pg_describe_object(i.classoid, i.objoid, i.objsubid),
                  i.privtype, i.initprivs)
      FROM pg_init_privs i JOIN members m ON m.classid = i.classoid AND m.objid = i.objoid
    UNION ALL
    SELECT format('member|%s|comment %s', pg_describe_object(m.classid, m.objid, 0), d.description)
      FROM members m JOIN pg_description d ON d.classoid = m.classid AND d.objoid = m.objid AND d.objsubid = 0
    UNION ALL
    -- functions and procedures: the full definition, line by line
    SELECT format('function %s|def %s|%s', p.oid::regprocedure, l.n, l.line)
      FROM procs p, regexp_split_to_table(pg_get_functiondef(p.oid), E'\n') WITH ORDINALITY AS l(line, n)
     WHERE p.prokind <> 'a'
    UNION ALL
    SELECT format('function %s|owner %s|acl %s|lang %s|kind %s|leakproof %s|cost %s|rows %s',
                  p.oid::regprocedure, p.proowner::regrole, p.proacl,
                  (SELECT lanname FROM pg_language WHERE oid = p.prolang),
                  p.prokind, p.proleakproof, p.procost, p.prorows)
      FROM procs p
    UNION ALL
    SELECT format('aggregate %s|strict %s volatile %s parallel %s|kind %s direct %s|transfn %s finalfn %s '
                  'combinefn %s serialfn %s deserialfn %s|mtransfn %s minvtransfn %s mfinalfn %s|'
                  'finalextra %s mfinalextra %s finalmodify %s mfinalmodify %s|sortop %s|'
                  'transtype %s transspace %s mtranstype %s|initval %s minitval %s',
                  p.oid::regprocedure, p.proisstrict, p.provolatile, p.proparallel, a.aggkind,
                  a.aggnumdirectargs, a.aggtransfn::regprocedure, a.aggfinalfn::regprocedure,
                  a.aggcombinefn::regprocedure, a.aggserialfn::regprocedure,
                  a.aggdeserialfn::regprocedure, a.aggmtransfn::regprocedure,
                  a.aggminvtransfn::regprocedure, a.aggmfinalfn::regprocedure, a.aggfinalextra,
                  a.aggmfinalextra, a.aggfinalmodify, a.aggmfinalmodify, a.aggsortop::regoperator,
                  format_type(a.aggtranstype, NULL), a.aggtransspace,
                  format_type(a.aggmtranstype, NULL), a.agginitval, a.aggminitval)
      FROM procs p JOIN pg_aggregate a ON a.aggfnoid = p.oid
    UNION ALL
    -- relations
    SELECT format('relation %s|kind %s persistence %s|options %s|owner %s|acl %s|rls %s %s|replident %s',
                  c.oid::regclass, c.relkind, c.relpersistence, c.reloptions, c.relowner::regrole,
                  c.relacl, c.relrowsecurity, c.relforcerowsecurity, c.relreplident)
      FROM rels c
    UNION ALL
    SELECT format('relation %s|column %s %s|type %s|not null %s|default %s|identity %s|generated %s|'
                  'collation %s|storage %s|compression %s|stattarget %s|acl %s|comment %s',
                  c.oid::regclass, row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
                  a.attcollation::regcollation, a.attstorage, a.attcompression, a.attstattarget,
                  a.attacl, col_description(c.oid, a.attnum))
      FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    UNION ALL
    SELECT format('relation %s|constraint %s|%s|deferrable %s %s|validated %s|noinherit %s|comment %s',
                  c.oid::regclass, k.conname, pg_get_constraintdef(k.oid), k.condeferrable,
                  k.condeferred, k.convalidated, k.connoinherit,
                  obj_description(k.oid, 'pg_constraint'))
      FROM rels c JOIN pg_constraint k ON k.conrelid = c.oid
    UNION ALL
    SELECT format('relation %s|index %s|clustered %s replident %s|comment %s', c.oid::regclass,
                  pg_get_indexdef(i.indexrelid), i.indisclustered, i.indisreplident,
                  obj_description(i.indexrelid, 'pg_class'))
      FROM rels c JOIN pg_index i ON i.indrelid = c.oid
    UNION ALL
    SELECT format('relation %s|trigger %s|enabled %s|comment %s', c.oid::regclass,
                  pg_get_triggerdef(t.oid), t.tgenabled, obj_description(t.oid, 'pg_trigger'))
      FROM rels c JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
    UNION ALL
    SELECT format('relation %s|rule %s', c.oid::regclass, pg_get_ruledef(r.oid))
      FROM rels c JOIN pg_rewrite r ON r.ev_class = c.oid AND r.rulename <> '_RETURN'
    UNION ALL
    SELECT format('relation %s|view %s', c.oid::regclass, pg_get_viewdef(c.oid))
      FROM rels c WHERE c.relkind IN ('v', 'm')
    UNION ALL
    SELECT format('relation %s|policy %s|cmd %s permissive %s|roles %s|using %s|check %s',
                  c.oid::regclass, p.polname, p.polcmd, p.polpermissive, p.polroles::regrole[],
                  pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
      FROM rels c JOIN pg_policy p ON p.polrelid = c.oid
    UNION ALL
    SELECT format('relation %s|sequence %s start %s increment %s min %s max %s cache %s cycle %s',
                  c.oid::regclass, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin,
                  s.seqmax, s.seqcache, s.seqcycle)
      FROM rels c JOIN pg_sequence s ON s.seqrelid = c.oid
    UNION ALL
    -- sequences behind identity columns and their owners (not members)
    SELECT format('relation %s|owned sequence %s|%s|start %s increment %s max %s cache %s|acl %s',
                  c.oid::regclass, d.objid::regclass, d.deptype, s.seqstart, s.seqincrement, s.seqmax,
                  s.seqcache, sc.relacl)
      FROM rels c JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
                                  AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
      JOIN pg_sequence s ON s.seqrelid = d.objid JOIN pg_class sc ON sc.oid = d.objid
    UNION ALL
    -- types
    SELECT format('type %s|kind %s|acl %s|comment %s', t.oid::regtype, t.typtype, t.typacl,
                  obj_description(t.oid, 'pg_type'))
      FROM pg_type t JOIN members m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
    UNION ALL
    -- rows the script ships
    SELECT format('shipped row|event_weights|%s', w)
      FROM rerank.event_weights w WHERE w.is_default
)
SELECT line FROM facts ORDER BY line COLLATE "C";
