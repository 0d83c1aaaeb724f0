-- Data versions, what the model cache keys on (issue 10): every new
-- factors_version is a value of rerank.data_version_seq above the old one,
-- whoever changes it, so no version an aborted transaction took is ever
-- committed with other data.
SELECT rerank.create_model('ver_m', 2) > 0 AS created;
SELECT factors_version AS v0 FROM rerank.models WHERE name = 'ver_m' \gset
SELECT :v0 = pg_catalog.currval('rerank.data_version_seq') AS default_from_sequence;

-- a statement changing item factors: the next value
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('ver_m'), i, ARRAY[i, 1]::real[] FROM generate_series(1, 3) i;
SELECT factors_version AS v1 FROM rerank.models WHERE name = 'ver_m' \gset
SELECT :v1 > :v0 AS grew, :v1 = pg_catalog.currval('rerank.data_version_seq') AS from_sequence;

-- a version taken in a rolled-back transaction is not taken again
BEGIN;
UPDATE rerank.item_factors SET factors = '{9,9}'
 WHERE model_id = rerank.model_id('ver_m') AND item_id = 1;
SELECT factors_version AS v_aborted FROM rerank.models WHERE name = 'ver_m' \gset
ROLLBACK;
UPDATE rerank.item_factors SET factors = '{5,5}'
 WHERE model_id = rerank.model_id('ver_m') AND item_id = 1;
SELECT factors_version > :v_aborted AS not_reused FROM rerank.models WHERE name = 'ver_m';

-- set by hand, even lower: the sequence decides
UPDATE rerank.models SET factors_version = 1 WHERE name = 'ver_m';
SELECT factors_version > :v_aborted AS hand_set_grew,
       factors_version = pg_catalog.currval('rerank.data_version_seq') AS from_sequence
  FROM rerank.models WHERE name = 'ver_m';

-- a version above the sequence (a restored 0.1.0 dump): the next one is above it
SET session_replication_role = replica;
UPDATE rerank.models SET factors_version = pg_catalog.currval('rerank.data_version_seq') + 5
 WHERE name = 'ver_m';
RESET session_replication_role;
SELECT factors_version AS v_restored FROM rerank.models WHERE name = 'ver_m' \gset
DELETE FROM rerank.item_factors WHERE model_id = rerank.model_id('ver_m') AND item_id = 3;
SELECT factors_version > :v_restored AS above_restored FROM rerank.models WHERE name = 'ver_m';

SELECT rerank.drop_model('ver_m');
