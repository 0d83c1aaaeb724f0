-- test/demo/replay_run.sql: the replay itself, after test/demo/replay.sql
-- and test/demo/replay_strategies.sql (run by rr_replay in
-- test/demo/pipeline.sh).  psql variable strategies: the names to run,
-- comma-separated (empty: all).  Runs the selected strategies' setup
-- statements, generates the procedure replay.run() with one statement per
-- strategy, streams the stream through the data set's events table (and so
-- through the trigger) in log order, ranking each ranked event's lists
-- before its insert, and leaves the metrics in the views replay.results,
-- replay.list_stats and replay.segment_stats.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
UPDATE replay.strategies SET selected = (:'strategies' = '' OR name = ANY (string_to_array(:'strategies', ',')));
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM replay.strategies WHERE selected) THEN
        RAISE EXCEPTION 'no strategy of replay.strategies is selected (REPLAY_STRATEGIES)';
    END IF;
END
$$;

-- setups, each at top level (a CALL may commit)
SELECT setup FROM replay.strategies WHERE selected AND setup IS NOT NULL ORDER BY position \gexec

DO $do$
DECLARE
    body text := '';
    s record;
BEGIN
    FOR s IN SELECT * FROM replay.strategies WHERE selected ORDER BY position LOOP
        body := body || format(E'                -- %s\n'
                               '                ranking := %s;\n'
                               '                ranks := ranks || array_position(ranking, ev.item_id);\n',
                               s.name, s.expression);
    END LOOP;
    EXECUTE format($f$
CREATE PROCEDURE replay.run() LANGUAGE plpgsql AS $proc$
DECLARE
    ev record;
    r_user bigint;
    r_items bigint[];
    r_seq bigint;
    r_at timestamptz;
    generator text;
    ranking bigint[];
    ranks integer[];
    n integer := 0;
BEGIN
    FOR ev IN SELECT l.seq, l.user_id, l.item_id, l.event_type, l.occurred_at, l.dwell_ms, l.ranked
                FROM replay.log l WHERE l.stream_id IS NOT NULL ORDER BY l.seq LOOP
        IF ev.ranked THEN
            r_user := ev.user_id;
            r_seq := ev.seq;
            r_at := ev.occurred_at;
            FOR generator, r_items IN SELECT g.generator, g.items FROM replay.lists g
                                       WHERE g.seq = ev.seq ORDER BY g.generator LOOP
                ranks := '{}';
%s
                INSERT INTO replay.ranks VALUES (ev.seq, generator, ranks);
            END LOOP;
        END IF;
        INSERT INTO %I.events (user_id, item_id, event_type, occurred_at, dwell_ms)
        VALUES (ev.user_id, ev.item_id, ev.event_type, ev.occurred_at, ev.dwell_ms);
        n := n + 1;
        IF n %% 2000 = 0 THEN
            COMMIT;
        END IF;
    END LOOP;
    COMMIT;
END
$proc$$f$, body, (SELECT schema_name FROM replay.settings));
END
$do$;

CALL replay.run();

-- metrics per generator, strategy and segment ('all' included), and the
-- expectation of a random order of the same lists ('chance')
CREATE VIEW replay.results AS
WITH ranked AS (
    SELECT r.generator, s.name AS strategy, s.position, l.segment, x.rank
      FROM replay.ranks r
      JOIN replay.log l USING (seq)
      CROSS JOIN LATERAL unnest(r.ranks) WITH ORDINALITY x(rank, i)
      JOIN (SELECT name, position, row_number() OVER (ORDER BY position) AS i
              FROM replay.strategies WHERE selected) s ON s.i = x.i),
chance AS (
    SELECT g.generator, 'chance'::text AS strategy, 0 AS position, l.segment, n.n,
           least(n.n, 10)::float8 / n.n AS hr,
           (SELECT sum(1 / log(2, r + 1)) FROM generate_series(1, least(n.n, 10)) r)::float8 / n.n AS ndcg,
           (SELECT sum(1.0 / r) FROM generate_series(1, n.n) r)::float8 / n.n AS mrr
      FROM replay.lists g JOIN replay.log l USING (seq),
           LATERAL (SELECT cardinality(g.items) AS n) n),
metrics AS (
    SELECT generator, strategy, position, segment,
           (rank <= 10)::int::float8 AS hr,
           CASE WHEN rank <= 10 THEN 1 / log(2, rank + 1) ELSE 0 END::float8 AS ndcg,
           coalesce(1.0 / rank, 0)::float8 AS mrr
      FROM ranked
    UNION ALL
    SELECT generator, strategy, position, segment, hr, ndcg, mrr FROM chance)
SELECT generator, strategy, coalesce(segment, 'all') AS segment, count(*) AS events,
       round(avg(coalesce(hr, 0))::numeric, 4) AS hr_at_10,
       round(avg(ndcg)::numeric, 4) AS ndcg_at_10,
       round(avg(mrr)::numeric, 4) AS mrr
  FROM metrics
 GROUP BY GROUPING SETS ((generator, strategy, position), (generator, strategy, position, segment))
 ORDER BY array_position((SELECT generators FROM replay.settings), generator), position,
          array_position(ARRAY[NULL, 'repeat', 'revisit', 'known', 'no_vector', 'new'], segment);

-- per generator: lists, mean length, mean negatives the user touched before
CREATE VIEW replay.list_stats AS
SELECT g.generator, count(*) AS lists, round(avg(cardinality(g.items)), 1) AS mean_length,
       round(avg(coalesce(t.touched, 0)), 2) AS touched_negatives
  FROM replay.lists g LEFT JOIN replay.touched t USING (seq, generator)
 GROUP BY g.generator
 ORDER BY array_position((SELECT generators FROM replay.settings), g.generator);

-- per segment: stream events and ranked events
CREATE VIEW replay.segment_stats AS
SELECT segment, count(*) AS stream_events, count(*) FILTER (WHERE ranked) AS ranked_events,
       round(count(*) FILTER (WHERE ranked)::numeric / sum(count(*) FILTER (WHERE ranked)) OVER (), 4) AS share
  FROM replay.log WHERE stream_id IS NOT NULL
 GROUP BY segment
 ORDER BY array_position(ARRAY['repeat', 'revisit', 'known', 'no_vector', 'new'], segment);

-- the table printed and shown in the report: per generator and strategy,
-- the metrics over all ranked events and HR@10 per segment
CREATE VIEW replay.summary AS
SELECT r.generator, r.strategy,
       max(r.hr_at_10) FILTER (WHERE r.segment = 'all') AS hr_at_10,
       max(r.ndcg_at_10) FILTER (WHERE r.segment = 'all') AS ndcg_at_10,
       max(r.mrr) FILTER (WHERE r.segment = 'all') AS mrr,
       max(r.hr_at_10) FILTER (WHERE r.segment = 'repeat') AS hr_repeat,
       max(r.hr_at_10) FILTER (WHERE r.segment = 'revisit') AS hr_revisit,
       max(r.hr_at_10) FILTER (WHERE r.segment = 'known') AS hr_known,
       max(r.hr_at_10) FILTER (WHERE r.segment = 'no_vector') AS hr_no_vector,
       max(r.hr_at_10) FILTER (WHERE r.segment = 'new') AS hr_new
  FROM replay.results r
 GROUP BY r.generator, r.strategy
 ORDER BY array_position((SELECT generators FROM replay.settings), r.generator),
          (SELECT coalesce(min(s.position), 0) FROM replay.strategies s WHERE s.name = r.strategy);
