-- test/demo/replay_draws.sql: draws first_draw..last_draw (psql variables)
-- of every generator's negatives for the lists in replay.pending, into
-- replay.draws; included twice by test/demo/replay.sql.  Draw j of the list
-- of event seq hashes seq * 1000 + j with the generator's seed.

ANALYZE replay.pending;

-- uniform: the catalog at the event's time
INSERT INTO replay.draws
WITH t AS MATERIALIZED (SELECT p.list, t.* FROM replay.pending p JOIN replay.targets t USING (seq)
                         WHERE p.generator = 'uniform' AND t.listed > 0)
SELECT t.list, d.j, c.item_id
  FROM t, generate_series(:first_draw, :last_draw) d(j), replay.catalog c
 WHERE c.listed_pos = 1 + replay.draw(t.seq * 1000 + d.j, 1, t.listed);

-- popularity: with probability q an item no one touched before the event
-- (and listed by then), else the item of a uniformly drawn earlier event
INSERT INTO replay.draws
WITH t AS MATERIALIZED (SELECT p.list, t.* FROM replay.pending p JOIN replay.targets t USING (seq)
                         WHERE p.generator = 'popularity' AND t.seq > 1),
x AS MATERIALIZED (
    SELECT t.list, d.j, t.occurred_at, u.unseen_draw,
           CASE WHEN u.unseen_draw THEN 1 + replay.draw(t.seq * 1000 + d.j, 3, t.unseen) END AS unseen_pos,
           CASE WHEN NOT u.unseen_draw THEN 1 + replay.draw(t.seq * 1000 + d.j, 3, t.seq - 1) END AS event_seq
      FROM t, generate_series(:first_draw, :last_draw) d(j), replay.popularity_q q,
           LATERAL (SELECT replay.uniform(t.seq * 1000 + d.j, 2) < q.q AND t.unseen > 0 AS unseen_draw) u)
SELECT x.list, x.j, coalesce(c.item_id, l.item_id)
  FROM x
  LEFT JOIN replay.catalog c ON c.unseen_pos = x.unseen_pos AND c.listed_at <= x.occurred_at
  LEFT JOIN replay.log l ON l.seq = x.event_seq
 WHERE coalesce(c.item_id, l.item_id) IS NOT NULL;

-- category: the category's items at the event's time; all of them (in the
-- category's listing order, the target included) when there are at most 100
INSERT INTO replay.draws
WITH t AS MATERIALIZED (SELECT p.list, t.* FROM replay.pending p JOIN replay.targets t USING (seq)
                         WHERE p.generator = 'category' AND t.in_category <= 100 AND :first_draw = 1)
SELECT t.list, c.category_pos::integer, c.item_id
  FROM t JOIN replay.catalog c ON c.category = t.category AND c.category_pos <= t.in_category;
INSERT INTO replay.draws
WITH t AS MATERIALIZED (SELECT p.list, t.* FROM replay.pending p JOIN replay.targets t USING (seq)
                         WHERE p.generator = 'category' AND t.in_category > 100)
SELECT t.list, d.j, c.item_id
  FROM t, generate_series(:first_draw, :last_draw) d(j), replay.catalog c
 WHERE c.category = t.category
   AND c.category_pos = 1 + replay.draw(t.seq * 1000 + d.j, 4, t.in_category);

-- legacy: the item of a uniformly drawn history event, unless the user
-- ever touches it
INSERT INTO replay.draws
WITH t AS MATERIALIZED (SELECT p.list, t.* FROM replay.pending p JOIN replay.targets t USING (seq)
                         WHERE p.generator = 'legacy'),
x AS MATERIALIZED (
    SELECT t.list, t.user_id, d.j, h.item_id
      FROM t, generate_series(:first_draw, :last_draw) d(j), replay.history_events h,
           (SELECT count(*) AS n FROM replay.history_events) n
     WHERE h.k = 1 + replay.draw(t.seq * 1000 + d.j, 5, n.n))
SELECT x.list, x.j, x.item_id
  FROM x
 WHERE NOT EXISTS (SELECT FROM replay.user_items u WHERE u.user_id = x.user_id AND u.item_id = x.item_id);
