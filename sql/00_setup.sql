-- Helpers shared by the regression files (run first: the files run in name
-- order in one database).

-- The SQLSTATE a statement raises, or 'ok'.
CREATE FUNCTION public.sqlstate_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- The SQLSTATE and message of the error a statement raises, or 'ok'.
CREATE FUNCTION public.error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- The blend as 0.1.0 defined it: model 1, recent 0.2, position 0.1,
-- category 0.1, every other feature 0.  The files that test those four
-- terms (rerank, rerank_knn, serve_paths) start with it; features tests
-- every feature under the shipped defaults.
CREATE FUNCTION public.blend_010() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT setting FROM rerank.blend_weights() LOOP
        PERFORM set_config(s.setting,
                           CASE s.setting WHEN 'rerank.model_weight' THEN '1'
                                          WHEN 'rerank.recent_weight' THEN '0.2'
                                          WHEN 'rerank.position_weight' THEN '0.1'
                                          WHEN 'rerank.category_weight' THEN '0.1'
                                          ELSE '0' END, false);
    END LOOP;
END
$$;

-- The order rerank() gives when the candidates ids that are in the model
-- come in the order ranked and the others keep their upstream slot.
CREATE FUNCTION public.with_upstream_slots(ids bigint[], ranked bigint[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    result bigint[] := '{}';
    next_ranked int := 1;
BEGIN
    FOR pos IN 1 .. cardinality(ids) LOOP
        IF ids[pos] = ANY (ranked) THEN
            result := result || ranked[next_ranked];
            next_ranked := next_ranked + 1;
        ELSE
            result := result || ids[pos];
        END IF;
    END LOOP;
    RETURN result;
END
$$;
