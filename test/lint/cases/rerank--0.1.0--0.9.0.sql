-- expect: create-or-replace
-- An update script (named like one): a new body for a function of 0.1.0 is
-- fine, a function 0.1.0 did not have is not, nor is a replaced table.
CREATE OR REPLACE FUNCTION rerank.model_id(model_name pg_catalog.text) RETURNS integer
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    AS 'SELECT m.model_id FROM rerank.models m WHERE m.name = model_name';
CREATE OR REPLACE FUNCTION rerank.not_in_0_1_0() RETURNS integer
    LANGUAGE sql SET search_path = pg_catalog, pg_temp AS 'SELECT 1';
CREATE OR REPLACE VIEW rerank.model_versions AS SELECT 1 AS x;
