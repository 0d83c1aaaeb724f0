-- A DBA that is not a superuser (docs/reference.md, "Privileges"): with
-- EXECUTE on the registry and training procedures, the privileges on the
-- tables they read and write, and USAGE on rerank.data_version_seq (every
-- change of a model's data takes the sequence's next value), it trains,
-- activates, retrains, rolls back and drops models, learned rankers
-- included.  Without the sequence grant the first write fails with 42501
-- and leaves nothing behind.
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
CREATE TABLE public.dba_log AS
SELECT user_id, item_id, (ARRAY['view', 'click', 'cart'])[1 + (user_id + item_id) % 3] AS event_type,
       timestamptz '2026-01-01 00:00+00' + (user_id * 13 + item_id * 7) * interval '1 minute' AS at
  FROM public.dba_source;
GRANT SELECT ON public.dba_log TO dba_ops;
GRANT EXECUTE ON PROCEDURE rerank.train_ranker TO dba_ops;
GRANT EXECUTE ON FUNCTION rerank.rollback_ranker, rerank.deactivate_ranker TO dba_ops;

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
-- and learned rankers': trained, activated in their own slot, rolled back,
-- deactivated, dropped
CALL rerank.train_ranker('dba_r1', 'public.dba_log', time_column => 'at', trees => 3,
                         max_depth => 2, options => '{"warm_up": 0}', activate => true);
CALL rerank.train_ranker('dba_r2', 'public.dba_log', time_column => 'at', trees => 4,
                         max_depth => 2, options => '{"warm_up": 0}');
SELECT rerank.activate_model('dba_r2');
SELECT rerank.active_ranker() = 'dba_r2' AS dba_r2_active;
SELECT rerank.rollback_ranker() = 'dba_r1' AS rolled_back_to_dba_r1;
SELECT rerank.deactivate_ranker();
SELECT rerank.drop_model('dba_r1'), rerank.drop_model('dba_r2');
RESET ROLE;
SELECT count(*) AS dba_models FROM rerank.models WHERE name LIKE 'dba%';

DROP TABLE public.dba_source, public.dba_log;
REVOKE ALL ON ALL TABLES IN SCHEMA rerank FROM dba_ops;
REVOKE ALL ON SEQUENCE rerank.data_version_seq FROM dba_ops;
REVOKE ALL ON FUNCTION rerank.create_model, rerank.activate_model,
    rerank.rollback_model, rerank.deactivate_model, rerank.drop_model,
    rerank.model_id, rerank.active_model FROM dba_ops;
REVOKE ALL ON PROCEDURE rerank.train_als, rerank.train_item_knn, rerank.train_ranker FROM dba_ops;
REVOKE ALL ON FUNCTION rerank.rollback_ranker, rerank.deactivate_ranker FROM dba_ops;
DROP ROLE dba_ops;
