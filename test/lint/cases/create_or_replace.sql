-- expect: create-or-replace
CREATE OR REPLACE FUNCTION rerank.f() RETURNS integer
    LANGUAGE sql SET search_path = pg_catalog, pg_temp AS 'SELECT 1';
