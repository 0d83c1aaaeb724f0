-- test/demo/replay.sql: the replay's preparation (README, "The replay
-- protocol"), run by rr_replay in test/demo/pipeline.sh before the stream.
--
-- psql variables: schema (the data set's schema: items, events = the
-- history, stream), model (the trained model), cap (ranked events at most),
-- generators (comma-separated: uniform, popularity, category, legacy).
-- Builds, in the schema replay (dropped first):
--   settings     the variables, for the later steps
--   catalog      item_id, category, listed_at, first_seq and the orders the
--                generators draw by
--   log          every event of the data set (history and stream) in one
--                sequence, seq; per row the item's running count of events
--                (item_nth), the stream's segment and whether it is ranked
--   lists        per ranked event and generator: the candidates in upstream
--                order, the target among them
--   strategies   empty: test/demo/replay_strategies.sql fills it
--   by_popularity(), repeat_then_category(): strategies' helpers
-- Everything the harness computes reads only the events before the one
-- ranked (seq < the event's seq).

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET work_mem = '256MB';
SET jit = off;
DROP SCHEMA IF EXISTS replay CASCADE;
CREATE SCHEMA replay;

CREATE TABLE replay.settings AS
SELECT :'schema'::text AS schema_name, :'model'::text AS model, (:'cap')::integer AS cap,
       string_to_array(:'generators', ',') AS generators;

-- the log: history and stream in one order (time, history first, user, item, type)
CREATE TABLE replay.log AS
SELECT row_number() OVER (ORDER BY e.occurred_at, e.stream_id IS NOT NULL, e.user_id, e.item_id,
                                   e.event_type, e.id)::bigint AS seq,
       e.stream_id, e.user_id, e.item_id, i.category, e.event_type, e.occurred_at, e.dwell_ms
  FROM (SELECT event_id AS id, NULL::bigint AS stream_id, user_id, item_id, event_type, occurred_at, dwell_ms
          FROM :"schema".events
        UNION ALL
        SELECT event_id, event_id, user_id, item_id, event_type, occurred_at, dwell_ms
          FROM :"schema".stream) e
  LEFT JOIN :"schema".items i USING (item_id);
ALTER TABLE replay.log ADD PRIMARY KEY (seq);

-- running counts, this event included: the item's events, the user's events
-- on the item; the user's previous item
CREATE TABLE replay.counts AS
SELECT seq,
       row_number() OVER (PARTITION BY item_id ORDER BY seq) AS item_nth,
       row_number() OVER (PARTITION BY user_id, item_id ORDER BY seq) AS user_item_nth,
       lag(item_id) OVER (PARTITION BY user_id ORDER BY seq) AS previous_item
  FROM replay.log;
ALTER TABLE replay.log ADD COLUMN item_nth bigint,
                       ADD COLUMN segment text, ADD COLUMN ranked boolean NOT NULL DEFAULT false;
UPDATE replay.log l
   SET item_nth = c.item_nth,
       segment = CASE WHEN l.stream_id IS NULL THEN NULL
                      WHEN c.previous_item = l.item_id THEN 'repeat'
                      WHEN c.user_item_nth > 1 THEN 'revisit'
                      WHEN EXISTS (SELECT FROM rerank.item_factors f
                                    WHERE f.model_id = rerank.model_id(:'model')
                                      AND f.item_id = l.item_id) THEN 'known'
                      WHEN c.item_nth > 1 THEN 'no_vector'
                      ELSE 'new' END
  FROM replay.counts c WHERE c.seq = l.seq;
DROP TABLE replay.counts;
-- the ranked events: all of the stream, or a deterministic sample of cap
UPDATE replay.log SET ranked = true
 WHERE seq IN (SELECT seq FROM replay.log WHERE stream_id IS NOT NULL
                ORDER BY hashint8extended(seq, 11), seq LIMIT (:'cap')::integer);
CREATE INDEX ON replay.log (item_id, seq) INCLUDE (item_nth);
CREATE INDEX ON replay.log (user_id, item_id, seq);
CREATE INDEX ON replay.log (user_id, seq) INCLUDE (item_id, category);
ANALYZE replay.log;

-- the catalog: every item, when it was listed (NULL: from the start) and
-- first touched (never: the largest bigint); the orders the draws index:
-- by listing (a prefix is the catalog at a time), by listing within the
-- category, by first touch, latest first (a prefix is what no one touched
-- before a given event)
CREATE TABLE replay.catalog AS
SELECT i.item_id, i.category, coalesce(i.listed_at, '-infinity') AS listed_at,
       coalesce(f.first_seq, 9223372036854775807) AS first_seq
  FROM :"schema".items i
  LEFT JOIN (SELECT item_id, min(seq) AS first_seq FROM replay.log GROUP BY item_id) f USING (item_id);
ALTER TABLE replay.catalog ADD PRIMARY KEY (item_id);
CREATE TABLE replay.catalog_orders AS
SELECT item_id,
       row_number() OVER (ORDER BY listed_at, item_id) AS listed_pos,
       row_number() OVER (PARTITION BY category ORDER BY listed_at, item_id) AS category_pos,
       row_number() OVER (ORDER BY first_seq DESC, item_id) AS unseen_pos
  FROM replay.catalog;
ALTER TABLE replay.catalog ADD COLUMN listed_pos bigint, ADD COLUMN category_pos bigint,
                           ADD COLUMN unseen_pos bigint;
UPDATE replay.catalog c SET listed_pos = o.listed_pos, category_pos = o.category_pos,
                            unseen_pos = o.unseen_pos
  FROM replay.catalog_orders o WHERE o.item_id = c.item_id;
DROP TABLE replay.catalog_orders;
CREATE UNIQUE INDEX ON replay.catalog (listed_pos);
CREATE UNIQUE INDEX ON replay.catalog (unseen_pos);
CREATE INDEX ON replay.catalog (listed_at, listed_pos);
CREATE INDEX ON replay.catalog (first_seq, unseen_pos);
CREATE INDEX ON replay.catalog (category, category_pos);
CREATE INDEX ON replay.catalog (category, listed_at, category_pos);
ANALYZE replay.catalog;

-- the ranked events with what the draws need: the catalog size at the
-- event's time, the items no one touched before it, the category's size
CREATE TABLE replay.targets AS
SELECT l.seq, l.user_id, l.item_id, l.category, l.occurred_at,
       (SELECT c.listed_pos FROM replay.catalog c WHERE c.listed_at <= l.occurred_at
         ORDER BY c.listed_at DESC, c.listed_pos DESC LIMIT 1) AS listed,
       coalesce((SELECT c.unseen_pos FROM replay.catalog c WHERE c.first_seq >= l.seq
                  ORDER BY c.first_seq, c.unseen_pos DESC LIMIT 1), 0) AS unseen,
       coalesce((SELECT c.category_pos FROM replay.catalog c
                  WHERE c.category = l.category AND c.listed_at <= l.occurred_at
                  ORDER BY c.listed_at DESC, c.category_pos DESC LIMIT 1), 0) AS in_category
  FROM replay.log l WHERE l.ranked;
ALTER TABLE replay.targets ADD PRIMARY KEY (seq);
ANALYZE replay.targets;

-- q of the popularity generator: the share of the history's events that are
-- the first event of their item
CREATE TABLE replay.popularity_q AS
SELECT avg((item_nth = 1)::int)::float8 AS q FROM replay.log WHERE stream_id IS NULL;

-- a uniform number in [0, n) from a hash (n > 0)
CREATE FUNCTION replay.draw(key bigint, seed bigint, n bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (hashint8extended(key, seed) & 9223372036854775807) % n;
-- a uniform number in [0, 1) from a hash
CREATE FUNCTION replay.uniform(key bigint, seed bigint) RETURNS float8
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN ((hashint8extended(key, seed) & 9007199254740991)::float8 / 9007199254740992.0);

-- legacy's draws (the harness check) read the history's events and what
-- each user ever touches
CREATE TABLE replay.history_events AS
SELECT row_number() OVER (ORDER BY seq) AS k, item_id FROM replay.log WHERE stream_id IS NULL;
CREATE UNIQUE INDEX ON replay.history_events (k);
CREATE TABLE replay.user_items AS SELECT DISTINCT user_id, item_id FROM replay.log;
CREATE UNIQUE INDEX ON replay.user_items (user_id, item_id);
ANALYZE replay.history_events, replay.user_items;

-- the negatives of each list: the first 99 distinct items of up to 297
-- hashed draws, never the target.  Draws 1-128 for every list, then draws
-- 129-297 for the lists that still have fewer than 99 (the same result as
-- taking all 297 at once, at less than half the work).
CREATE TABLE replay.draws (seq bigint, generator text COLLATE "C", j integer, item_id bigint);
CREATE TABLE replay.pending AS
SELECT t.seq, g.generator COLLATE "C" AS generator
  FROM replay.targets t, unnest((SELECT generators FROM replay.settings)) g(generator)
 WHERE g.generator <> 'category' OR t.category IS NOT NULL;
\set first_draw 1
\set last_draw 128
\ir replay_draws.sql
CREATE TABLE replay.negatives AS
SELECT seq, generator, item_id, j FROM (
    SELECT x.*, row_number() OVER (PARTITION BY x.seq, x.generator ORDER BY x.j) AS k
      FROM (SELECT d.seq, d.generator, d.item_id, min(d.j) AS j
              FROM replay.draws d JOIN replay.targets t USING (seq)
             WHERE d.item_id <> t.item_id
             GROUP BY d.seq, d.generator, d.item_id) x) y
 WHERE k <= 99;
TRUNCATE replay.pending;
INSERT INTO replay.pending
SELECT p.seq, p.generator
  FROM (SELECT DISTINCT seq, generator FROM replay.draws) p
  JOIN replay.targets t USING (seq)
  LEFT JOIN (SELECT seq, generator, count(*) AS n FROM replay.negatives GROUP BY seq, generator) n
         USING (seq, generator)
 WHERE coalesce(n.n, 0) < 99 AND (p.generator <> 'category' OR t.in_category > 100);
\set first_draw 129
\set last_draw 297
\ir replay_draws.sql
DELETE FROM replay.negatives n USING replay.pending p WHERE n.seq = p.seq AND n.generator = p.generator;
INSERT INTO replay.negatives
SELECT seq, generator, item_id, j FROM (
    SELECT x.*, row_number() OVER (PARTITION BY x.seq, x.generator ORDER BY x.j) AS k
      FROM (SELECT d.seq, d.generator, d.item_id, min(d.j) AS j
              FROM replay.draws d JOIN replay.targets t USING (seq)
              JOIN replay.pending p USING (seq, generator)
             WHERE d.item_id <> t.item_id
             GROUP BY d.seq, d.generator, d.item_id) x) y
 WHERE k <= 99;
DROP TABLE replay.draws, replay.pending;

-- the lists: the target and the negatives in the generator's upstream order:
-- uniform and legacy shuffled, popularity and category by the number of
-- events before the event, most first, ties shuffled
CREATE TABLE replay.lists AS
SELECT m.seq, m.generator, t.item_id AS target,
       array_agg(m.item_id ORDER BY
                 CASE WHEN m.generator IN ('uniform', 'legacy') THEN 0 ELSE -coalesce(p.n, 0) END,
                 hashint8extended(m.item_id, m.seq)) AS items
  FROM (SELECT seq, generator, item_id FROM replay.negatives
        UNION ALL
        SELECT t.seq, g.generator, t.item_id
          FROM replay.targets t, unnest((SELECT generators FROM replay.settings)) g(generator)
         WHERE g.generator <> 'category' OR t.category IS NOT NULL) m
  JOIN replay.targets t USING (seq)
  LEFT JOIN LATERAL (SELECT l.item_nth AS n FROM replay.log l
                      WHERE m.generator IN ('popularity', 'category')
                        AND l.item_id = m.item_id AND l.seq < m.seq
                      ORDER BY l.seq DESC LIMIT 1) p ON true
 GROUP BY m.seq, m.generator, t.item_id;
ALTER TABLE replay.lists ADD PRIMARY KEY (seq, generator);
DROP TABLE replay.negatives;

-- per list: how many negatives the user touched before the event
CREATE TABLE replay.touched AS
SELECT x.seq, x.generator, count(*) AS touched
  FROM (SELECT DISTINCT l.seq, l.generator, c.item
          FROM replay.lists l
          JOIN replay.targets t USING (seq)
          CROSS JOIN LATERAL unnest(l.items) c(item)
          JOIN replay.log e ON e.user_id = t.user_id AND e.item_id = c.item AND e.seq < l.seq
         WHERE c.item <> l.target) x
 GROUP BY x.seq, x.generator;

-- the strategies (test/demo/replay_strategies.sql), in the order printed
CREATE TABLE replay.strategies (
    position serial,
    name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]*$' AND name <> 'chance'),
    expression text NOT NULL,
    setup text,
    description text,
    selected boolean NOT NULL DEFAULT true);
CREATE TABLE replay.ranks (seq bigint, generator text, ranks integer[], PRIMARY KEY (seq, generator));

-- The items by their number of events before event s, most first; ties in
-- the given order.
CREATE FUNCTION replay.by_popularity(items bigint[], s bigint) RETURNS bigint[]
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT array_agg(c.item ORDER BY coalesce(p.n, 0) DESC, c.pos)
              FROM unnest(items) WITH ORDINALITY c(item, pos)
              LEFT JOIN LATERAL (SELECT l.item_nth AS n FROM replay.log l
                                  WHERE l.item_id = c.item AND l.seq < s
                                  ORDER BY l.seq DESC LIMIT 1) p ON true);
END
$$;

-- The repeat-then-category heuristic: the items user u touched before
-- event s first, the most recently touched first; then by u's number of
-- events before s in the item's category, most first; ties in the given
-- order.
CREATE FUNCTION replay.repeat_then_category(u bigint, items bigint[], s bigint) RETURNS bigint[]
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (WITH history AS (SELECT l.item_id, l.category, l.seq FROM replay.log l
                              WHERE l.user_id = u AND l.seq < s),
                 touched AS (SELECT h.item_id, max(h.seq) AS last_seq FROM history h GROUP BY h.item_id),
                 categories AS (SELECT h.category, count(*) AS n FROM history h GROUP BY h.category),
                 candidates AS MATERIALIZED (
                     SELECT c.item, c.pos, i.category
                       FROM unnest(items) WITH ORDINALITY c(item, pos)
                       LEFT JOIN replay.catalog i ON i.item_id = c.item)
            SELECT array_agg(c.item ORDER BY t.last_seq DESC NULLS LAST, coalesce(k.n, 0) DESC, c.pos)
              FROM candidates c
              LEFT JOIN touched t ON t.item_id = c.item
              LEFT JOIN categories k ON k.category = c.category);
END
$$;
