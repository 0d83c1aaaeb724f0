-- expect: relation
CREATE VIEW rerank.v AS SELECT m.name FROM models m;
CREATE FUNCTION rerank.f() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN RETURN (SELECT pg_catalog.count(*) FROM user_features); END $$;
CREATE FUNCTION rerank.g() RETURNS bigint
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
    AS 'SELECT pg_catalog.count(*) FROM models WHERE name = ''x''';
