-- The data behind the candidate features: what the trigger keeps per
-- history item (counts, last times, event kinds) and per user (session
-- start), item statistics from the log (refresh_item_stats) and
-- co-visitation lists (build_covisitation).  Each stored value is checked
-- against the same value computed here in SQL from the event table.
SET extra_float_digits = 0;
\set SHOW_CONTEXT never

CREATE SCHEMA sig;
CREATE TABLE sig.events (
    user_id bigint,
    item_id bigint,
    event_type text,
    occurred_at timestamptz
);

-- event kinds: the shipped types have their own name as kind; a new type
-- gets none unless given, and an insert over a shipped type keeps its kind
SELECT event_type, kind FROM rerank.event_weights ORDER BY weight;
BEGIN;
INSERT INTO rerank.event_weights (event_type, weight) VALUES ('cart', 5), ('pv', 1);
INSERT INTO rerank.event_weights (event_type, weight, kind) VALUES ('fav', 3, 'favorite');
SELECT event_type, weight, kind, is_default FROM rerank.event_weights ORDER BY event_type;
SELECT sqlstate_of($$INSERT INTO rerank.event_weights (event_type, weight, kind) VALUES ('x', 1, 'like')$$);
ROLLBACK;

-- A stream of two days: user 9001 in two sessions (a gap of 2 hours), user
-- 9002 with an event type of weight 0 (counted, not in the history), user
-- 9003 with events out of time order.
INSERT INTO rerank.event_weights (event_type, weight) VALUES ('impression', 0);
-- (earlier files may have changed the shipped rows)
DELETE FROM rerank.event_weights WHERE event_type = 'click';
INSERT INTO rerank.event_weights (event_type, weight) VALUES ('click', 2);
SELECT rerank.attach('sig.events', time_column => 'occurred_at');
INSERT INTO sig.events VALUES
    (9001, 10, 'view',     '2026-03-01 10:00'),
    (9001, 11, 'view',     '2026-03-01 10:05'),
    (9001, 10, 'cart',     '2026-03-01 10:20'),
    (9001, 12, 'click',    '2026-03-01 10:49'),
    (9001, 10, 'purchase', '2026-03-01 12:50'),
    (9001, 13, 'favorite', '2026-03-01 13:00'),
    (9002, 10, 'view',     '2026-03-01 11:00'),
    (9002, 14, 'impression', '2026-03-01 11:01'),
    (9002, 11, 'click',    '2026-03-02 09:00'),
    (9002, 10, 'view',     '2026-03-02 09:10');
-- out of order: the later time stays the item's last; the session starts
-- at the first event and a late one inside its gap moves it back
INSERT INTO sig.events VALUES (9003, 20, 'view', '2026-03-01 10:30');
INSERT INTO sig.events VALUES (9003, 21, 'view', '2026-03-01 10:10');
INSERT INTO sig.events VALUES (9003, 20, 'click', '2026-03-01 10:00');
INSERT INTO sig.events VALUES (9003, 22, 'view', '2026-03-01 09:00');

SELECT user_id, recent_items, recent_weights, recent_counts, recent_last_at,
       recent_kinds, session_started_at, last_event_at
  FROM rerank.user_features WHERE user_id IN (9001, 9002, 9003) ORDER BY user_id;

-- each history entry equals what SQL computes from the events: counts and
-- last times over the events of positive weight, kinds as a bit_or
WITH h AS (
    SELECT f.user_id, x.item_id, x.weight, x.count, x.last_at, x.kinds
      FROM rerank.user_features f,
           unnest(f.recent_items, f.recent_weights, f.recent_counts, f.recent_last_at,
                  f.recent_kinds) AS x(item_id, weight, count, last_at, kinds)
     WHERE f.user_id IN (9001, 9002, 9003)),
s AS (
    SELECT e.user_id, e.item_id, sum(w.weight) AS weight, count(*) AS count,
           max(e.occurred_at) AS last_at,
           bit_or(CASE w.kind WHEN 'view' THEN 1 WHEN 'click' THEN 2 WHEN 'favorite' THEN 4
                              WHEN 'cart' THEN 8 WHEN 'purchase' THEN 16 ELSE 0 END) AS kinds
      FROM sig.events e JOIN rerank.event_weights w USING (event_type)
     WHERE w.weight > 0
     GROUP BY 1, 2)
SELECT count(*) AS entries,
       count(*) FILTER (WHERE h.weight = s.weight AND h.count = s.count AND
                              h.last_at = s.last_at AND h.kinds = s.kinds) AS equal
  FROM h FULL JOIN s USING (user_id, item_id);

-- the history is in order of the events' arrival (most recent first)
SELECT user_id, recent_items FROM rerank.user_features WHERE user_id = 9003;

-- the session start: the first event after a gap of more than 30 minutes,
-- computed over the events in time order (users 9001 and 9002, whose events
-- arrived in order)
WITH e AS (
    SELECT user_id, occurred_at,
           occurred_at - lag(occurred_at) OVER (PARTITION BY user_id ORDER BY occurred_at) AS gap
      FROM sig.events WHERE user_id IN (9001, 9002)),
starts AS (
    SELECT user_id, max(occurred_at) AS started
      FROM e WHERE gap IS NULL OR gap > interval '30 minutes' GROUP BY user_id)
SELECT s.user_id, s.started = f.session_started_at AS equal
  FROM starts s JOIN rerank.user_features f USING (user_id) ORDER BY 1;

-- a gap of exactly 30 minutes continues the session
INSERT INTO sig.events VALUES (9001, 14, 'view', '2026-03-01 13:30');
SELECT session_started_at FROM rerank.user_features WHERE user_id = 9001;
INSERT INTO sig.events VALUES (9001, 14, 'view', '2026-03-01 14:00:01');
SELECT session_started_at, recent_counts[1], recent_last_at[1]
  FROM rerank.user_features WHERE user_id = 9001;

-- the statement form and a rebuild keep the same columns
CREATE TABLE sig.bulk (LIKE sig.events);
SELECT rerank.attach('sig.bulk', time_column => 'occurred_at', for_each => 'statement');
INSERT INTO sig.bulk SELECT user_id + 1000000, item_id, event_type, occurred_at FROM sig.events
 WHERE user_id IN (9001, 9002) ORDER BY occurred_at;
SELECT count(*) AS users,
       count(*) FILTER (WHERE (a.recent_items, a.recent_weights, a.recent_counts,
                              a.recent_last_at, a.recent_kinds, a.session_started_at)
                              = (b.recent_items, b.recent_weights, b.recent_counts,
                                 b.recent_last_at, b.recent_kinds, b.session_started_at)) AS equal
  FROM rerank.user_features a JOIN rerank.user_features b ON b.user_id = a.user_id + 1000000
 WHERE a.user_id IN (9001, 9002);
SELECT rerank.detach('sig.bulk');
CREATE TABLE sig.saved AS SELECT * FROM rerank.user_features WHERE user_id IN (9001, 9002, 9003);
SELECT rerank.rebuild_user_features('sig.events', time_column => 'occurred_at', fold_in => false);
SELECT count(*) AS users,
       count(*) FILTER (WHERE (a.recent_items, a.recent_counts, a.recent_last_at, a.recent_kinds,
                              a.session_started_at)
                              = (b.recent_items, b.recent_counts, b.recent_last_at, b.recent_kinds,
                                 b.session_started_at)) AS equal
  FROM rerank.user_features a JOIN sig.saved b USING (user_id)
 WHERE a.user_id IN (9001, 9002);

-- a row kept before 0.2.0 (no per-item columns, no session) is read with
-- one event per item, times unknown, and continues from there
UPDATE rerank.user_features
   SET recent_counts = '{}', recent_last_at = '{}', recent_kinds = '{}', session_started_at = NULL
 WHERE user_id = 9002;
INSERT INTO sig.events VALUES (9002, 15, 'view', '2026-03-02 09:20');
SELECT recent_items, recent_counts, recent_last_at, recent_kinds, session_started_at
  FROM rerank.user_features WHERE user_id = 9002;
-- the arrays must match the history's length
SELECT sqlstate_of($$UPDATE rerank.user_features SET recent_counts = '{1}' WHERE user_id = 9002$$);

-- ---- item statistics ----

-- popularity: every event (any type) weighs 2^(-age / half-life) at as_of;
-- first seen: the earliest event up to as_of
CREATE FUNCTION pg_temp.expected_stats(as_of timestamptz, since timestamptz)
RETURNS TABLE (item_id bigint, first_seen_at timestamptz, events bigint,
               hour float8, day float8, week float8)
LANGUAGE sql AS $$
SELECT item_id, min(occurred_at), count(*),
       sum(power(2, -extract(epoch FROM as_of - occurred_at) / 3600)),
       sum(power(2, -extract(epoch FROM as_of - occurred_at) / 86400)),
       sum(power(2, -extract(epoch FROM as_of - occurred_at) / 604800))
  FROM sig.events
 WHERE occurred_at <= as_of AND (since IS NULL OR occurred_at > since)
 GROUP BY item_id
$$;

SELECT rerank.refresh_item_stats('sig.events', time_column => 'occurred_at',
                                 as_of => '2026-03-02 12:00');
SELECT item_id, first_seen_at, events, computed_at FROM rerank.item_stats ORDER BY item_id;
SELECT count(*) AS items,
       count(*) FILTER (WHERE s.first_seen_at = e.first_seen_at AND s.events = e.events
                          AND abs(s.popularity_hour - e.hour) <= 1e-6 * (1 + e.hour)
                          AND abs(s.popularity_day - e.day) <= 1e-6 * (1 + e.day)
                          AND abs(s.popularity_week - e.week) <= 1e-6 * (1 + e.week)) AS equal
  FROM rerank.item_stats s FULL JOIN pg_temp.expected_stats('2026-03-02 12:00', NULL) e
       USING (item_id);

-- point in time: a refresh as of an earlier moment counts nothing after it
-- (an item first seen later has no first-seen time), and only the horizon
SELECT rerank.refresh_item_stats('sig.events', time_column => 'occurred_at',
                                 as_of => '2026-03-01 11:00', horizon => '1 hour');
SELECT item_id, first_seen_at, events FROM rerank.item_stats ORDER BY item_id;
SELECT count(*) FILTER (WHERE s.events > 0) AS items,
       count(*) FILTER (WHERE s.events = e.events
                          AND abs(s.popularity_day - e.day) <= 1e-6 * (1 + e.day)) AS equal
  FROM rerank.item_stats s
  JOIN pg_temp.expected_stats('2026-03-01 11:00', '2026-03-01 10:00') e USING (item_id);
-- the first refresh of an empty table reads every event, whatever the horizon
DELETE FROM rerank.item_stats;
SELECT rerank.refresh_item_stats('sig.events', time_column => 'occurred_at',
                                 as_of => '2026-03-02 12:00', horizon => '1 hour');
SELECT item_id, first_seen_at, events FROM rerank.item_stats WHERE item_id IN (10, 22) ORDER BY 1;

-- every tracked table when none is given
SELECT rerank.refresh_item_stats(as_of => '2026-03-02 12:00');
SELECT count(*), sum(events) FROM rerank.item_stats;

-- bad input
SELECT error_of($$SELECT rerank.refresh_item_stats('sig.events')$$);
SELECT error_of($$SELECT rerank.refresh_item_stats(item_column => 'item_id')$$);
SELECT error_of($$SELECT rerank.refresh_item_stats('sig.events', time_column => 'nope')$$);
SELECT error_of($$SELECT rerank.refresh_item_stats('sig.events', item_column => 'event_type', time_column => 'occurred_at')$$);
SELECT error_of($$SELECT rerank.refresh_item_stats('sig.events', time_column => 'user_id')$$);
SELECT error_of($$SELECT rerank.refresh_item_stats('sig.events', time_column => 'occurred_at', horizon => '-1 day')$$);
SELECT error_of($$SELECT rerank.refresh_item_stats('sig.events', time_column => 'occurred_at', as_of => 'infinity')$$);
SELECT error_of($$SELECT rerank.refresh_item_stats('pg_class', time_column => 'occurred_at')$$);

-- ---- co-visitation ----

-- A reference in SQL: sessions cut at gaps over session_gap in each user's
-- events ordered by (time, item); an item counts once per session, at its
-- first place among the session's distinct items; pairs at most w places
-- apart; weight n(i, j) / n(i); the k best by weight, then by id.
CREATE FUNCTION pg_temp.expected_covisits(gap interval, w integer, k integer, min_count integer)
RETURNS TABLE (item_id bigint, neighbor_ids bigint[], weights real[], sessions integer)
LANGUAGE sql AS $$
WITH e AS (
    SELECT user_id, item_id, occurred_at,
           CASE WHEN occurred_at - lag(occurred_at) OVER w0 <= gap THEN 0 ELSE 1 END AS cut
      FROM sig.events
    WINDOW w0 AS (PARTITION BY user_id ORDER BY occurred_at, item_id)),
s AS (
    SELECT user_id, item_id, occurred_at,
           sum(cut) OVER (PARTITION BY user_id ORDER BY occurred_at, item_id) AS session
      FROM e),
firsts AS (
    SELECT user_id, session, item_id, min(occurred_at) AS first_at
      FROM s GROUP BY 1, 2, 3),
places AS (
    SELECT user_id, session, item_id,
           row_number() OVER (PARTITION BY user_id, session ORDER BY first_at, item_id) AS place
      FROM firsts),
n AS (SELECT item_id, count(*)::integer AS sessions FROM places GROUP BY 1),
pairs AS (
    SELECT a.item_id, b.item_id AS neighbor, count(*) AS together
      FROM places a JOIN places b USING (user_id, session)
     WHERE a.item_id <> b.item_id AND abs(a.place - b.place) <= w
     GROUP BY 1, 2 HAVING count(*) >= min_count),
ranked AS (
    SELECT p.item_id, p.neighbor, (p.together::float8 / n.sessions)::real AS weight,
           row_number() OVER (PARTITION BY p.item_id ORDER BY p.together DESC, p.neighbor) AS r
      FROM pairs p JOIN n USING (item_id))
SELECT r.item_id, array_agg(r.neighbor ORDER BY r.r), array_agg(r.weight ORDER BY r.r), n.sessions
  FROM ranked r JOIN n USING (item_id)
 WHERE r.r <= k
 GROUP BY r.item_id, n.sessions
$$;

CALL rerank.build_covisitation('sig.events', time_column => 'occurred_at');
SELECT * FROM rerank.item_covisits ORDER BY item_id;
SELECT count(*) AS items, count(*) FILTER (WHERE c.neighbor_ids = e.neighbor_ids
       AND c.weights = e.weights AND c.sessions = e.sessions) AS equal
  FROM rerank.item_covisits c FULL JOIN pg_temp.expected_covisits('30 minutes', 10, 20, 1) e
       USING (item_id);

-- a longer gap joins user 9001's two sessions; window 1 pairs neighbors only;
-- lists of at most 2; pairs in at least 2 sessions
CALL rerank.build_covisitation('sig.events', time_column => 'occurred_at',
                               session_gap => '3 hours', window_size => 1, neighbors => 2);
SELECT count(*) AS items, count(*) FILTER (WHERE c.neighbor_ids = e.neighbor_ids
       AND c.weights = e.weights AND c.sessions = e.sessions) AS equal
  FROM rerank.item_covisits c FULL JOIN pg_temp.expected_covisits('3 hours', 1, 2, 1) e
       USING (item_id);
CALL rerank.build_covisitation('sig.events', time_column => 'occurred_at',
                               session_gap => '1 day', min_count => 2);
SELECT * FROM rerank.item_covisits ORDER BY item_id;
SELECT count(*) AS items, count(*) FILTER (WHERE c.neighbor_ids = e.neighbor_ids
       AND c.weights = e.weights AND c.sessions = e.sessions) AS equal
  FROM rerank.item_covisits c FULL JOIN pg_temp.expected_covisits('1 day', 10, 20, 2) e
       USING (item_id);

-- point in time: until leaves out the later events (and since the earlier)
CALL rerank.build_covisitation('sig.events', time_column => 'occurred_at',
                               until => '2026-03-01 10:05');
SELECT * FROM rerank.item_covisits ORDER BY item_id;
CALL rerank.build_covisitation('sig.events', time_column => 'occurred_at',
                               since => '2026-03-01 10:05');
SELECT item_id, neighbor_ids FROM rerank.item_covisits WHERE item_id IN (10, 11) ORDER BY 1;

-- every tracked table when none is given (the same events here)
CALL rerank.build_covisitation();
SELECT count(*) FROM rerank.item_covisits;

-- bad input
SELECT error_of($$CALL rerank.build_covisitation('sig.events')$$);
SELECT error_of($$CALL rerank.build_covisitation(time_column => 'occurred_at')$$);
SELECT error_of($$CALL rerank.build_covisitation('sig.events', time_column => 'occurred_at', user_column => 'nope')$$);
SELECT error_of($$CALL rerank.build_covisitation('sig.events', time_column => 'occurred_at', window_size => 0)$$);
SELECT error_of($$CALL rerank.build_covisitation('sig.events', time_column => 'occurred_at', neighbors => 0)$$);
SELECT error_of($$CALL rerank.build_covisitation('sig.events', time_column => 'occurred_at', neighbors => 1001)$$);
SELECT error_of($$CALL rerank.build_covisitation('sig.events', time_column => 'occurred_at', min_count => 0)$$);
SELECT error_of($$CALL rerank.build_covisitation('sig.events', time_column => 'occurred_at', session_gap => '0 s')$$);
SELECT error_of($$CALL rerank.build_covisitation('sig.events', time_column => 'occurred_at', session_gap => NULL)$$);
-- a tracked table without a time column cannot be read by either
CREATE TABLE sig.untimed (user_id bigint, item_id bigint, event_type text);
SELECT rerank.attach('sig.untimed');
SELECT error_of($$CALL rerank.build_covisitation()$$);
SELECT error_of($$SELECT rerank.refresh_item_stats()$$);
SELECT rerank.detach('sig.untimed');
-- nothing tracked
SELECT rerank.detach('sig.events');
SELECT error_of($$CALL rerank.build_covisitation()$$);
SELECT error_of($$SELECT rerank.refresh_item_stats()$$);

-- privileges: the batch functions are the DBA's to grant
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p WHERE p.pronamespace = 'rerank'::regnamespace
   AND p.proname IN ('refresh_item_stats', 'build_covisitation') ORDER BY 1;

DELETE FROM rerank.item_stats;
DELETE FROM rerank.item_covisits;
DELETE FROM rerank.event_weights WHERE event_type = 'impression';
