-- The learned ranker (issue 11, item 3): a LambdaMART booster trained in
-- the database from the shop's event log (CALL rerank.train_ranker), kept
-- as a model version of algorithm 'ranker' with its booster in
-- rerank.rankers, activated and rolled back in a slot of its own beside
-- the active factor model.  C code in src/train/train_ranker.c and
-- src/train/ranker_replay.c (training), src/cache/ranker_cache.c and
-- src/serve/scoring.c (serving).
--
-- Privileges: training reads the shop's tables as its caller and writes
-- the registry: EXECUTE is revoked from PUBLIC, as for the other training
-- procedures.  switch_active_ranker, what activation does inside, keeps it,
-- like switch_active_model (it runs as the caller, who needs the registry's
-- table privileges anyway).  Serving reads rerank.rankers through rerank()
-- (SECURITY DEFINER).

CREATE TABLE rerank.rankers (
    model_id integer PRIMARY KEY REFERENCES rerank.models ON DELETE CASCADE,
    features_version integer NOT NULL CHECK (features_version OPERATOR(pg_catalog.>) 0),
    feature_names pg_catalog.text[] NOT NULL,
    booster pg_catalog.bytea NOT NULL,
    factor_model_id integer REFERENCES rerank.models ON DELETE SET NULL
);
COMMENT ON TABLE rerank.rankers IS
    'the booster of each learned ranker (a model of algorithm ranker): what rerank() scores the candidate features with when the ranker is active';
COMMENT ON COLUMN rerank.rankers.model_id IS 'the model (algorithm ranker)';
COMMENT ON COLUMN rerank.rankers.features_version IS 'the version of the candidate features (their list, order and definitions) the booster was trained on; a ranker is served only by a build that computes the same version (rerank.features_version())';
COMMENT ON COLUMN rerank.rankers.feature_names IS 'the features in the booster''s column order';
COMMENT ON COLUMN rerank.rankers.booster IS 'the XGBoost booster as saved in JSON (XGBoosterSaveModelToBuffer): convert_from(booster, ''UTF8'')::jsonb reads it';
COMMENT ON COLUMN rerank.rankers.factor_model_id IS 'the factor model that was active when the ranker was trained (its model_score and recent_similarity came from it); NULL: none, or dropped since';

-- A changed booster bumps the model's factors_version, as changed item
-- factors do, so backends that cache its forest rebuild it.
CREATE TRIGGER rankers_inserted AFTER INSERT ON rerank.rankers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER rankers_updated AFTER UPDATE ON rerank.rankers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER rankers_deleted AFTER DELETE ON rerank.rankers
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER rankers_truncated AFTER TRUNCATE ON rerank.rankers
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();

SELECT pg_catalog.pg_extension_config_dump('rerank.rankers', '');

CREATE FUNCTION rerank.features_version() RETURNS integer
    AS 'MODULE_PATHNAME', 'features_version'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION rerank.features_version() IS
    'the version of the candidate features this build computes (core/features.h, FEATURES_VERSION); a ranker trained on another version is not served';

-- Makes a ranker (or none) the active one; the caller holds the registry lock.
CREATE FUNCTION rerank.switch_active_ranker(target_id integer, action pg_catalog.text)
    RETURNS pg_catalog.void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    previous_id integer;
    target rerank.models;
    version integer;
BEGIN
    SELECT m.model_id INTO previous_id FROM rerank.models m
     WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.=) 'ranker';
    IF target_id IS NOT NULL THEN
        SELECT * INTO target FROM rerank.models m WHERE m.model_id OPERATOR(pg_catalog.=) target_id;
        IF target.algorithm OPERATOR(pg_catalog.<>) 'ranker' THEN
            RAISE EXCEPTION 'model "%" is not a ranker', target.name
                USING ERRCODE = 'wrong_object_type';
        END IF;
        SELECT r.features_version INTO version FROM rerank.rankers r
         WHERE r.model_id OPERATOR(pg_catalog.=) target_id;
        IF version IS NULL THEN
            RAISE EXCEPTION 'ranker "%" has no booster', target.name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Train it with rerank.train_ranker().';
        END IF;
        IF version OPERATOR(pg_catalog.<>) rerank.features_version() THEN
            RAISE EXCEPTION 'ranker "%" was trained on features version %, this build computes version %',
                            target.name, version, rerank.features_version()
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Train a new ranker with rerank.train_ranker().';
        END IF;
    END IF;
    UPDATE rerank.models m SET is_active = false
     WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.=) 'ranker';
    UPDATE rerank.models m SET is_active = true, activated_at = pg_catalog.now()
     WHERE m.model_id OPERATOR(pg_catalog.=) target_id;
    INSERT INTO rerank.model_activations (model_id, previous_model_id, action)
    VALUES (target_id, previous_id, switch_active_ranker.action);
END
$$;
COMMENT ON FUNCTION rerank.switch_active_ranker(integer, pg_catalog.text) IS
    'internal: makes a ranker (or none) the active ranker, after checking its features version, and logs the change';

CREATE FUNCTION rerank.active_ranker() RETURNS pg_catalog.text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT m.name FROM rerank.models m
         WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.=) 'ranker';
    END;
COMMENT ON FUNCTION rerank.active_ranker() IS
    'name of the active ranker, NULL when none is active and rerank() scores by the hand-weighted blend (stable: reads rerank.models)';

CREATE FUNCTION rerank.rollback_ranker() RETURNS pg_catalog.text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    current_id integer;
    target_id integer;
BEGIN
    LOCK TABLE rerank.models IN SHARE ROW EXCLUSIVE MODE;
    SELECT m.model_id INTO current_id FROM rerank.models m
     WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.=) 'ranker';
    IF current_id IS NULL THEN
        RAISE EXCEPTION 'no ranker is active'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT a.previous_model_id INTO target_id
      FROM rerank.model_activations a
     WHERE a.model_id OPERATOR(pg_catalog.=) current_id AND a.action OPERATOR(pg_catalog.=) 'activate'
     ORDER BY a.activation_id DESC
     LIMIT 1;
    IF target_id IS NULL THEN
        RAISE EXCEPTION 'no earlier ranker to roll back to'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The active ranker replaced no ranker that still exists.',
                  HINT = 'rerank.deactivate_ranker() returns to the hand-weighted blend.';
    END IF;
    -- its forest first (with the preload), so nobody waits after the commit
    PERFORM rerank.prepare_activation(target_id);
    PERFORM rerank.switch_active_ranker(target_id, 'rollback');
    RETURN (SELECT m.name FROM rerank.models m WHERE m.model_id OPERATOR(pg_catalog.=) target_id);
END
$$;
COMMENT ON FUNCTION rerank.rollback_ranker() IS
    're-activates the ranker that the active one replaced, and returns its name; repeated calls walk further back (the active factor model does not change)';

CREATE FUNCTION rerank.deactivate_ranker() RETURNS pg_catalog.void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    LOCK TABLE rerank.models IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT FROM rerank.models m
                WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.=) 'ranker') THEN
        PERFORM rerank.switch_active_ranker(NULL, 'deactivate');
    END IF;
END
$$;
COMMENT ON FUNCTION rerank.deactivate_ranker() IS
    'leaves no ranker active: rerank() scores by the hand-weighted blend again (the active factor model does not change)';

-- Impressions: what was shown to whom, when, at which position.  A shop's
-- own table is mapped with attach_impressions(); rerank() writes into
-- rerank.impressions when rerank.impression_log_rate asks it to.
CREATE TABLE rerank.impression_sources (
    relid pg_catalog.regclass PRIMARY KEY,
    user_column pg_catalog.text NOT NULL,
    item_column pg_catalog.text NOT NULL,
    time_column pg_catalog.text NOT NULL,
    position_column pg_catalog.text NOT NULL,
    page_column pg_catalog.text
);
COMMENT ON TABLE rerank.impression_sources IS
    'the column mapping of each impressions table, recorded by rerank.attach_impressions()';
COMMENT ON COLUMN rerank.impression_sources.relid IS 'the shop''s impressions table';
COMMENT ON COLUMN rerank.impression_sources.user_column IS 'the user the page was shown to';
COMMENT ON COLUMN rerank.impression_sources.item_column IS 'the item shown';
COMMENT ON COLUMN rerank.impression_sources.time_column IS 'when it was shown';
COMMENT ON COLUMN rerank.impression_sources.position_column IS 'its 1-based position on the page';
COMMENT ON COLUMN rerank.impression_sources.page_column IS 'the page (one request); NULL: the impressions of one user at one time form a page';
SELECT pg_catalog.pg_extension_config_dump('rerank.impression_sources', '');

CREATE FUNCTION rerank.attach_impressions(impressions pg_catalog.regclass,
                                          user_column pg_catalog.text DEFAULT 'user_id',
                                          item_column pg_catalog.text DEFAULT 'item_id',
                                          time_column pg_catalog.text DEFAULT 'shown_at',
                                          position_column pg_catalog.text DEFAULT 'position',
                                          page_column pg_catalog.text DEFAULT NULL)
    RETURNS pg_catalog.void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    roles pg_catalog.text[] := ARRAY['user id', 'item id', 'time', 'position', 'page id'];
    names pg_catalog.text[] := ARRAY[user_column, item_column, time_column, position_column, page_column];
    typ pg_catalog.regtype;
BEGIN
    IF impressions IS NULL OR user_column IS NULL OR item_column IS NULL
       OR time_column IS NULL OR position_column IS NULL THEN
        RAISE EXCEPTION 'the impressions table and its user, item, time and position columns must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR i IN 1 .. 5 LOOP
        CONTINUE WHEN names[i] IS NULL;
        SELECT CASE WHEN t.typtype OPERATOR(pg_catalog.=) 'd' THEN t.typbasetype ELSE t.oid END
               ::pg_catalog.regtype INTO typ
          FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
         WHERE a.attrelid OPERATOR(pg_catalog.=) impressions AND a.attname OPERATOR(pg_catalog.=) names[i]
           AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
        IF typ IS NULL THEN
            RAISE EXCEPTION 'column "%" of "%" does not exist', names[i], impressions
                USING ERRCODE = 'undefined_column',
                      DETAIL = pg_catalog.format('It was given as the %s column.', roles[i]);
        END IF;
        IF (i OPERATOR(pg_catalog.=) 3 AND typ NOT IN ('pg_catalog.timestamptz'::pg_catalog.regtype,
                                                       'pg_catalog.timestamp'::pg_catalog.regtype))
           OR (i OPERATOR(pg_catalog.<>) 3 AND typ NOT IN ('pg_catalog.int2'::pg_catalog.regtype,
                                                           'pg_catalog.int4'::pg_catalog.regtype,
                                                           'pg_catalog.int8'::pg_catalog.regtype)) THEN
            RAISE EXCEPTION 'column "%" of "%" has type %, but the % column must be %', names[i],
                            impressions, typ, roles[i],
                            CASE WHEN i OPERATOR(pg_catalog.=) 3 THEN 'a timestamp' ELSE 'an integer' END
                USING ERRCODE = 'datatype_mismatch';
        END IF;
        typ := NULL;
    END LOOP;
    DELETE FROM rerank.impression_sources s WHERE s.relid OPERATOR(pg_catalog.=) impressions;
    INSERT INTO rerank.impression_sources
    VALUES (impressions, user_column, item_column, time_column, position_column, page_column);
END
$$;
COMMENT ON FUNCTION rerank.attach_impressions(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'records the column mapping of a shop''s impressions table (what was shown to whom, when, at which position, on which page) for rerank.train_ranker(impressions => …)';

CREATE FUNCTION rerank.detach_impressions(impressions pg_catalog.regclass) RETURNS pg_catalog.void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        DELETE FROM rerank.impression_sources s WHERE s.relid OPERATOR(pg_catalog.=) impressions;
    END;
COMMENT ON FUNCTION rerank.detach_impressions(pg_catalog.regclass) IS
    'forgets the column mapping of an impressions table';

CREATE TABLE rerank.impressions (
    user_id bigint NOT NULL,
    item_id bigint NOT NULL,
    shown_at pg_catalog.timestamptz NOT NULL,
    position integer NOT NULL CHECK (position OPERATOR(pg_catalog.>=) 1),
    page_id bigint NOT NULL
);
COMMENT ON TABLE rerank.impressions IS
    'what rerank() returned to whom and when, for the calls that rerank.impression_log_rate samples (at most rerank.impression_log_depth rows per call); train_ranker(impressions => ''rerank.impressions'') learns from it; delete old rows as you see fit';
COMMENT ON COLUMN rerank.impressions.user_id IS 'the user of the call';
COMMENT ON COLUMN rerank.impressions.item_id IS 'an item returned';
COMMENT ON COLUMN rerank.impressions.shown_at IS 'the call''s as_of (default: the transaction''s start)';
COMMENT ON COLUMN rerank.impressions.position IS 'its rank in rerank()''s result';
COMMENT ON COLUMN rerank.impressions.page_id IS 'the call (a number unique per call)';
CREATE SEQUENCE rerank.impressions_page_id_seq;
SELECT pg_catalog.pg_extension_config_dump('rerank.impressions', '');
SELECT pg_catalog.pg_extension_config_dump('rerank.impressions_page_id_seq', '');

CREATE PROCEDURE rerank.train_ranker(
    model_name pg_catalog.text,
    events pg_catalog.regclass DEFAULT NULL,
    user_column pg_catalog.text DEFAULT NULL,
    item_column pg_catalog.text DEFAULT NULL,
    event_type_column pg_catalog.text DEFAULT NULL,
    time_column pg_catalog.text DEFAULT NULL,
    since pg_catalog.timestamptz DEFAULT NULL,
    until pg_catalog.timestamptz DEFAULT NULL,
    impressions pg_catalog.regclass DEFAULT NULL,
    negatives integer DEFAULT 20,
    max_groups integer DEFAULT 100000,
    users double precision DEFAULT 1,
    holdout double precision DEFAULT 0.1,
    trees integer DEFAULT 100,
    max_depth integer DEFAULT 6,
    learning_rate double precision DEFAULT 0.1,
    options pg_catalog.jsonb DEFAULT '{}',
    seed bigint DEFAULT 42,
    activate boolean DEFAULT false,
    replace boolean DEFAULT false,
    description pg_catalog.text DEFAULT NULL)
    AS 'MODULE_PATHNAME', 'train_ranker'
    LANGUAGE C
    -- its queries resolve operators and functions here, never in the caller's path
    SET search_path = pg_catalog, pg_temp;
COMMENT ON PROCEDURE rerank.train_ranker(pg_catalog.text, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.regclass, integer, integer, double precision, double precision, integer, integer, double precision, pg_catalog.jsonb, bigint, boolean, boolean, pg_catalog.text) IS
    'learns a LambdaMART ranker of the candidate features from the event log (every tracked table with attach()''s mapping, or events with the columns given) replayed point in time in [since, until): one ranking group per positive event of a sampled user (the touched item among sampled negatives) or, with impressions, per page shown; the last holdout share is held out and scored beside the blend; registers it as a model of algorithm ranker';

CREATE FUNCTION rerank.ranker_examples(
    events pg_catalog.regclass DEFAULT NULL,
    user_column pg_catalog.text DEFAULT NULL,
    item_column pg_catalog.text DEFAULT NULL,
    event_type_column pg_catalog.text DEFAULT NULL,
    time_column pg_catalog.text DEFAULT NULL,
    since pg_catalog.timestamptz DEFAULT NULL,
    until pg_catalog.timestamptz DEFAULT NULL,
    impressions pg_catalog.regclass DEFAULT NULL,
    negatives integer DEFAULT 20,
    max_groups integer DEFAULT 100000,
    users double precision DEFAULT 1,
    options pg_catalog.jsonb DEFAULT '{}',
    seed bigint DEFAULT 42,
    OUT group_id integer,
    OUT user_id bigint,
    OUT occurred_at pg_catalog.timestamptz,
    OUT item_id bigint,
    OUT source pg_catalog.text,
    OUT label real,
    OUT features real[])
    RETURNS SETOF pg_catalog.record
    AS 'MODULE_PATHNAME', 'ranker_examples'
    LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.ranker_examples(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.regclass, integer, integer, double precision, pg_catalog.jsonb, bigint) IS
    'the training examples train_ranker() would learn from with the same arguments: one row per candidate of each ranking group, its source (event, popular, category, uniform, shown), label and features in feature order (NULL: missing), computed as of the group''s time; for inspection and for training elsewhere (volatile: reads the active model and settings; reveals users'' histories)';

REVOKE EXECUTE ON FUNCTION rerank.rollback_ranker() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.deactivate_ranker() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.attach_impressions(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.detach_impressions(pg_catalog.regclass) FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE rerank.train_ranker(pg_catalog.text, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.regclass, integer, integer, double precision, double precision, integer, integer, double precision, pg_catalog.jsonb, bigint, boolean, boolean, pg_catalog.text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.ranker_examples(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.regclass, integer, integer, double precision, pg_catalog.jsonb, bigint) FROM PUBLIC;
