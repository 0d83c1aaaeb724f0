-- What is held in memory to serve (rerank.model_memory), and a model over
-- its memory budget: a WARNING naming the setting, once per session, and
-- the same answers from the tables.  Without the preload the budget is
-- rerank.model_cache_mb per backend (expected/model_memory.out); with it,
-- the model is held once per server (expected/model_memory_1.out).
SET extra_float_digits = 0;
\set SHOW_CONTEXT never
\set VERBOSITY terse

SELECT rerank.create_model('mem_a', 16) > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('mem_a'), i, array_fill((i % 13)::real, ARRAY[16])
  FROM generate_series(1, 30000) i;
SELECT rerank.warm_model('mem_a') AS warmed;
SELECT kind, name, state, bytes > 2 * 1024 * 1024 AS over_2mb, readers, mapped_here
  FROM rerank.model_memory WHERE name = 'mem_a';
SELECT rerank.item_vector(27, 'mem_a') AS from_memory;

-- a budget of 1 MB: too small for this model's 3 MB
SET rerank.model_cache_mb = 1;
UPDATE rerank.item_factors SET bias = 1 WHERE model_id = rerank.model_id('mem_a') AND item_id = 1;
SELECT rerank.item_vector(27, 'mem_a') AS over_budget;
SELECT rerank.item_vector(28, 'mem_a') AS warned_once;
SELECT model, vectors_cached FROM rerank.model_cache_info() WHERE model = 'mem_a';
RESET rerank.model_cache_mb;
SELECT rerank.item_vector(27, 'mem_a') AS from_memory_again;
SELECT rerank.drop_model('mem_a');
SELECT count(*) AS held_after_drop FROM rerank.model_memory WHERE name = 'mem_a' AND state = 'ready';
