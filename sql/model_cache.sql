-- The in-memory model cache: loads once, serves without queries, and is
-- invalidated by activation, rollback, factor changes and parameter changes.
SET extra_float_digits = 0;
\set SHOW_CONTEXT never

SELECT rerank.item_vector(1) IS NULL AS no_active_model;

SELECT rerank.create_model('cache_a', 2) > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias)
SELECT rerank.model_id('cache_a'), i, ARRAY[i, -i]::real[], i / 10.0
  FROM generate_series(1, 1000) i;
SELECT rerank.create_model('cache_b', 3) > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('cache_b'), i, ARRAY[i, i, i]::real[]
  FROM generate_series(1, 10) i;
SELECT rerank.activate_model('cache_a');

-- served from one load
SELECT rerank.item_vector(7) AS v7, rerank.item_vector(1000) AS v1000,
       rerank.item_vector(1001) IS NULL AS unknown_item,
       rerank.item_vector(NULL) IS NULL AS null_item;
SELECT model, items, vectors_cached, serving, loads FROM rerank.model_cache_info();
SELECT count(*) FROM generate_series(1, 1000) i WHERE rerank.item_vector(i) = ARRAY[i, -i]::real[];
SELECT loads FROM rerank.model_cache_info() WHERE model = 'cache_a';

-- a named model is cached beside the active one
SELECT rerank.item_vector(3, 'cache_b') AS b3;
SELECT model, items, serving FROM rerank.model_cache_info() ORDER BY model;
SELECT rerank.item_vector(3, 'nope');

-- a statement changing item factors: the next read sees it
UPDATE rerank.item_factors SET factors = '{70,-70}'
 WHERE model_id = rerank.model_id('cache_a') AND item_id = 7;
SELECT rerank.item_vector(7) AS v7_updated;
DELETE FROM rerank.item_factors WHERE model_id = rerank.model_id('cache_a') AND item_id = 8;
SELECT rerank.item_vector(8) IS NULL AS v8_deleted;

-- activation and a rolled-back activation
BEGIN;
SELECT rerank.activate_model('cache_b');
SELECT rerank.item_vector(7) AS v7_in_b;
ROLLBACK;
SELECT rerank.item_vector(7) AS v7_back_in_a;
SELECT rerank.activate_model('cache_b');
SELECT rerank.item_vector(7) AS v7_in_b;
SELECT rerank.rollback_model();
SELECT rerank.item_vector(7) AS v7_after_rollback;
SELECT rerank.deactivate_model();
SELECT rerank.item_vector(7) IS NULL AS none_active;
SELECT rerank.activate_model('cache_a');

-- a failed statement leaves the cache consistent
BEGIN;
UPDATE rerank.item_factors SET factors = '{1,1}' WHERE model_id = rerank.model_id('cache_a') AND item_id = 9;
SELECT rerank.item_vector(9) AS v9_in_xact;
ROLLBACK;
SELECT rerank.item_vector(9) AS v9_after_rollback;

-- over budget: served by index look-ups, same answers
SET rerank.model_cache_mb = 0;
SELECT rerank.item_vector(7) AS v7_uncached, rerank.item_vector(1001) IS NULL AS unknown_uncached;
SELECT model, vectors_cached, bytes FROM rerank.model_cache_info() WHERE model = 'cache_a';
RESET rerank.model_cache_mb;
SELECT rerank.item_vector(7) AS v7_cached_again;
SELECT model, vectors_cached FROM rerank.model_cache_info() WHERE model = 'cache_a';
SET rerank.model_cache_mb = -1;

-- dropping the models
SELECT rerank.drop_model('cache_a', force => true);
SELECT rerank.item_vector(7) IS NULL AS dropped;
SELECT rerank.item_vector(7, 'cache_a');
SELECT rerank.drop_model('cache_b');
