-- Privileges never depend on what a backend has cached (issue 10): every
-- function of the extension is called as a role without any grant and as a
-- role with only the documented serving grants, once in a fresh backend
-- (caches cold) and once after the caches were warmed by the extension's
-- owner; each call must end the same way both times.  The functions are
-- read from the catalog, so a new one is called (and listed) without an edit.
SET extra_float_digits = 0;
\set SHOW_CONTEXT never
SET client_min_messages = warning;

DROP ROLE IF EXISTS priv_none, priv_serve, priv_rerank_only;
CREATE ROLE priv_none;
CREATE ROLE priv_serve;
GRANT EXECUTE ON FUNCTION rerank.rerank, rerank.rerank_ids, rerank.predict,
    rerank.recommend, rerank.similar_items, rerank.similar_users TO priv_serve;
CREATE ROLE priv_rerank_only;
GRANT EXECUTE ON FUNCTION rerank.rerank TO priv_rerank_only;

SELECT rerank.create_model('priv_m', 2) > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('priv_m'), i, ARRAY[i, 1]::real[] FROM generate_series(1, 10) i;
INSERT INTO rerank.user_factors (model_id, user_id, factors)
VALUES (rerank.model_id('priv_m'), 1, '{1,1}');
INSERT INTO rerank.items (item_id, category) VALUES (9001, 'priv'), (9002, 'priv');
SELECT rerank.activate_model('priv_m');
CREATE TABLE public.priv_events (user_id bigint, item_id bigint, event_type text);

-- The issue's reproduction: a role with EXECUTE on rerank.rerank only, in a
-- fresh backend.
\c -
SET extra_float_digits = 0;
\set SHOW_CONTEXT never
SET ROLE priv_rerank_only;
SELECT rerank.item_vector(1);
SELECT count(*) FROM rerank.rerank(1, '{1,2}');
SELECT rerank.item_vector(1);
SELECT rerank.fold_in_history('{1,2}', '{1,1}');
SELECT rerank.item_vector(1, 'priv_m');
SELECT rerank.als_fold_in(f, 1, 'priv_m') FROM (VALUES ('{1,1}'::real[])) t(f);
SELECT count(*) FROM rerank.model_cache_info();
RESET ROLE;

-- A call of each function, procedure and aggregate with its required
-- arguments (a literal per type), and how it ended: 'ok' or the SQLSTATE.
CREATE FUNCTION public.priv_literal(t regtype) RETURNS text LANGUAGE sql AS $$
    SELECT CASE t
        WHEN 'bigint'::regtype THEN '1::bigint'
        WHEN 'bigint[]'::regtype THEN '''{1,2}''::bigint[]'
        WHEN 'integer'::regtype THEN '2'
        WHEN 'real'::regtype THEN '1::real'
        WHEN 'real[]'::regtype THEN '''{0.5,0.5}''::real[]'
        WHEN 'double precision'::regtype THEN '0.5::float8'
        WHEN 'double precision[]'::regtype THEN '''{}''::float8[]'
        WHEN 'text'::regtype THEN '''priv_m'''
        WHEN 'regclass'::regtype THEN '''public.priv_events''::regclass'
        WHEN 'boolean'::regtype THEN 'false'
        WHEN 'jsonb'::regtype THEN '''{}''::jsonb'
        WHEN 'timestamp with time zone'::regtype THEN 'now()'
        ELSE 'NULL::' || t::text END
$$;
CREATE FUNCTION public.priv_sweep() RETURNS TABLE (fn text, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    p record;
    args text;
    call text;
BEGIN
    FOR p IN
        SELECT f.oid, f.oid::regprocedure::text AS signature, f.prokind,
               f.proargtypes::regtype[] AS types, f.pronargs - f.pronargdefaults AS required
          FROM pg_catalog.pg_proc f
          JOIN pg_catalog.pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = f.oid
                                     AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
          JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'rerank'
         ORDER BY 2
    LOOP
        SELECT coalesce(string_agg(public.priv_literal(t), ', ' ORDER BY i), '') INTO args
          FROM unnest(p.types) WITH ORDINALITY u(t, i) WHERE i <= p.required;
        call := CASE p.prokind
            WHEN 'p' THEN format('CALL %s(%s)', p.oid::regproc, args)
            WHEN 'a' THEN format('SELECT %s(%s) FROM (VALUES (1)) v(x)', p.oid::regproc, args)
            ELSE format('SELECT %s(%s)', p.oid::regproc, args) END;
        fn := p.signature;
        BEGIN
            EXECUTE call;
            outcome := 'ok';
        EXCEPTION WHEN OTHERS THEN
            outcome := SQLSTATE;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;

CREATE TABLE public.priv_results (run text, fn text, outcome text);
GRANT INSERT ON public.priv_results TO PUBLIC;

-- cold: each role in a fresh backend, nothing cached
\c -
SET client_min_messages = warning;
SET ROLE priv_none;
INSERT INTO public.priv_results SELECT 'none_cold', * FROM public.priv_sweep();
\c -
SET client_min_messages = warning;
SET ROLE priv_serve;
INSERT INTO public.priv_results SELECT 'serve_cold', * FROM public.priv_sweep();
RESET ROLE;

-- warm: the owner fills the model, neighbor-list and category caches
SELECT count(*) > 0 AS warmed
  FROM rerank.rerank(1, '{1,2,9001,9002}', max_per_category => 1),
       (SELECT rerank.item_vector(1), rerank.item_vector(2, 'priv_m'),
               rerank.fold_in_history('{1,2}', '{1,1}')) x;
SELECT model, serving FROM rerank.model_cache_info() WHERE model = 'priv_m';
SET ROLE priv_none;
INSERT INTO public.priv_results SELECT 'none_warm', * FROM public.priv_sweep();
RESET ROLE;
SET ROLE priv_serve;
INSERT INTO public.priv_results SELECT 'serve_warm', * FROM public.priv_sweep();
RESET ROLE;

-- every function, as each role, cold and warm
CREATE TEMP VIEW priv_table AS
SELECT fn,
       max(outcome) FILTER (WHERE run = 'none_cold') AS none_cold,
       max(outcome) FILTER (WHERE run = 'none_warm') AS none_warm,
       max(outcome) FILTER (WHERE run = 'serve_cold') AS serve_cold,
       max(outcome) FILTER (WHERE run = 'serve_warm') AS serve_warm
  FROM public.priv_results GROUP BY fn;
SELECT * FROM priv_table ORDER BY fn;
SELECT count(*) AS differ_by_cache FROM priv_table
 WHERE none_cold IS DISTINCT FROM none_warm OR serve_cold IS DISTINCT FROM serve_warm;

DROP VIEW priv_table;
DROP TABLE public.priv_results;
DROP FUNCTION public.priv_sweep(), public.priv_literal(regtype);
DROP TABLE public.priv_events;
DELETE FROM rerank.items WHERE item_id IN (9001, 9002);
SELECT rerank.deactivate_model();
SELECT rerank.drop_model('priv_m');
REVOKE ALL ON FUNCTION rerank.rerank, rerank.rerank_ids, rerank.predict,
    rerank.recommend, rerank.similar_items, rerank.similar_users FROM priv_serve, priv_rerank_only;
DROP ROLE priv_none, priv_serve, priv_rerank_only;
