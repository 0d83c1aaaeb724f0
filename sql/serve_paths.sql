-- The user's row is read by primary key straight from the indexes when the
-- tables allow it, and by a query otherwise (tables under row-level
-- security): both give the same result.  NULL elements in the history
-- arrays are skipped, a category weight without items still sets the scale.
SET extra_float_digits = 0;
-- the four terms of 0.1.0's blend, every other feature's weight 0
SELECT public.blend_010();
SELECT coalesce(rerank.active_model(), '') AS active_at_start \gset
SELECT rerank.create_model('paths', 2) AS mid \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias) VALUES
    (:mid, 90001, '{1, 0}', 0), (:mid, 90002, '{0, 1}', 0.05), (:mid, 90003, '{0.6, 0.8}', 0),
    (:mid, 90004, '{-1, 0.2}', 0.01), (:mid, 90005, '{0.3, -0.9}', 0);
INSERT INTO rerank.user_factors (model_id, user_id, factors) VALUES (:mid, 90007, '{0.2, 1.1}');
INSERT INTO rerank.items (item_id, category) VALUES (90001, 'a'), (90002, 'b'), (90003, 'a'), (90004, 'c');
INSERT INTO rerank.user_features (user_id, recent_items, recent_weights, purchased_items,
                                  category_weights)
VALUES (90007, '{90004, NULL, 90001}', '{1, 2, NULL}', '{NULL, 90005}', '{"c": 2, "a": 1, "zz": 9}');
SELECT rerank.activate_model('paths');
CREATE TEMP TABLE direct AS
SELECT * FROM rerank.rerank(90007, '{90001, 90002, 90003, 90004, 90005}', exclude_purchased => true);
SELECT rank, item_id, round(score::numeric, 6) AS score FROM direct ORDER BY rank;
-- the same through the query path
ALTER TABLE rerank.user_features ENABLE ROW LEVEL SECURITY;
ALTER TABLE rerank.user_factors ENABLE ROW LEVEL SECURITY;
SELECT count(*) AS differences
  FROM rerank.rerank(90007, '{90001, 90002, 90003, 90004, 90005}', exclude_purchased => true) r
  FULL JOIN direct d USING (item_id, score, rank)
 WHERE r.item_id IS NULL OR d.item_id IS NULL;
ALTER TABLE rerank.user_features DISABLE ROW LEVEL SECURITY;
ALTER TABLE rerank.user_factors DISABLE ROW LEVEL SECURITY;
SELECT count(*) AS differences
  FROM rerank.rerank(90007, '{90001, 90002, 90003, 90004, 90005}', exclude_purchased => true) r
  FULL JOIN direct d USING (item_id, score, rank)
 WHERE r.item_id IS NULL OR d.item_id IS NULL;
-- explain() reads the same row
SELECT term, round(value::numeric, 6) AS value
  FROM rerank.explain(90007, 90003, upstream_position => 3) WHERE history_item_id IS NULL;
SELECT rerank.activate_model(:'active_at_start') WHERE :'active_at_start' <> '';
SELECT rerank.drop_model('paths', force => true);
DELETE FROM rerank.user_features WHERE user_id = 90007;
DELETE FROM rerank.items WHERE item_id BETWEEN 90001 AND 90004;
