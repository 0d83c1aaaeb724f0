-- Behavior data: event weights, item attributes and per-user features.
-- The real-time triggers write rerank.user_features; rerank() and
-- recommend() read it.  Rows are keyed by user_id so that, on a distributed
-- engine, a trigger firing on a shard touches only colocated rows.

CREATE TABLE rerank.event_weights (
    event_type pg_catalog.text PRIMARY KEY CHECK (pg_catalog.length(event_type) OPERATOR(pg_catalog.>=) 1
                                              AND pg_catalog.length(event_type) OPERATOR(pg_catalog.<=) 63),
    weight real NOT NULL CHECK (weight OPERATOR(pg_catalog.>=) 0
                                AND weight OPERATOR(pg_catalog.<) 'Infinity'),
    is_purchase boolean NOT NULL DEFAULT false,
    description pg_catalog.text,
    is_default boolean NOT NULL DEFAULT false,
    kind pg_catalog.text CONSTRAINT event_weights_kind_check
        CHECK (kind OPERATOR(pg_catalog.=) ANY
               (ARRAY['view', 'click', 'favorite', 'cart', 'purchase']::pg_catalog.text[]))
);
COMMENT ON TABLE rerank.event_weights IS
    'weight of each event type in a user''s history (r in the ALS confidence c = 1 + alpha * r); edit freely';
COMMENT ON COLUMN rerank.event_weights.event_type IS 'the shop''s event type, as the trigger receives it';
COMMENT ON COLUMN rerank.event_weights.weight IS 'weight added to the item''s accumulated weight per event (0: counted, not learned from)';
COMMENT ON COLUMN rerank.event_weights.is_purchase IS 'events of this type mark the item as bought (exclude_purchased filters)';
COMMENT ON COLUMN rerank.event_weights.description IS 'free text';
COMMENT ON COLUMN rerank.event_weights.is_default IS 'true for a shipped default row not changed since; only other rows are dumped by pg_dump';
COMMENT ON COLUMN rerank.event_weights.kind IS 'what the event says about the item (view, click, favorite, cart, purchase; NULL: none): the re-visit features record which kinds a user''s events on an item had';

-- Shipped defaults may be changed in place or replaced by an INSERT of the
-- same event type; either way the row stops being a default, so pg_dump
-- keeps it and a restore replaces the default the new extension ships.
CREATE FUNCTION rerank.event_weights_edit() RETURNS pg_catalog.trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- a shipped event type keeps its kind unless the row says otherwise
        IF NEW.kind IS NULL AND NEW.event_type OPERATOR(pg_catalog.=) ANY
               (ARRAY['view', 'click', 'favorite', 'cart', 'purchase']::pg_catalog.text[]) THEN
            NEW.kind := NEW.event_type;
        END IF;
        DELETE FROM rerank.event_weights w
         WHERE w.event_type = NEW.event_type AND w.is_default;
    ELSIF NEW.is_default AND OLD.is_default
          AND (NEW.weight, NEW.is_purchase, NEW.description, NEW.event_type, NEW.kind)
              IS DISTINCT FROM (OLD.weight, OLD.is_purchase, OLD.description, OLD.event_type, OLD.kind) THEN
        NEW.is_default := false;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION rerank.event_weights_edit() IS
    'BEFORE INSERT OR UPDATE trigger of rerank.event_weights: an insert replaces a shipped default of the same event type (and, without a kind, takes the kind of that name: view, click, favorite, cart, purchase), an edit makes the row the DBA''s own';
CREATE TRIGGER event_weights_edit BEFORE INSERT OR UPDATE ON rerank.event_weights
    FOR EACH ROW EXECUTE FUNCTION rerank.event_weights_edit();

INSERT INTO rerank.event_weights (event_type, weight, is_purchase, description, is_default, kind) VALUES
    ('view', 1, false, 'item page viewed', true, 'view'),
    ('click', 2, false, 'item clicked in a list', true, 'click'),
    ('favorite', 3, false, 'item added to favorites or a wish list', true, 'favorite'),
    ('cart', 4, false, 'item added to the cart', true, 'cart'),
    ('purchase', 8, true, 'item bought', true, 'purchase');

CREATE TABLE rerank.items (
    item_id bigint PRIMARY KEY,
    category pg_catalog.text,
    brand pg_catalog.text,
    attributes pg_catalog.jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(attributes) OPERATOR(pg_catalog.=) 'object')
);
COMMENT ON TABLE rerank.items IS
    'optional item attributes used by diversity rules and category affinity; fill from the shop''s catalog';
COMMENT ON COLUMN rerank.items.item_id IS 'the shop''s item id';
COMMENT ON COLUMN rerank.items.category IS 'category (max_per_category caps, category affinity)';
COMMENT ON COLUMN rerank.items.brand IS 'brand';
COMMENT ON COLUMN rerank.items.attributes IS 'any other attributes';

CREATE TABLE rerank.user_features (
    user_id bigint PRIMARY KEY,
    event_counts pg_catalog.jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(event_counts) OPERATOR(pg_catalog.=) 'object'),
    total_dwell_ms bigint NOT NULL DEFAULT 0 CHECK (total_dwell_ms OPERATOR(pg_catalog.>=) 0),
    first_event_at pg_catalog.timestamptz,
    last_event_at pg_catalog.timestamptz,
    recent_items bigint[] NOT NULL DEFAULT '{}',
    recent_weights real[] NOT NULL DEFAULT '{}',
    purchased_items bigint[] NOT NULL DEFAULT '{}',
    category_weights pg_catalog.jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(category_weights) OPERATOR(pg_catalog.=) 'object'),
    updated_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    recent_counts integer[] NOT NULL DEFAULT '{}',
    recent_last_at pg_catalog.timestamptz[] NOT NULL DEFAULT '{}',
    recent_kinds smallint[] NOT NULL DEFAULT '{}',
    session_started_at pg_catalog.timestamptz,
    CHECK (pg_catalog.cardinality(recent_items) OPERATOR(pg_catalog.=) pg_catalog.cardinality(recent_weights)),
    CONSTRAINT user_features_recent_counts_check
        CHECK (pg_catalog.cardinality(recent_counts) OPERATOR(pg_catalog.=) ANY
               (ARRAY[0, pg_catalog.cardinality(recent_items)])),
    CONSTRAINT user_features_recent_last_at_check
        CHECK (pg_catalog.cardinality(recent_last_at) OPERATOR(pg_catalog.=) ANY
               (ARRAY[0, pg_catalog.cardinality(recent_items)])),
    CONSTRAINT user_features_recent_kinds_check
        CHECK (pg_catalog.cardinality(recent_kinds) OPERATOR(pg_catalog.=) ANY
               (ARRAY[0, pg_catalog.cardinality(recent_items)]))
) WITH (toast_tuple_target = 8160, fillfactor = 70);
-- Every tracked event reads and rewrites the user's row (a 100-item history
-- is about 2.5 kB; the trigger writes the arrays and the category map
-- lz4-compressed, about 1.2 kB): kept inline up to a full page, it is never
-- moved to TOAST on the hot path, and pages keep room for the new version
-- (a HOT update, no index entry).
COMMENT ON TABLE rerank.user_features IS
    'per-user behavior kept by the triggers: what the fold-in, rerank() and recommend() read instead of rescanning the shop''s tables';
COMMENT ON COLUMN rerank.user_features.user_id IS 'the shop''s user id';
COMMENT ON COLUMN rerank.user_features.event_counts IS 'event type → number of events';
COMMENT ON COLUMN rerank.user_features.total_dwell_ms IS 'sum of dwell times';
COMMENT ON COLUMN rerank.user_features.first_event_at IS 'time of the first event';
COMMENT ON COLUMN rerank.user_features.last_event_at IS 'time of the last event';
COMMENT ON COLUMN rerank.user_features.recent_items IS 'distinct items of the recent history, most recently touched first, capped';
COMMENT ON COLUMN rerank.user_features.recent_weights IS 'accumulated event weight of each recent item (same order): r in c = 1 + alpha * r';
COMMENT ON COLUMN rerank.user_features.purchased_items IS 'items bought, most recent first, capped';
COMMENT ON COLUMN rerank.user_features.category_weights IS 'category → accumulated event weight, where item categories are known';
COMMENT ON COLUMN rerank.user_features.updated_at IS 'when the row was last written';
COMMENT ON COLUMN rerank.user_features.recent_counts IS 'number of events on each recent item (same order) since it entered the history; empty in rows kept before 0.2.0';
COMMENT ON COLUMN rerank.user_features.recent_last_at IS 'time of the last event on each recent item (same order); empty in rows kept before 0.2.0';
COMMENT ON COLUMN rerank.user_features.recent_kinds IS 'event kinds seen on each recent item (same order), bits 1 view, 2 click, 4 favorite, 8 cart, 16 purchase (rerank.event_weights.kind); empty in rows kept before 0.2.0';
COMMENT ON COLUMN rerank.user_features.session_started_at IS 'time of the first event of the user''s last session (a session ends after 30 minutes without an event)';

SELECT pg_catalog.pg_extension_config_dump('rerank.event_weights', 'WHERE NOT is_default');
SELECT pg_catalog.pg_extension_config_dump('rerank.items', '');
SELECT pg_catalog.pg_extension_config_dump('rerank.user_features', '');
