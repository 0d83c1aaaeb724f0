-- Served snapshots (src/cache/snapshot.c): what the server holds in memory
-- to serve models and item categories, ahead-of-time builds, and the step
-- activation takes before it changes the registry.

CREATE FUNCTION rerank.model_memory_info(OUT kind pg_catalog.text, OUT name pg_catalog.text,
                                         OUT object_id bigint, OUT version bigint,
                                         OUT state pg_catalog.text, OUT bytes bigint,
                                         OUT readers integer, OUT mapped_here boolean,
                                         OUT shared boolean, OUT builder_pid integer,
                                         OUT built_at pg_catalog.timestamptz,
                                         OUT build_seconds double precision,
                                         OUT huge_pages boolean)
    RETURNS SETOF pg_catalog.record
    AS 'MODULE_PATHNAME', 'model_memory'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION rerank.model_memory_info() IS
    'the versions held in memory for this database: with rerank in shared_preload_libraries the server''s shared copies (building, ready, retiring, over budget) with their readers, else this backend''s own (volatile: shared state)';

CREATE VIEW rerank.model_memory AS
SELECT i.kind, i.name, i.object_id, i.version, i.state, i.bytes, i.readers,
       i.mapped_here, i.shared, i.builder_pid, i.built_at, i.build_seconds, i.huge_pages
  FROM rerank.model_memory_info() i;
COMMENT ON VIEW rerank.model_memory IS
    'what is held in memory to serve this database: model versions (kind model, name, model_id, factors_version) and item catalog versions; bytes, readers (backends mapping it), state, huge_pages (whether its builder found it on huge pages; NULL until built)';

CREATE FUNCTION rerank.warm_model(model_name pg_catalog.text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'warm_model'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION rerank.warm_model(pg_catalog.text) IS
    'builds the served copy of the model''s committed version now (a ranker''s: its forest; once per server with the preload, else in this backend), so that calls after its activation find it ready; true when it is held in memory';

CREATE FUNCTION rerank.prepare_activation(model_id integer) RETURNS pg_catalog.void
    AS 'MODULE_PATHNAME', 'prepare_activation'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION rerank.prepare_activation(integer) IS
    'internal: what activation and rollback do before they change the registry; with the preload, builds the model''s served copy (a ranker''s forest, refused if its booster does not build) so that no backend waits for it after the commit';

-- A dropped model's versions held in memory are released at commit.
CREATE FUNCTION rerank.model_memory_release() RETURNS pg_catalog.trigger
    AS 'MODULE_PATHNAME', 'model_memory_release'
    LANGUAGE C;
COMMENT ON FUNCTION rerank.model_memory_release() IS
    'AFTER DELETE statement trigger of rerank.models: the deleted models'' versions held in memory are released at commit (shared ones freed when no backend maps them)';
CREATE TRIGGER model_memory_release
    AFTER DELETE ON rerank.models
    REFERENCING OLD TABLE AS dropped_models
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.model_memory_release();

REVOKE EXECUTE ON FUNCTION rerank.model_memory_info() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.warm_model(pg_catalog.text) FROM PUBLIC;
