-- A DBA that is not a superuser (docs/reference.md, "Privileges"): with
-- EXECUTE on the registry and training procedures, the privileges on the
-- tables they read and write, and USAGE on rerank.data_version_seq (every
-- change of a model's data takes the sequence's next value), it trains,
-- activates, retrains, rolls back and drops models.  Without the sequence
-- grant the first write fails with 42501 and leaves nothing behind.
SET extra_float_digits = 0;
\set SHOW_CONTEXT never
SET client_min_messages = warning;

DROP ROLE IF EXISTS dba_ops;
CREATE ROLE dba_ops;
GRANT EXECUTE ON FUNCTION rerank.create_model, rerank.activate_model,
    rerank.rollback_model, rerank.deactivate_model, rerank.drop_model,
    rerank.model_id, rerank.active_model TO dba_ops;
GRANT EXECUTE ON PROCEDURE rerank.train_als, rerank.train_item_knn TO dba_ops;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA rerank TO dba_ops;

CREATE TABLE public.dba_source (user_id bigint, item_id bigint, weight real);
INSERT INTO public.dba_source
SELECT u, i, 1 FROM generate_series(1, 12) u, generate_series(1, 8) i
 WHERE (u + i) % 3 <> 0;
GRANT SELECT ON public.dba_source TO dba_ops;

-- without USAGE on the sequence: a clear error, the registry unchanged
SET ROLE dba_ops;
SELECT rerank.create_model('dba_m', 4);
CALL rerank.train_als('dba_m', 'public.dba_source', factors => 4, iterations => 2);
RESET ROLE;
SELECT count(*) AS dba_models FROM rerank.models WHERE name LIKE 'dba%';

-- with it: the whole life cycle of a model
GRANT USAGE ON SEQUENCE rerank.data_version_seq TO dba_ops;
SET ROLE dba_ops;
CALL rerank.train_als('dba_m', 'public.dba_source', factors => 4, iterations => 2,
                      activate => true);
SELECT rerank.active_model() = 'dba_m' AS dba_m_active;
SELECT factors_version AS v1 FROM rerank.models WHERE name = 'dba_m' \gset
CALL rerank.train_als('dba_m', 'public.dba_source', factors => 4, iterations => 3,
                      replace => true);
SELECT factors_version > :v1 AS retrain_took_a_new_version
  FROM rerank.models WHERE name = 'dba_m';
CALL rerank.train_item_knn('dba_knn', 'public.dba_source', neighbors => 3, activate => true);
SELECT rerank.active_model() = 'dba_knn' AS dba_knn_active;
SELECT rerank.rollback_model() IS NOT NULL AS rolled_back;
SELECT rerank.active_model() = 'dba_m' AS dba_m_active_again;
SELECT rerank.deactivate_model();
SELECT rerank.drop_model('dba_knn'), rerank.drop_model('dba_m');
RESET ROLE;
SELECT count(*) AS dba_models FROM rerank.models WHERE name LIKE 'dba%';

DROP TABLE public.dba_source;
REVOKE ALL ON ALL TABLES IN SCHEMA rerank FROM dba_ops;
REVOKE ALL ON SEQUENCE rerank.data_version_seq FROM dba_ops;
REVOKE ALL ON FUNCTION rerank.create_model, rerank.activate_model,
    rerank.rollback_model, rerank.deactivate_model, rerank.drop_model,
    rerank.model_id, rerank.active_model FROM dba_ops;
REVOKE ALL ON PROCEDURE rerank.train_als, rerank.train_item_knn FROM dba_ops;
DROP ROLE dba_ops;
