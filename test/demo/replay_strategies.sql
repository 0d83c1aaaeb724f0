-- test/demo/replay_strategies.sql: the strategies of the replay (docs/benchmarks.md,
-- "The replay protocol"), printed in this order.  Read by psql after
-- test/demo/replay.sql, with the variables model (the trained model, active)
-- and stale (its frozen copy: the item vectors and the user vectors as
-- trained, never updated by the trigger).
--
-- A strategy ranks one candidate list for one user at one moment: its
-- expression is evaluated inside the replay procedure before each ranked
-- event, where these variables are set:
--   r_user   bigint     the user
--   r_items  bigint[]   the candidates in upstream order (the target among them)
--   r_seq    bigint     the event's place in replay.log; the state before it
--                       is the events with a smaller seq
--   r_at     timestamptz the event's time
-- and returns the candidates in the strategy's order (bigint[]); the target's
-- position is its rank, a target left out is a miss.  The expression may
-- call any function, e.g. rerank.rerank_ids() with arguments, or read
-- replay.log and replay.catalog (test/demo/replay.sql), but only rows with
-- seq < r_seq.  setup, when given, is one statement run once before the
-- stream (after training, with the user features seeded and the trigger
-- attached; the history is in the data set's events table, the stream not
-- yet), e.g. to train what the strategy needs.
--
-- To add a strategy, add a row (its name: lower case, digits, _).  One that
-- needs settings other than the defaults wraps its call in a function with
-- SET clauses, so that it cannot change what the other strategies compute:
--
--   CREATE FUNCTION replay.blend_v2(u bigint, items bigint[]) RETURNS bigint[]
--       LANGUAGE sql SET rerank.recent_weight = 0.5
--       AS $$ SELECT rerank.rerank_ids(u, items) $$;
--   INSERT INTO replay.strategies (name, expression, description)
--   VALUES ('blend_v2', 'replay.blend_v2(r_user, r_items)', 'rerank() with ...');
--
-- REPLAY_STRATEGIES=name,name,... (test/bench/replay.sh, test/demo.sh)
-- selects a subset.

-- stale is the model term alone; realtime is rerank()'s default blend as it
-- was when issue 11 began.  Their settings are pinned so that new defaults
-- do not change what they measure (a change that adds terms to rerank()'s
-- blend sets their weights to 0 in both).
CREATE FUNCTION replay.stale(u bigint, items bigint[], model text) RETURNS bigint[]
    LANGUAGE sql STABLE
    SET rerank.model_weight = 1.0 SET rerank.recent_weight = 0
    SET rerank.position_weight = 0 SET rerank.category_weight = 0
    SET rerank.in_model_weight = 0 SET rerank.revisit_weight = 0
    SET rerank.revisit_recency_weight = 0 SET rerank.revisit_log_count_weight = 0
    SET rerank.revisit_log_weight_weight = 0 SET rerank.revisit_clicked_weight = 0
    SET rerank.revisit_favorited_weight = 0 SET rerank.revisit_carted_weight = 0
    SET rerank.revisit_session_weight = 0 SET rerank.purchased_weight = 0
    SET rerank.covisit_weight = 0 SET rerank.covisit_last_weight = 0
    SET rerank.category_recent_weight = 0 SET rerank.category_session_weight = 0
    SET rerank.brand_affinity_weight = 0 SET rerank.brand_recent_weight = 0
    SET rerank.popularity_weight = 0 SET rerank.popularity_week_weight = 0
    SET rerank.trend_weight = 0 SET rerank.item_newness_weight = 0
    SET rerank.user_log_history_weight = 0 SET rerank.session_active_weight = 0
    AS $$ SELECT rerank.rerank_ids(u, items, model => model) $$;
CREATE FUNCTION replay.realtime(u bigint, items bigint[]) RETURNS bigint[]
    LANGUAGE sql STABLE
    SET rerank.model_weight = 1.0 SET rerank.recent_weight = 0.2
    SET rerank.position_weight = 0.1 SET rerank.category_weight = 0.1
    SET rerank.recent_decay = 0.8 SET rerank.recent_items = 20
    SET rerank.in_model_weight = 0 SET rerank.revisit_weight = 0
    SET rerank.revisit_recency_weight = 0 SET rerank.revisit_log_count_weight = 0
    SET rerank.revisit_log_weight_weight = 0 SET rerank.revisit_clicked_weight = 0
    SET rerank.revisit_favorited_weight = 0 SET rerank.revisit_carted_weight = 0
    SET rerank.revisit_session_weight = 0 SET rerank.purchased_weight = 0
    SET rerank.covisit_weight = 0 SET rerank.covisit_last_weight = 0
    SET rerank.category_recent_weight = 0 SET rerank.category_session_weight = 0
    SET rerank.brand_affinity_weight = 0 SET rerank.brand_recent_weight = 0
    SET rerank.popularity_weight = 0 SET rerank.popularity_week_weight = 0
    SET rerank.trend_weight = 0 SET rerank.item_newness_weight = 0
    SET rerank.user_log_history_weight = 0 SET rerank.session_active_weight = 0
    AS $$ SELECT rerank.rerank_ids(u, items) $$;

INSERT INTO replay.strategies (name, expression, description) VALUES
('upstream', 'r_items',
 'the list as the generator orders it'),
('popularity', 'replay.by_popularity(r_items, r_seq)',
 'by the number of events of the item before the event, most first'),
('repeat_category', 'replay.repeat_then_category(r_user, r_items, r_seq)',
 'the items the user touched before first, most recent first; then by the user''s events in the item''s category'),
('stale', format('replay.stale(r_user, r_items, %L)', :'stale'),
 'the model as trained: its score with the user vectors as trained'),
('realtime', 'replay.realtime(r_user, r_items)',
 'rerank() with the default blend of issue 11''s start, vectors and features kept by the trigger');

-- The new blend: rerank()'s default weights over every candidate feature
-- (docs/features.md), served as a shop runs it: the item
-- statistics refreshed every hour and the co-visitation lists rebuilt every
-- day, each from the log up to that moment (refresh_item_stats' as_of,
-- build_covisitation's until), and the features computed as of the event's
-- time (rerank_ids' as_of).  The schedule is kept in replay.signals_clock;
-- the first ranked event builds both from the events before it.
CREATE TABLE replay.signals_clock (stats_at timestamptz NOT NULL, lists_at timestamptz NOT NULL);
INSERT INTO replay.signals_clock VALUES ('-infinity', '-infinity');
CREATE FUNCTION replay.signals_until(t timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    clock replay.signals_clock;
BEGIN
    SELECT * INTO clock FROM replay.signals_clock;
    IF t >= clock.lists_at + interval '1 day' THEN
        CALL rerank.build_covisitation(until => t);
        UPDATE replay.signals_clock SET lists_at = t;
    END IF;
    IF t >= clock.stats_at + interval '1 hour' THEN
        PERFORM rerank.refresh_item_stats(as_of => t);
        UPDATE replay.signals_clock SET stats_at = t;
    END IF;
END
$$;
CREATE FUNCTION replay.blend(u bigint, items bigint[], t timestamptz) RETURNS bigint[]
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM replay.signals_until(t);
    RETURN rerank.rerank_ids(u, items, as_of => t);
END
$$;
INSERT INTO replay.strategies (name, expression, description) VALUES
('blend', 'replay.blend(r_user, r_items, r_at)',
 'rerank() with the new blend''s defaults, features as of the event, item statistics refreshed hourly and co-visitation lists rebuilt daily from the log so far');
