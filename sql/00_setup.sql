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
