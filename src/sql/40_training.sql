-- In-database training (issue 3): implicit-feedback ALS and item-based
-- collaborative filtering, the ALS user step as an aggregate, and the
-- functions that use and evaluate trained models.  C in src/train/,
-- src/vectors/als_fold_in.c and src/serve/recommend.c.

CREATE TABLE rerank.model_interactions (
    model_id integer NOT NULL REFERENCES rerank.models ON DELETE CASCADE,
    user_id bigint NOT NULL,
    item_ids bigint[] NOT NULL,
    weights real[] NOT NULL,
    PRIMARY KEY (model_id, user_id),
    CHECK (pg_catalog.cardinality(item_ids) OPERATOR(pg_catalog.=) pg_catalog.cardinality(weights))
);
COMMENT ON TABLE rerank.model_interactions IS
    'the interactions a model was trained on, one row per user: what recommend(exclude_seen) leaves out and item-kNN scores from';
COMMENT ON COLUMN rerank.model_interactions.model_id IS 'the model';
COMMENT ON COLUMN rerank.model_interactions.user_id IS 'the shop''s user id';
COMMENT ON COLUMN rerank.model_interactions.item_ids IS 'the items of the user''s training rows, ascending, each once';
COMMENT ON COLUMN rerank.model_interactions.weights IS 'summed weight r of each item (same order)';

CREATE TABLE rerank.item_neighbors (
    model_id integer NOT NULL REFERENCES rerank.models ON DELETE CASCADE,
    item_id bigint NOT NULL,
    neighbor_ids bigint[] NOT NULL,
    similarities real[] NOT NULL,
    PRIMARY KEY (model_id, item_id),
    CHECK (pg_catalog.cardinality(neighbor_ids) OPERATOR(pg_catalog.=) pg_catalog.cardinality(similarities))
);
COMMENT ON TABLE rerank.item_neighbors IS
    'item-kNN models: each item''s nearest neighbors (the item itself included), most similar first';
COMMENT ON COLUMN rerank.item_neighbors.model_id IS 'the model (algorithm item_knn)';
COMMENT ON COLUMN rerank.item_neighbors.item_id IS 'the shop''s item id';
COMMENT ON COLUMN rerank.item_neighbors.neighbor_ids IS 'the neighbors, most similar first';
COMMENT ON COLUMN rerank.item_neighbors.similarities IS 'their similarity to the item (same order)';

-- Changed lists bump the model's factors_version, as changed item factors
-- do, so backends that cache the lists (the model cache) reload them.
CREATE TRIGGER item_neighbors_inserted AFTER INSERT ON rerank.item_neighbors
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER item_neighbors_updated AFTER UPDATE ON rerank.item_neighbors
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER item_neighbors_deleted AFTER DELETE ON rerank.item_neighbors
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER item_neighbors_truncated AFTER TRUNCATE ON rerank.item_neighbors
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();

SELECT pg_catalog.pg_extension_config_dump('rerank.model_interactions', '');
SELECT pg_catalog.pg_extension_config_dump('rerank.item_neighbors', '');

CREATE PROCEDURE rerank.train_als(
    model_name pg_catalog.text,
    source pg_catalog.regclass,
    factors integer DEFAULT 100,
    regularization double precision DEFAULT 22,
    alpha double precision DEFAULT 1.2,
    iterations integer DEFAULT 30,
    activate boolean DEFAULT false,
    replace boolean DEFAULT false,
    solver pg_catalog.text DEFAULT 'cg',
    cg_steps integer DEFAULT 3,
    seed bigint DEFAULT 42,
    weight_column pg_catalog.text DEFAULT NULL,
    description pg_catalog.text DEFAULT NULL)
    AS 'MODULE_PATHNAME', 'train_als'
    LANGUAGE C
    -- its queries resolve operators and functions here, never in the caller's path
    SET search_path = pg_catalog, pg_temp;
COMMENT ON PROCEDURE rerank.train_als(pg_catalog.text, pg_catalog.regclass, integer, double precision, double precision, integer, boolean, boolean, pg_catalog.text, integer, bigint, pg_catalog.text, pg_catalog.text) IS
    'trains an implicit-feedback ALS model (confidence 1 + alpha * r, unscaled regularization) from a table or view with user_id, item_id and an optional weight column, and registers it';

CREATE PROCEDURE rerank.train_item_knn(
    model_name pg_catalog.text,
    source pg_catalog.regclass,
    neighbors integer DEFAULT 50,
    similarity pg_catalog.text DEFAULT 'cosine',
    activate boolean DEFAULT false,
    replace boolean DEFAULT false,
    weight_column pg_catalog.text DEFAULT NULL,
    description pg_catalog.text DEFAULT NULL)
    AS 'MODULE_PATHNAME', 'train_item_knn'
    LANGUAGE C
    -- its queries resolve operators and functions here, never in the caller's path
    SET search_path = pg_catalog, pg_temp;
COMMENT ON PROCEDURE rerank.train_item_knn(pg_catalog.text, pg_catalog.regclass, integer, pg_catalog.text, boolean, boolean, pg_catalog.text, pg_catalog.text) IS
    'trains an item-based collaborative filtering model: each item''s nearest neighbors by cosine or jaccard similarity over its users';

-- The ALS user step as an aggregate (src/vectors/als_fold_in.c).  Its state is a
-- plain float8[] of sums that add up, so it runs as a parallel partial
-- aggregate; the model's YᵀY, regularization and alpha enter at the end.
CREATE FUNCTION rerank.als_fold_in_accum(state double precision[], item_factors real[],
                                         weight real, model_name pg_catalog.text)
    RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'als_fold_in_accum'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION rerank.als_fold_in_accum(double precision[], real[], real, pg_catalog.text) IS
    'state function of rerank.als_fold_in (stable: looks the model up)';

CREATE FUNCTION rerank.als_fold_in_combine(double precision[], double precision[])
    RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'als_fold_in_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.als_fold_in_combine(double precision[], double precision[]) IS
    'combine function of rerank.als_fold_in';

CREATE FUNCTION rerank.als_fold_in_final(double precision[])
    RETURNS real[]
    AS 'MODULE_PATHNAME', 'als_fold_in_final'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION rerank.als_fold_in_final(double precision[]) IS
    'final function of rerank.als_fold_in: solves the user''s normal equations (stable: reads the model)';

CREATE AGGREGATE rerank.als_fold_in(item_factors real[], weight real, model_name pg_catalog.text) (
    SFUNC = rerank.als_fold_in_accum,
    STYPE = double precision[],
    INITCOND = '{}',
    COMBINEFUNC = rerank.als_fold_in_combine,
    FINALFUNC = rerank.als_fold_in_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE rerank.als_fold_in(real[], real, pg_catalog.text) IS
    'the ALS user vector for the rows of one user (item vector, summed weight r of that item): one ALS half-step in SQL; one row per item';

-- Serving a trained model: like rerank() (70_rerank.sql), these read the
-- registry, the factor tables, the training interactions and
-- rerank.user_features, so they run as the extension's owner (SECURITY
-- DEFINER, pinned search_path) with EXECUTE revoked from PUBLIC; the DBA
-- grants them to the serving roles.  PARALLEL RESTRICTED: run in the leader,
-- whose model cache is warm.
CREATE FUNCTION rerank.predict(user_id bigint, item_id bigint, model pg_catalog.text DEFAULT NULL)
    RETURNS double precision
    AS 'MODULE_PATHNAME', 'predict'
    LANGUAGE C STABLE PARALLEL RESTRICTED
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.predict(bigint, bigint, pg_catalog.text) IS
    'the model''s score of one (user, item) pair, NULL when either is unknown; model NULL means the active model (stable: reads the model)';

CREATE FUNCTION rerank.recommend(user_id bigint, k integer DEFAULT 10,
                                 exclude_seen boolean DEFAULT true,
                                 model pg_catalog.text DEFAULT NULL)
    RETURNS TABLE (item_id bigint, score double precision)
    AS 'MODULE_PATHNAME', 'recommend'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.recommend(bigint, integer, boolean, pg_catalog.text) IS
    'the top-k items of the whole catalog for a user, best first; exclude_seen leaves out the training interactions and the recorded history (stable: reads the model)';

CREATE FUNCTION rerank.similar_items(item_id bigint, k integer DEFAULT 10,
                                     model pg_catalog.text DEFAULT NULL)
    RETURNS TABLE (similar_item_id bigint, similarity double precision)
    AS 'MODULE_PATHNAME', 'similar_items'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.similar_items(bigint, integer, pg_catalog.text) IS
    'the k items most similar to an item, the item itself left out: cosine of the factors (ALS, imported) or the stored neighbors (item-kNN) (stable: reads the model)';

CREATE FUNCTION rerank.evaluate(model_name pg_catalog.text, test pg_catalog.regclass, k integer DEFAULT 10,
                                train pg_catalog.regclass DEFAULT NULL)
    RETURNS TABLE (users bigint, precision_at_k double precision,
                   recall_at_k double precision, ndcg_at_k double precision,
                   map_at_k double precision, hit_rate double precision,
                   coverage double precision)
    AS 'MODULE_PATHNAME', 'evaluate'
    LANGUAGE C
    -- its queries resolve operators and functions here, never in the caller's path
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.evaluate(pg_catalog.text, pg_catalog.regclass, integer, pg_catalog.regclass) IS
    'ranks the whole catalog for every user of the test source (minus the train source''s items when given) and returns precision, recall, NDCG, MAP, hit rate and coverage at k; stores them in the model''s metrics (volatile: writes)';

REVOKE EXECUTE ON PROCEDURE rerank.train_als(pg_catalog.text, pg_catalog.regclass, integer, double precision, double precision, integer, boolean, boolean, pg_catalog.text, integer, bigint, pg_catalog.text, pg_catalog.text) FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE rerank.train_item_knn(pg_catalog.text, pg_catalog.regclass, integer, pg_catalog.text, boolean, boolean, pg_catalog.text, pg_catalog.text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.evaluate(pg_catalog.text, pg_catalog.regclass, integer, pg_catalog.regclass) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.predict(bigint, bigint, pg_catalog.text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.recommend(bigint, integer, boolean, pg_catalog.text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.similar_items(bigint, integer, pg_catalog.text) FROM PUBLIC;
