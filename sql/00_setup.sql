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
