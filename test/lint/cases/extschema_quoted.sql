-- expect: extschema-quoted
CREATE FUNCTION rerank.f() RETURNS integer
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN RETURN @extschema@.g(); END $$;
