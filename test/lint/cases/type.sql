-- expect: type
CREATE FUNCTION rerank.f(model_name text) RETURNS integer
    AS 'MODULE_PATHNAME', 'f' LANGUAGE C;
CREATE TABLE rerank.t (params jsonb, at pg_catalog.timestamptz DEFAULT '-infinity'::timestamptz);
DO $$
DECLARE
    nsp oid;
BEGIN
    nsp := 0;
END
$$;
ALTER TABLE rerank.t ADD COLUMN note text, ADD flags jsonb;
ALTER TABLE rerank.t ALTER COLUMN note TYPE name;
SELECT pg_catalog.count(*) FROM rerank.t WHERE CAST(t.a AS text) IS NULL;
