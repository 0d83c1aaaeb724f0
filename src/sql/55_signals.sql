-- Item signals computed from the shop's event log on a schedule, never on
-- the insert path: popularity and first-seen times (rerank.item_stats) and
-- co-visitation lists (rerank.item_covisits).  C code in
-- src/behavior/signal_refresh.c; the arithmetic in src/core/item_signals.c.
--
-- Privileges: these functions read the shop's event tables as their caller
-- (no SECURITY DEFINER) and replace the extension's tables: EXECUTE is
-- revoked from PUBLIC, grant it to the role that runs the schedule.

CREATE TABLE rerank.item_stats (
    item_id bigint PRIMARY KEY,
    first_seen_at pg_catalog.timestamptz,
    events bigint NOT NULL DEFAULT 0 CHECK (events OPERATOR(pg_catalog.>=) 0),
    popularity_hour real NOT NULL DEFAULT 0
        CHECK (popularity_hour OPERATOR(pg_catalog.>=) 0 AND popularity_hour OPERATOR(pg_catalog.<) 'Infinity'),
    popularity_day real NOT NULL DEFAULT 0
        CHECK (popularity_day OPERATOR(pg_catalog.>=) 0 AND popularity_day OPERATOR(pg_catalog.<) 'Infinity'),
    popularity_week real NOT NULL DEFAULT 0
        CHECK (popularity_week OPERATOR(pg_catalog.>=) 0 AND popularity_week OPERATOR(pg_catalog.<) 'Infinity'),
    computed_at pg_catalog.timestamptz NOT NULL
);
COMMENT ON TABLE rerank.item_stats IS
    'item popularity and first-seen times, recomputed from the event log by rerank.refresh_item_stats() (on a schedule: no counter is updated on the insert path)';
COMMENT ON COLUMN rerank.item_stats.item_id IS 'the shop''s item id';
COMMENT ON COLUMN rerank.item_stats.first_seen_at IS 'time of the item''s first event in the log (up to computed_at)';
COMMENT ON COLUMN rerank.item_stats.events IS 'events on the item in the refresh''s window';
COMMENT ON COLUMN rerank.item_stats.popularity_hour IS 'events on the item, each weighing 2^(-age / 1 hour) at computed_at';
COMMENT ON COLUMN rerank.item_stats.popularity_day IS 'events on the item, each weighing 2^(-age / 1 day) at computed_at';
COMMENT ON COLUMN rerank.item_stats.popularity_week IS 'events on the item, each weighing 2^(-age / 7 days) at computed_at';
COMMENT ON COLUMN rerank.item_stats.computed_at IS 'the time the counts are decayed to (refresh_item_stats'' as_of)';

CREATE TABLE rerank.item_covisits (
    item_id bigint PRIMARY KEY,
    neighbor_ids bigint[] NOT NULL,
    weights real[] NOT NULL,
    sessions integer NOT NULL CHECK (sessions OPERATOR(pg_catalog.>) 0),
    CHECK (pg_catalog.cardinality(neighbor_ids) OPERATOR(pg_catalog.=) pg_catalog.cardinality(weights))
);
COMMENT ON TABLE rerank.item_covisits IS
    'each item''s co-visitation list: the items most often in the same sessions, built from the event log by rerank.build_covisitation()';
COMMENT ON COLUMN rerank.item_covisits.item_id IS 'the shop''s item id';
COMMENT ON COLUMN rerank.item_covisits.neighbor_ids IS 'the items seen in the same sessions, most often first';
COMMENT ON COLUMN rerank.item_covisits.weights IS 'for each neighbor (same order), the share of the item''s sessions that also hold it, in (0, 1]';
COMMENT ON COLUMN rerank.item_covisits.sessions IS 'number of sessions with the item';

SELECT pg_catalog.pg_extension_config_dump('rerank.item_stats', '');
SELECT pg_catalog.pg_extension_config_dump('rerank.item_covisits', '');

CREATE FUNCTION rerank.refresh_item_stats(events pg_catalog.regclass DEFAULT NULL,
                                          item_column pg_catalog.text DEFAULT NULL,
                                          time_column pg_catalog.text DEFAULT NULL,
                                          as_of pg_catalog.timestamptz DEFAULT NULL,
                                          horizon pg_catalog.interval DEFAULT '28 days')
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'refresh_item_stats'
    LANGUAGE C
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.refresh_item_stats(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.interval) IS
    'recomputes rerank.item_stats as of as_of (NULL: now) from the events of the last horizon (NULL, or the first refresh: all events up to as_of) of every tracked table (or of events with item_column and time_column); returns the number of items; run it on a schedule';
REVOKE EXECUTE ON FUNCTION rerank.refresh_item_stats(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.interval) FROM PUBLIC;

CREATE PROCEDURE rerank.build_covisitation(events pg_catalog.regclass DEFAULT NULL,
                                           user_column pg_catalog.text DEFAULT NULL,
                                           item_column pg_catalog.text DEFAULT NULL,
                                           time_column pg_catalog.text DEFAULT NULL,
                                           session_gap pg_catalog.interval DEFAULT '30 minutes',
                                           window_size integer DEFAULT 10,
                                           neighbors integer DEFAULT 20,
                                           min_count integer DEFAULT 1,
                                           since pg_catalog.timestamptz DEFAULT NULL,
                                           until pg_catalog.timestamptz DEFAULT NULL)
    AS 'MODULE_PATHNAME', 'build_covisitation'
    LANGUAGE C
    SET search_path = pg_catalog, pg_temp;
COMMENT ON PROCEDURE rerank.build_covisitation(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.interval, integer, integer, integer, pg_catalog.timestamptz, pg_catalog.timestamptz) IS
    'rebuilds rerank.item_covisits from the events in (since, until] of every tracked table (or of events with the columns given): each user''s events in time order are cut into sessions at gaps over session_gap; two distinct items of a session at most window_size places apart co-occur; each item keeps its neighbors most co-occurring items with the share of its sessions as weight';
REVOKE EXECUTE ON PROCEDURE rerank.build_covisitation(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.interval, integer, integer, integer, pg_catalog.timestamptz, pg_catalog.timestamptz) FROM PUBLIC;

-- The item signals are served from memory for rerank()
-- (src/cache/signals_cache.c: once per server with the preload, else per
-- backend); a change of the statistics, the lists or the items and their
-- brands makes a new version at commit.
CREATE FUNCTION rerank.signals_cache_invalidate() RETURNS pg_catalog.trigger
    AS 'MODULE_PATHNAME', 'signals_cache_invalidate'
    LANGUAGE C;
COMMENT ON FUNCTION rerank.signals_cache_invalidate() IS
    'AFTER statement trigger of rerank.item_stats, rerank.item_covisits and rerank.items (ids and brands): a change replaces the item signals served to every backend at commit; until then the changing transaction reads its own';
CREATE TRIGGER signals_cache_invalidate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rerank.item_stats
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.signals_cache_invalidate();
CREATE TRIGGER signals_cache_invalidate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rerank.item_covisits
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.signals_cache_invalidate();
CREATE TRIGGER signals_cache_invalidate
    AFTER INSERT OR UPDATE OF item_id, brand OR DELETE OR TRUNCATE ON rerank.items
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.signals_cache_invalidate();
