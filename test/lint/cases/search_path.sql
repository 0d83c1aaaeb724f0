-- expect: search-path create-or-replace
CREATE FUNCTION rerank.f() RETURNS integer
    LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
CREATE FUNCTION rerank.g() RETURNS integer
    AS 'MODULE_PATHNAME', 'g' LANGUAGE C SECURITY DEFINER;
CREATE FUNCTION rerank.h() RETURNS integer
    LANGUAGE sql SET search_path = public, pg_catalog AS 'SELECT 1';
CREATE OR REPLACE FUNCTION rerank.model_id(model_name pg_catalog.text) RETURNS integer
    LANGUAGE sql AS 'SELECT 1';
