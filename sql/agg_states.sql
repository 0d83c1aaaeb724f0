-- Aggregate states are untrusted input (issue 10): every state, combine and
-- final function of every aggregate of the extension is handed crafted
-- states, and must answer with a result or a clean error, never a crash or
-- a state it did not check.  The sweep reads the aggregates from the
-- catalog, so a new aggregate is swept (and shows up below) without an edit.
SET extra_float_digits = 0;
\set SHOW_CONTEXT never

-- The issue's reproduction: a k = 2 fold-in state handed to the state
-- function with a 64-dimension model, after rerank() loaded the model.
SELECT rerank.create_model('als64', 64) > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('als64'), i, array_fill((i / 10.0)::real, ARRAY[64])
  FROM generate_series(1, 4) i;
SELECT count(*) FROM rerank.rerank(1, '{1}', model => 'als64');
SELECT rerank.als_fold_in_accum(ARRAY[1,1, rerank.model_id('als64'),2, 0,0,0,0, 0,0, 0,0]::float8[],
       array_fill(0.5::real, ARRAY[64]), 1, 'als64');
-- the same with a 16-dimension model silently corrupted the state
SELECT rerank.create_model('als16', 16) > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('als16'), i, array_fill((i / 10.0)::real, ARRAY[16])
  FROM generate_series(1, 4) i;
SELECT rerank.als_fold_in_accum(ARRAY[1,1, rerank.model_id('als16'),2, 0,0,0,0, 0,0, 0,0]::float8[],
       array_fill(0.5::real, ARRAY[16]), 1, 'als16');

-- The aggregates of the extension, with their functions.
CREATE TEMP VIEW sweep_aggregates AS
SELECT p.oid::regprocedure AS agg,
       a.aggtransfn::regprocedure AS sfunc,
       nullif(a.aggcombinefn, 0)::regprocedure AS cfunc,
       nullif(a.aggfinalfn, 0)::regprocedure AS ffunc,
       p.proargtypes::regtype[] AS argtypes
  FROM pg_catalog.pg_aggregate a
  JOIN pg_catalog.pg_proc p ON p.oid = a.aggfnoid
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                             AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'rerank';
SELECT agg, sfunc, cfunc, ffunc, a.aggtranstype::regtype AS stype, a.agginitval
  FROM sweep_aggregates s JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = s.agg
 ORDER BY agg::text;

-- The model the fold-in states are about: 8 dimensions.
SELECT rerank.create_model('sweep8', 8) > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('sweep8'), i, array_fill((i / 10.0)::real, ARRAY[8])
  FROM generate_series(1, 20) i;

-- A fold-in state: header (rows, weight), model id, k, then payload values
-- (k² + 2k when payload is NULL).
CREATE FUNCTION pg_temp.fold_state(model_id float8, k float8, payload int DEFAULT NULL,
                                   rows float8 DEFAULT 1)
RETURNS float8[] LANGUAGE sql AS $$
    SELECT ARRAY[rows, 1, model_id, k]
           || array_fill(0.25::float8, ARRAY[coalesce(payload, (k * k + 2 * k)::int)])
$$;

-- The crafted states: a label and the state.
CREATE TEMP TABLE sweep_states (label text PRIMARY KEY, state float8[]);
INSERT INTO sweep_states VALUES
    ('empty', '{}'),
    ('null', NULL),
    ('2-D', '{{1,1},{1,1}}'),
    ('NULL element', '{1,1,NULL,1}'),
    ('1 value', '{1}'),
    ('header only', '{1,1}'),
    ('count NaN', '{NaN,1,1}'),
    ('weight infinite', '{1,Infinity,1}'),
    ('payload NaN', '{1,1,NaN}'),
    ('payload -infinity', '{1,1,-Infinity,1,1,1,1,1,1,1}'),
    ('count 0', '{0,1,1}'),
    ('count 1.5', '{1.5,1,1}'),
    ('count -1', '{-1,1,1}'),
    ('weight -1', '{1,-1,1}'),
    ('vector 8', '{2,2,1,2,3,4,5,6,7,8}'),
    ('vector 2', '{2,2,1,2}'),
    ('vector 3e5', ARRAY[1, 1]::float8[] || array_fill(1::float8, ARRAY[300000])),
    ('gram 2x2', '{1,1,1,2,2,4}'),
    ('gram 8x8', ARRAY[1, 1]::float8[] || array_fill(1::float8, ARRAY[64])),
    ('gram 5 values', '{1,1,1,2,3,4,5}');
INSERT INTO sweep_states
SELECT label, pg_temp.fold_state(m, k, payload, rows)
  FROM (SELECT rerank.model_id('sweep8')::float8 AS own) o,
       LATERAL (VALUES
           ('fold-in k=8', own, 8, NULL, 1),
           ('fold-in k=2 (the crash)', own, 2, NULL, 1),
           ('fold-in k=2, k=8 length', own, 2, 80, 1),
           ('fold-in k=8, k=2 length', own, 8, 8, 1),
           ('fold-in k=8, one short', own, 8, 79, 1),
           ('fold-in k=0', own, 0, 0, 1),
           ('fold-in k=-8', own, -8, 80, 1),
           ('fold-in k=2.5', own, 2.5, 11, 1),
           ('fold-in k=1e10', own, 1e10, 8, 1),
           ('fold-in k=2049', own, 2049, 8, 1),
           ('fold-in model 0', 0, 8, NULL, 1),
           ('fold-in model 0.5', 0.5, 8, NULL, 1),
           ('fold-in model 1e10', 1e10, 8, NULL, 1),
           ('fold-in other model', 999999, 8, NULL, 1),
           ('fold-in count 0', own, 8, NULL, 0)
       ) v(label, m, k, payload, rows);

-- The arguments a state function gets after its state: vectors of the
-- model's 8 dimensions, weight 1, the model's name.
CREATE FUNCTION pg_temp.sweep_args(types regtype[]) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(CASE t
               WHEN 'real[]'::regtype THEN '''{0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5}''::real[]'
               WHEN 'real'::regtype THEN '1::real'
               WHEN 'double precision'::regtype THEN '1::float8'
               WHEN 'text'::regtype THEN '''sweep8''::text'
               ELSE 'NULL::' || t::text END, ', ' ORDER BY i)
      FROM unnest(types) WITH ORDINALITY u(t, i)
$$;

-- The SQLSTATE of a call, 'ok', or 'null' for a NULL result.
CREATE FUNCTION pg_temp.outcome(call text, state float8[], other float8[])
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    EXECUTE call INTO result USING state, other;
    RETURN CASE WHEN result IS NULL THEN 'null' ELSE 'ok' END;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- A valid state of each aggregate, to combine the crafted ones with.
CREATE FUNCTION pg_temp.valid_state(sfunc regprocedure, argtypes regtype[])
RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE
    result float8[];
BEGIN
    EXECUTE format('SELECT %s(''{}''::float8[], %s)', sfunc::regproc,
                   pg_temp.sweep_args(argtypes))
       INTO result;
    RETURN result;
END
$$;

-- Per aggregate and crafted state: the state function, the combine
-- function with the state on either side and on both, the final function.
SELECT a.agg::regproc AS aggregate, s.label AS state,
       pg_temp.outcome(format('SELECT %s($1, %s)::text', a.sfunc::regproc,
                              pg_temp.sweep_args(a.argtypes)), s.state, NULL) AS sfunc,
       pg_temp.outcome(format('SELECT %s($1, $2)::text', a.cfunc::regproc), s.state,
                       pg_temp.valid_state(a.sfunc, a.argtypes)) AS combine_left,
       pg_temp.outcome(format('SELECT %s($2, $1)::text', a.cfunc::regproc), s.state,
                       pg_temp.valid_state(a.sfunc, a.argtypes)) AS combine_right,
       pg_temp.outcome(format('SELECT %s($1, $1)::text', a.cfunc::regproc), s.state,
                       NULL) AS combine_self,
       pg_temp.outcome(format('SELECT %s($1)::text', a.ffunc::regproc), s.state,
                       NULL) AS final
  FROM sweep_aggregates a CROSS JOIN sweep_states s
 ORDER BY a.agg::text, s.label;

-- the server is still up, and a valid state still works in every function
SELECT rerank.euclidean_distance(rerank.als_fold_in_final(rerank.als_fold_in_accum('{}', f.factors, 2, 'sweep8')),
       rerank.fold_in_history(ARRAY[f.item_id], '{2}', 'sweep8')) < 1e-5 AS fold_in_state_valid
  FROM rerank.item_factors f WHERE f.model_id = rerank.model_id('sweep8') AND f.item_id = 3;

SELECT rerank.drop_model('sweep8');
SELECT rerank.drop_model('als64');
SELECT rerank.drop_model('als16');
