-- test/demo/replay.sql: the replay's preparation (docs/benchmarks.md, "The replay
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
-- hashed draws, never the target.  Draws 1-110 for every list, then draws
-- 111-297 for the lists that still have fewer than 99 (the same result as
-- taking all 297 at once, at less than half the work).  A list is keyed by
-- seq * 8 + the generator's code.
CREATE TABLE replay.generator_codes (code integer PRIMARY KEY, generator text UNIQUE);
INSERT INTO replay.generator_codes VALUES (1, 'uniform'), (2, 'popularity'), (3, 'category'), (4, 'legacy');
DO $$
BEGIN
    IF EXISTS (SELECT FROM unnest((SELECT generators FROM replay.settings)) g(name)
                WHERE name NOT IN (SELECT generator FROM replay.generator_codes)) THEN
        RAISE EXCEPTION 'unknown generator in %: the generators are uniform, popularity, category and legacy',
            (SELECT array_to_string(generators, ',') FROM replay.settings);
    END IF;
END
$$;
CREATE TABLE replay.draws (list bigint, j integer, item_id bigint);
CREATE TABLE replay.pending AS
SELECT t.seq * 8 + c.code AS list, t.seq, c.generator
  FROM replay.targets t, replay.generator_codes c
 WHERE c.generator = ANY ((SELECT generators FROM replay.settings)::text[])
   AND (c.generator <> 'category' OR t.category IS NOT NULL);
\set first_draw 1
\set last_draw 110
\ir replay_draws.sql
CREATE TABLE replay.negatives AS
SELECT list, item_id FROM (
    SELECT x.*, row_number() OVER (PARTITION BY x.list ORDER BY x.j) AS k
      FROM (SELECT d.list, d.item_id, min(d.j) AS j
              FROM replay.draws d JOIN replay.targets t ON t.seq = d.list / 8
             WHERE d.item_id <> t.item_id
             GROUP BY d.list, d.item_id) x) y
 WHERE k <= 99;
DELETE FROM replay.pending p
 WHERE (p.generator = 'category'
        AND (SELECT in_category FROM replay.targets t WHERE t.seq = p.seq) <= 100)
    OR p.list IN (SELECT list FROM replay.negatives GROUP BY list HAVING count(*) >= 99);
\set first_draw 111
\set last_draw 297
\ir replay_draws.sql
DELETE FROM replay.negatives n USING replay.pending p WHERE n.list = p.list;
INSERT INTO replay.negatives
SELECT list, item_id FROM (
    SELECT x.*, row_number() OVER (PARTITION BY x.list ORDER BY x.j) AS k
      FROM (SELECT d.list, d.item_id, min(d.j) AS j
              FROM replay.draws d JOIN replay.targets t ON t.seq = d.list / 8
             WHERE d.item_id <> t.item_id AND d.list IN (SELECT list FROM replay.pending)
             GROUP BY d.list, d.item_id) x) y
 WHERE k <= 99;
DROP TABLE replay.draws, replay.pending;

-- the lists: the target and the negatives in the generator's upstream order:
-- uniform and legacy shuffled, popularity and category by the number of
-- events before the event, most first, ties shuffled
CREATE TABLE replay.candidates AS
SELECT list, item_id FROM replay.negatives
UNION ALL
SELECT t.seq * 8 + c.code, t.item_id
  FROM replay.targets t, replay.generator_codes c
 WHERE c.generator = ANY ((SELECT generators FROM replay.settings)::text[])
   AND (c.generator <> 'category' OR t.category IS NOT NULL);
DROP TABLE replay.negatives;
CREATE TABLE replay.lists AS
SELECT x.list / 8 AS seq, g.generator, t.item_id AS target, x.items
  FROM (SELECT c.list,
               array_agg(c.item_id ORDER BY -coalesce(p.n, 0), hashint8extended(c.item_id, c.list / 8)) AS items
          FROM replay.candidates c
          LEFT JOIN LATERAL (SELECT l.item_nth AS n FROM replay.log l
                              WHERE c.list % 8 IN (2, 3)    -- popularity, category
                                AND l.item_id = c.item_id AND l.seq < c.list / 8
                              ORDER BY l.seq DESC LIMIT 1) p ON true
         GROUP BY c.list) x
  JOIN replay.generator_codes g ON g.code = x.list % 8
  JOIN replay.targets t ON t.seq = x.list / 8;
ALTER TABLE replay.lists ADD PRIMARY KEY (seq, generator);
-- the harness checks its own lists: the target once, distinct items, at
-- most 100
DO $$
DECLARE
    bad record;
BEGIN
    SELECT l.seq, l.generator INTO bad FROM replay.lists l
     WHERE cardinality(l.items) > 100
        OR (SELECT count(*) FROM unnest(l.items) i WHERE i = l.target) <> 1
        OR (SELECT count(DISTINCT i) FROM unnest(l.items) i) <> cardinality(l.items)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'replay: the % list of event % is malformed', bad.generator, bad.seq;
    END IF;
END
$$;

-- per list: how many negatives the user touched before the event
CREATE TABLE replay.touched AS
SELECT c.list / 8 AS seq, g.generator, count(*) AS touched
  FROM replay.candidates c
  JOIN replay.targets t ON t.seq = c.list / 8
  JOIN (SELECT user_id, item_id, min(seq) AS first_seq FROM replay.log GROUP BY user_id, item_id) f
    ON f.user_id = t.user_id AND f.item_id = c.item_id AND f.first_seq < t.seq
  JOIN replay.generator_codes g ON g.code = c.list % 8
 WHERE c.item_id <> t.item_id
 GROUP BY c.list, g.generator;
DROP TABLE replay.candidates;

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

-- the helpers against their definitions, written plainly, on 50 lists: a
-- helper that looked past the event (or miscounted) fails here
DO $$
DECLARE
    bad record;
BEGIN
    SELECT l.seq, l.generator INTO bad
      FROM (SELECT * FROM replay.lists ORDER BY seq, generator LIMIT 50) l
      JOIN replay.targets t USING (seq)
     WHERE replay.by_popularity(l.items, l.seq) IS DISTINCT FROM
           (SELECT array_agg(c.item ORDER BY (SELECT count(*) FROM replay.log e
                                               WHERE e.item_id = c.item AND e.seq < l.seq) DESC, c.pos)
              FROM unnest(l.items) WITH ORDINALITY c(item, pos))
        OR replay.repeat_then_category(t.user_id, l.items, l.seq) IS DISTINCT FROM
           (SELECT array_agg(c.item ORDER BY
                             (SELECT max(e.seq) FROM replay.log e
                               WHERE e.user_id = t.user_id AND e.item_id = c.item AND e.seq < l.seq) DESC NULLS LAST,
                             (SELECT count(*) FROM replay.log e JOIN replay.catalog i ON i.item_id = c.item
                               WHERE e.user_id = t.user_id AND e.category = i.category AND e.seq < l.seq) DESC,
                             c.pos)
              FROM unnest(l.items) WITH ORDINALITY c(item, pos))
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'replay: a strategy helper disagrees with its definition on the % list of event %',
            bad.generator, bad.seq;
    END IF;
END
$$;
