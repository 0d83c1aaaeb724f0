-- User-based collaborative filtering: each user's nearest users, stored
-- like item-kNN lists, served from an index held with the model (the
-- users' training interactions by user and by item), and recomputed at
-- serving time from the current history of users whose history changed or
-- whom training did not see.  C in src/train/train_user_knn.c,
-- src/cache/user_knn_cache.c, src/model/user_neighbors.c, src/core/user_knn.c.

CREATE TABLE rerank.user_neighbors (
    model_id integer NOT NULL REFERENCES rerank.models ON DELETE CASCADE,
    user_id bigint NOT NULL,
    neighbor_ids bigint[] NOT NULL,
    similarities real[] NOT NULL,
    PRIMARY KEY (model_id, user_id),
    CHECK (pg_catalog.cardinality(neighbor_ids) OPERATOR(pg_catalog.=) pg_catalog.cardinality(similarities))
);
-- forget_user finds the lists that name a user through this index
CREATE INDEX user_neighbors_neighbor_ids ON rerank.user_neighbors USING gin (neighbor_ids);
COMMENT ON TABLE rerank.user_neighbors IS
    'user-kNN models: each user''s nearest users (the user left out), most similar first';
COMMENT ON COLUMN rerank.user_neighbors.model_id IS 'the model (algorithm user_knn)';
COMMENT ON COLUMN rerank.user_neighbors.user_id IS 'the shop''s user id';
COMMENT ON COLUMN rerank.user_neighbors.neighbor_ids IS 'the neighbors, most similar first';
COMMENT ON COLUMN rerank.user_neighbors.similarities IS 'their similarity to the user (same order), all positive';

SELECT pg_catalog.pg_extension_config_dump('rerank.user_neighbors', '');

-- Changed lists give their model a new factors_version, as changed item
-- neighbor lists do, so backends that cache the model's index reload it.
-- Its training interactions have no trigger (a training of any model
-- writes them, and only the model it trains): what changes them under a
-- user-kNN model, forget_user, gives it a new version itself.
CREATE TRIGGER user_neighbors_inserted AFTER INSERT ON rerank.user_neighbors
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER user_neighbors_updated AFTER UPDATE ON rerank.user_neighbors
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER user_neighbors_deleted AFTER DELETE ON rerank.user_neighbors
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();
CREATE TRIGGER user_neighbors_truncated AFTER TRUNCATE ON rerank.user_neighbors
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.item_factors_changed();

CREATE PROCEDURE rerank.train_user_knn(
    model_name pg_catalog.text,
    source pg_catalog.regclass,
    neighbors integer DEFAULT 50,
    similarity pg_catalog.text DEFAULT 'cosine',
    shrinkage double precision DEFAULT 0,
    min_overlap integer DEFAULT 1,
    activate boolean DEFAULT false,
    replace boolean DEFAULT false,
    weight_column pg_catalog.text DEFAULT NULL,
    description pg_catalog.text DEFAULT NULL)
    AS 'MODULE_PATHNAME', 'train_user_knn'
    LANGUAGE C
    -- its queries resolve operators and functions here, never in the caller's path
    SET search_path = pg_catalog, pg_temp;
COMMENT ON PROCEDURE rerank.train_user_knn(pg_catalog.text, pg_catalog.regclass, integer, pg_catalog.text, double precision, integer, boolean, boolean, pg_catalog.text, pg_catalog.text) IS
    'trains a user-based collaborative filtering model: each user''s nearest users by cosine, jaccard or pearson similarity over their items, shrunk by n / (n + shrinkage) for n shared items, at least min_overlap shared items';
REVOKE EXECUTE ON PROCEDURE rerank.train_user_knn(pg_catalog.text, pg_catalog.regclass, integer, pg_catalog.text, double precision, integer, boolean, boolean, pg_catalog.text, pg_catalog.text) FROM PUBLIC;

-- Served like predict, recommend and similar_items (40_training.sql).
CREATE FUNCTION rerank.similar_users(user_id bigint, k integer DEFAULT 10,
                                     model pg_catalog.text DEFAULT NULL)
    RETURNS TABLE (similar_user_id bigint, similarity double precision)
    AS 'MODULE_PATHNAME', 'similar_users'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.similar_users(bigint, integer, pg_catalog.text) IS
    'the k users most similar to a user in a user-kNN model (NULL: the active model), most similar first: the trained list, or for a user whose history changed since training or whom training did not see, the list computed from the current history (stable: reads the model)';
REVOKE EXECUTE ON FUNCTION rerank.similar_users(bigint, integer, pg_catalog.text) FROM PUBLIC;

-- The registry's overview, here because it counts the neighbor lists of
-- 40_training.sql and of this file beside the vectors of 30_models.sql.
CREATE VIEW rerank.model_versions AS
SELECT m.name, m.algorithm, m.dimensions, m.is_active, m.created_at, m.trained_at,
       m.training_seconds, m.activated_at,
       (SELECT pg_catalog.count(*) FROM rerank.item_factors f
         WHERE f.model_id OPERATOR(pg_catalog.=) m.model_id)
       OPERATOR(pg_catalog.+)
       (SELECT pg_catalog.count(*) FROM rerank.item_neighbors n
         WHERE n.model_id OPERATOR(pg_catalog.=) m.model_id) AS items,
       (SELECT pg_catalog.count(*) FROM rerank.user_factors u
         WHERE u.model_id OPERATOR(pg_catalog.=) m.model_id)
       OPERATOR(pg_catalog.+)
       (SELECT pg_catalog.count(*) FROM rerank.user_neighbors n
         WHERE n.model_id OPERATOR(pg_catalog.=) m.model_id) AS users,
       m.params, m.metrics, m.description
  FROM rerank.models m
 ORDER BY m.model_id;
COMMENT ON VIEW rerank.model_versions IS
    'the registered models, oldest first, with their item and user counts (vectors, or neighbor lists for kNN models)';
