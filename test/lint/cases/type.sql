-- expect: type
CREATE FUNCTION rerank.f(model_name text) RETURNS integer
    AS 'MODULE_PATHNAME', 'f' LANGUAGE C;
CREATE TABLE rerank.t (params jsonb, at pg_catalog.timestamptz DEFAULT '-infinity'::timestamptz);
