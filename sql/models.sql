-- The model registry: bring-your-own vectors, validation, activation,
-- rollback, drop, and every bad input.
SET extra_float_digits = 0;
\set SHOW_CONTEXT never

SELECT rerank.active_model() IS NULL AS none_active;

-- the COPY data below names model id 1: start the ids over (earlier test
-- files drop the models they create)
SELECT count(*) AS leftover_models FROM rerank.models;
ALTER TABLE rerank.models ALTER COLUMN model_id RESTART WITH 1;
SELECT coalesce(max(activation_id), 0) AS first_activation FROM rerank.model_activations \gset

SELECT rerank.create_model('m1', 3, description => 'three dims') AS m1_id \gset
SELECT rerank.model_id('m1') = :m1_id AS id_ok;
SELECT name, algorithm, dimensions, params, is_active, gram IS NULL AS no_gram
  FROM rerank.models ORDER BY model_id;

-- plain INSERT and COPY of vectors
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias)
VALUES (rerank.model_id('m1'), 1, '{1,0,0}', 0.5),
       (rerank.model_id('m1'), 2, '{0,1,0}', 0),
       (rerank.model_id('m1'), 3, '{0,0,1}', -0.5);
COPY rerank.item_factors (model_id, item_id, factors) FROM stdin;
1	4	{1,1,1}
1	5	{2,0,2}
\.
INSERT INTO rerank.user_factors (model_id, user_id, factors)
VALUES (rerank.model_id('m1'), 100, '{1,2,3}');

-- rows that do not fit the model are rejected, naming the model and id
INSERT INTO rerank.item_factors (model_id, item_id, factors) VALUES (:m1_id, 10, '{1,2}');
INSERT INTO rerank.item_factors (model_id, item_id, factors) VALUES (:m1_id, 11, '{1,2,3,4}');
INSERT INTO rerank.item_factors (model_id, item_id, factors) VALUES (:m1_id, 12, '{1,NULL,3}');
INSERT INTO rerank.item_factors (model_id, item_id, factors) VALUES (:m1_id, 13, '{1,NaN,3}');
INSERT INTO rerank.item_factors (model_id, item_id, factors) VALUES (:m1_id, 14, '{1,2,Infinity}');
INSERT INTO rerank.item_factors (model_id, item_id, factors) VALUES (:m1_id, 15, '{{1,2,3}}');
INSERT INTO rerank.item_factors (model_id, item_id, factors) VALUES (:m1_id, 16, NULL);
INSERT INTO rerank.item_factors (model_id, item_id, factors) VALUES (:m1_id, 17, '{}');
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias) VALUES (:m1_id, 18, '{1,2,3}', 'NaN');
INSERT INTO rerank.item_factors (model_id, item_id, factors) VALUES (999, 19, '{1,2,3}');
INSERT INTO rerank.user_factors (model_id, user_id, factors) VALUES (:m1_id, 101, '{1,2}');
INSERT INTO rerank.user_factors (model_id, user_id, factors) VALUES (:m1_id, 102, '{-Infinity,2,3}');
UPDATE rerank.item_factors SET factors = '{1}' WHERE item_id = 1;
COPY rerank.item_factors (model_id, item_id, factors) FROM stdin;
1	20	{1,2,3}
1	21	{1,2}
\.
-- the failed COPY left nothing
SELECT count(*) AS items FROM rerank.item_factors;

-- registry bad input
SELECT rerank.create_model('m1', 3);
SELECT rerank.create_model('bad', 0 - 1);
SELECT rerank.create_model('bad', 5000);
SELECT rerank.create_model('bad', 3, 'magic');
SELECT rerank.create_model('bad', 3, params => '[1]');
SELECT rerank.create_model('', 3);
SELECT rerank.create_model(NULL, 3);
SELECT rerank.create_model('bad', NULL);
SELECT rerank.model_id('nope');
SELECT rerank.model_id(NULL);
SELECT rerank.activate_model('nope');
SELECT rerank.drop_model('nope');
UPDATE rerank.models SET dimensions = 4 WHERE name = 'm1';

-- activation computes YᵀY (the Gram matrix of the item factors)
SELECT rerank.activate_model('m1');
SELECT rerank.active_model();
SELECT gram, factors_version > 0 AS versioned FROM rerank.models WHERE name = 'm1';
SELECT gram = (SELECT rerank.gram_matrix(factors) FROM rerank.item_factors WHERE model_id = :m1_id)
       AS gram_ok
  FROM rerank.models WHERE name = 'm1';
SELECT rerank.activate_model('m1');

-- changing item factors resets YᵀY and bumps the version, once per statement
SELECT factors_version AS v_before FROM rerank.models WHERE name = 'm1' \gset
UPDATE rerank.item_factors SET bias = 1 WHERE model_id = :m1_id;
SELECT gram IS NULL AS gram_reset, factors_version - :v_before AS bumps
  FROM rerank.models WHERE name = 'm1';
-- user vectors do not touch the model row
INSERT INTO rerank.user_factors (model_id, user_id, factors) VALUES (:m1_id, 103, '{0,0,1}');
SELECT factors_version - :v_before AS bumps FROM rerank.models WHERE name = 'm1';

-- a model without vectors cannot become active
SELECT rerank.create_model('empty', 3) > 0 AS created;
SELECT rerank.activate_model('empty');

-- versions: activate, roll back (walking back), at most one active
SELECT rerank.create_model('m2', 2) > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
VALUES (rerank.model_id('m2'), 1, '{1,2}');
SELECT rerank.create_model('m3', 2) > 0 AS created;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
VALUES (rerank.model_id('m3'), 1, '{3,4}');
SELECT rerank.activate_model('m2');
SELECT rerank.activate_model('m3');
SELECT count(*) FILTER (WHERE is_active) AS active_count FROM rerank.models;
SELECT rerank.rollback_model();
SELECT rerank.rollback_model();
SELECT rerank.rollback_model();
SELECT rerank.active_model();
UPDATE rerank.models SET is_active = true WHERE name = 'm3';
SELECT m.name, a.action, p.name AS previous
  FROM rerank.model_activations a
  LEFT JOIN rerank.models m ON m.model_id = a.model_id
  LEFT JOIN rerank.models p ON p.model_id = a.previous_model_id
 WHERE a.activation_id > :first_activation
 ORDER BY a.activation_id;
SELECT name, algorithm, dimensions, is_active, items, users FROM rerank.model_versions;

-- activation is one transaction: a failed one leaves the old model active
BEGIN;
SELECT rerank.activate_model('m2');
SELECT rerank.active_model();
ROLLBACK;
SELECT rerank.active_model();

-- drop: an active model only with force; vectors go with the model
SELECT rerank.drop_model('m1');
SELECT rerank.model_id('m2') AS m2_id \gset
SELECT rerank.drop_model('m2');
SELECT count(*) AS m2_items FROM rerank.item_factors WHERE model_id = :m2_id;
SELECT rerank.drop_model('m1', force => true);
SELECT rerank.active_model() IS NULL AS none_active;
SELECT rerank.rollback_model();
SELECT rerank.deactivate_model();
SELECT name FROM rerank.models ORDER BY model_id;

-- privileges: an application role cannot manage models
CREATE ROLE rerank_regress_app;
SET ROLE rerank_regress_app;
SELECT rerank.dot('{1}', '{2}') AS app_can_compute;
SELECT rerank.create_model('x', 2);
SELECT rerank.activate_model('m3');
SELECT rerank.drop_model('m3');
RESET ROLE;
DROP ROLE rerank_regress_app;

-- every object of the extension has a comment
SELECT d.classid::regclass, pg_describe_object(d.classid, d.objid, 0) AS object
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'rerank')
   AND d.deptype = 'e'
   AND d.classid IN ('pg_proc'::regclass, 'pg_class'::regclass)
   AND obj_description(d.objid, d.classid::regclass::text) IS NULL
   AND NOT (d.classid = 'pg_class'::regclass
            AND (SELECT relkind FROM pg_class WHERE oid = d.objid) IN ('i', 'S'))
 ORDER BY 2;

-- hardening: every SQL and PL/pgSQL function pins its search_path
SELECT p.oid::regprocedure
  FROM pg_proc p
 WHERE p.pronamespace = 'rerank'::regnamespace
   AND p.prolang IN (SELECT oid FROM pg_language WHERE lanname IN ('sql', 'plpgsql'))
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
 ORDER BY 1;

-- the SQLSTATE of each kind of bad input
SELECT q AS query, sqlstate_of(q) AS sqlstate FROM (VALUES
    ($q$INSERT INTO rerank.item_factors VALUES (rerank.model_id('m3'), 9, '{1}')$q$),
    ($q$INSERT INTO rerank.item_factors VALUES (rerank.model_id('m3'), 9, '{1,NULL}')$q$),
    ($q$INSERT INTO rerank.item_factors VALUES (rerank.model_id('m3'), 9, '{1,NaN}')$q$),
    ($q$INSERT INTO rerank.item_factors VALUES (rerank.model_id('m3'), 9, '{{1,2}}')$q$),
    ($q$SELECT rerank.create_model('m3', 2)$q$),
    ($q$SELECT rerank.create_model('x', 9999)$q$),
    ($q$SELECT rerank.create_model(NULL, 2)$q$),
    ($q$SELECT rerank.model_id('nope')$q$),
    ($q$SELECT rerank.activate_model('empty')$q$),
    ($q$SELECT rerank.rollback_model()$q$),
    ($q$UPDATE rerank.models SET dimensions = 7$q$)
) t(q);

SELECT rerank.activate_model('m3');
SELECT sqlstate_of($q$SELECT rerank.drop_model('m3')$q$) AS drop_active;
SELECT rerank.drop_model('m3', force => true);
SELECT rerank.drop_model('empty');
