-- Real-time behavior: triggers on the shop's own event tables update the
-- user's features (rerank.user_features) and re-solve the user's vector for
-- the active model (rerank.user_factors) in the inserting transaction.
-- C code in src/behavior/ (trigger.c, user_state.c, event_columns.c).

-- SECURITY DEFINER: the application role that inserts events needs no
-- privilege on the extension's tables; who may attach the trigger is
-- controlled by EXECUTE on this function (revoked from PUBLIC below), which
-- CREATE TRIGGER requires.  The search_path is pinned for its queries.
CREATE FUNCTION rerank.track_behavior() RETURNS pg_catalog.trigger
    AS 'MODULE_PATHNAME', 'track_behavior'
    LANGUAGE C
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.track_behavior() IS
    'AFTER INSERT trigger on a shop''s event table, arguments (user id column, item id column, event type column or ''=constant'' [, time column [, dwell column]]): FOR EACH ROW updates the row''s user; FOR EACH STATEMENT with REFERENCING NEW TABLE updates each user of the statement once';
REVOKE EXECUTE ON FUNCTION rerank.track_behavior() FROM PUBLIC;

CREATE FUNCTION rerank.check_event_columns(events pg_catalog.regclass,
                                           user_column pg_catalog.text,
                                           item_column pg_catalog.text,
                                           event_type_column pg_catalog.text,
                                           time_column pg_catalog.text,
                                           dwell_column pg_catalog.text,
                                           event_type pg_catalog.text)
    RETURNS pg_catalog.void
    AS 'MODULE_PATHNAME', 'check_event_columns'
    LANGUAGE C STABLE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.check_event_columns(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'raises an error unless the table''s columns can feed rerank.track_behavior with this mapping (what attach() checks; stable: reads the catalog)';

CREATE FUNCTION rerank.attach(events pg_catalog.regclass,
                              user_column pg_catalog.text DEFAULT 'user_id',
                              item_column pg_catalog.text DEFAULT 'item_id',
                              event_type_column pg_catalog.text DEFAULT NULL,
                              time_column pg_catalog.text DEFAULT NULL,
                              dwell_column pg_catalog.text DEFAULT NULL,
                              event_type pg_catalog.text DEFAULT NULL,
                              for_each pg_catalog.text DEFAULT 'row')
    RETURNS pg_catalog.text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    trigger_name constant text := 'rerank_track_behavior';
    args text[];
BEGIN
    IF events IS NULL OR for_each IS NULL THEN
        RAISE EXCEPTION 'the event table and for_each must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF for_each NOT IN ('row', 'statement') THEN
        RAISE EXCEPTION 'for_each must be ''row'' or ''statement'', not "%"', for_each
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = events) NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%" is not a table', events
            USING ERRCODE = 'wrong_object_type';
    END IF;
    PERFORM rerank.check_event_columns(events, user_column, item_column,
                                       event_type_column, time_column,
                                       dwell_column, event_type);
    IF EXISTS (SELECT FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid = events
                  AND t.tgfoid = 'rerank.track_behavior()'::pg_catalog.regprocedure) THEN
        RAISE EXCEPTION 'table "%" is already tracked', events
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Call rerank.detach() first.';
    END IF;

    args := ARRAY[user_column, item_column,
                  CASE WHEN event_type IS NOT NULL THEN '=' || event_type
                       ELSE coalesce(event_type_column, 'event_type') END,
                  coalesce(time_column, ''), coalesce(dwell_column, '')];
    -- trailing absent columns need no argument
    WHILE args[pg_catalog.cardinality(args)] = '' LOOP
        args := args[1:pg_catalog.cardinality(args) - 1];
    END LOOP;

    EXECUTE pg_catalog.format(
        'CREATE TRIGGER %I AFTER INSERT ON %s %s EXECUTE FUNCTION rerank.track_behavior(%s)',
        trigger_name, events,
        CASE for_each WHEN 'row' THEN 'FOR EACH ROW'
             ELSE 'REFERENCING NEW TABLE AS rerank_new_events FOR EACH STATEMENT' END,
        (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(a), ', ')
           FROM pg_catalog.unnest(args) a));
    RETURN trigger_name;
END
$$;
COMMENT ON FUNCTION rerank.attach(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'validates the column mapping and creates the rerank_track_behavior trigger on the shop''s event table: for_each => ''row'' (one update per event) or ''statement'' (one update per user per statement, for COPY and multi-row INSERT); event_type => a constant for tables without an event type column (orders)';

CREATE FUNCTION rerank.detach(events pg_catalog.regclass) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
    dropped integer := 0;
BEGIN
    FOR t IN SELECT tg.tgname FROM pg_catalog.pg_trigger tg
              WHERE tg.tgrelid = events
                AND tg.tgfoid = 'rerank.track_behavior()'::pg_catalog.regprocedure
                AND tg.tgparentid = 0
              ORDER BY tg.tgname
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', t.tgname, events);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END
$$;
COMMENT ON FUNCTION rerank.detach(pg_catalog.regclass) IS
    'drops every rerank.track_behavior trigger of the table and returns how many; the features already kept stay';

CREATE FUNCTION rerank.rebuild_user_features(events pg_catalog.regclass,
                                             user_column pg_catalog.text DEFAULT 'user_id',
                                             item_column pg_catalog.text DEFAULT 'item_id',
                                             event_type_column pg_catalog.text DEFAULT NULL,
                                             time_column pg_catalog.text DEFAULT NULL,
                                             dwell_column pg_catalog.text DEFAULT NULL,
                                             event_type pg_catalog.text DEFAULT NULL,
                                             replace boolean DEFAULT true,
                                             fold_in boolean DEFAULT true)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'rebuild_user_features'
    LANGUAGE C
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.rebuild_user_features(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, boolean, boolean) IS
    'seeds rerank.user_features from an existing event table (same column mapping as attach), each user''s rows in time order, as the trigger would have; replace => false adds to the stored features; fold_in => true also writes the users'' vectors for the active model; locks the table against inserts meanwhile; returns the number of users';
REVOKE EXECUTE ON FUNCTION rerank.rebuild_user_features(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, boolean, boolean) FROM PUBLIC;

CREATE FUNCTION rerank.fold_in_users(updated_since pg_catalog.timestamptz DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'fold_in_users'
    LANGUAGE C
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.fold_in_users(pg_catalog.timestamptz) IS
    're-solves, for the active model, the vectors of the users whose features changed since updated_since (NULL: all) from their recent histories; returns the number of vectors written';
REVOKE EXECUTE ON FUNCTION rerank.fold_in_users(pg_catalog.timestamptz) FROM PUBLIC;

CREATE FUNCTION rerank.forget_user(user_id bigint) RETURNS boolean
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    had_features boolean;
    created boolean;
    user_knn_models integer[];
    trained_on integer[];
BEGIN
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'user id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the user-kNN models' rows, whose versions change below: before any
    -- user row, in the lock order (docs/locking.md)
    SELECT pg_catalog.array_agg(m.model_id ORDER BY m.model_id) INTO user_knn_models
      FROM (SELECT m.model_id FROM rerank.models m WHERE m.algorithm = 'user_knn'
             ORDER BY m.model_id FOR NO KEY UPDATE) m;
    -- the features row first: the order the triggers lock in
    -- (docs/locking.md).  A first event of the user being inserted right
    -- now is waited for (the insert below waits for the other transaction's
    -- row), so that an event committed before this forget is forgotten too.
    INSERT INTO rerank.user_features (user_id) VALUES (forget_user.user_id)
        ON CONFLICT ON CONSTRAINT user_features_pkey DO NOTHING
        RETURNING true INTO created;
    DELETE FROM rerank.user_features f WHERE f.user_id = forget_user.user_id;
    had_features := FOUND AND created IS NULL;
    -- model_id = ANY (every model): look-ups of the primary keys
    -- (model_id, user_id) rather than scans for the user id alone
    DELETE FROM rerank.user_factors u
     WHERE u.model_id = ANY (ARRAY(SELECT m.model_id FROM rerank.models m))
       AND u.user_id = forget_user.user_id;
    had_features := had_features OR FOUND;
    -- what models were trained on (recommend() and item-kNN read it); the
    -- user-kNN models among them hold it in their index: a new version
    WITH gone AS (
        DELETE FROM rerank.model_interactions i
         WHERE i.model_id = ANY (ARRAY(SELECT m.model_id FROM rerank.models m))
           AND i.user_id = forget_user.user_id
        RETURNING i.model_id)
    SELECT pg_catalog.array_agg(g.model_id) INTO trained_on FROM gone g;
    had_features := had_features OR trained_on IS NOT NULL;
    UPDATE rerank.models m SET factors_version = m.factors_version + 1
     WHERE m.model_id = ANY (user_knn_models) AND m.model_id = ANY (trained_on);
    -- user-kNN: the user's own lists, and the user's place in the others'
    -- (found through the GIN index on neighbor_ids; their trigger gives
    -- the models a new version)
    DELETE FROM rerank.user_neighbors n
     WHERE n.model_id = ANY (ARRAY(SELECT m.model_id FROM rerank.models m))
       AND n.user_id = forget_user.user_id;
    had_features := had_features OR FOUND;
    UPDATE rerank.user_neighbors n
       SET (neighbor_ids, similarities) =
           (SELECT coalesce(pg_catalog.array_agg(n.neighbor_ids[i] ORDER BY i), '{}'),
                   coalesce(pg_catalog.array_agg(n.similarities[i] ORDER BY i), '{}')
              FROM pg_catalog.generate_subscripts(n.neighbor_ids, 1) AS i
             WHERE n.neighbor_ids[i] <> forget_user.user_id)
     WHERE n.neighbor_ids @> ARRAY[forget_user.user_id];
    RETURN had_features OR FOUND;
END
$$;
COMMENT ON FUNCTION rerank.forget_user(bigint) IS
    'deletes everything the extension keeps about a user (features, vectors, training interactions and user-kNN lists in every model, and the user''s place in other users'' lists); true if there was anything; the shop''s own event rows are the shop''s to delete';
REVOKE EXECUTE ON FUNCTION rerank.forget_user(bigint) FROM PUBLIC;

-- Backends cache the event weights; any change reaches them at commit
-- (model_cache_invalidate sends a relcache invalidation of the table it
-- fires on).  Item categories come from the category cache of
-- src/cache/category_cache.c, invalidated by its own trigger on rerank.items.
CREATE TRIGGER event_weights_invalidate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rerank.event_weights
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.model_cache_invalidate();

CREATE FUNCTION rerank.fold_in_history(item_ids bigint[], weights real[],
                                       model pg_catalog.text DEFAULT NULL)
    RETURNS real[]
    AS 'MODULE_PATHNAME', 'fold_in_history'
    LANGUAGE C STABLE;
COMMENT ON FUNCTION rerank.fold_in_history(bigint[], real[], pg_catalog.text) IS
    'the user vector the real-time trigger computes for a history of distinct items and accumulated weights (ALS fold-in, c = 1 + alpha * weight) against the model (NULL: the active one); NULL when no item has a vector (stable: reads the model)';
