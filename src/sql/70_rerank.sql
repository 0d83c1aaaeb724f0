-- Serving: rerank(), rerank_ids() and explain() (src/serve/rerank_fn.c,
-- src/serve/explain.c, the ranking core src/core/rank.c).
--
-- Privileges: the serving functions read the model registry, the factor
-- tables and rerank.user_features, which hold every user's behavior.  They
-- run as the extension's owner (SECURITY DEFINER, with a pinned
-- search_path) so an application role needs no right on those tables, and
-- EXECUTE is revoked from PUBLIC: the DBA grants it to the roles that serve
-- (docs/reference.md, "Privileges").  explain() reveals a user's history, so grant it
-- more narrowly.
--
-- Markings: STABLE because they read tables and settings; PARALLEL
-- RESTRICTED so they run in the leader, whose model cache is warm, never
-- in a worker that would load the model again.

CREATE FUNCTION rerank.rerank(
    user_id bigint,
    item_ids bigint[],
    k integer DEFAULT NULL,
    diversity double precision DEFAULT 0,
    max_per_category integer DEFAULT NULL,
    exclude_purchased boolean DEFAULT false,
    exclude bigint[] DEFAULT NULL,
    model_weight double precision DEFAULT NULL,
    recent_weight double precision DEFAULT NULL,
    position_weight double precision DEFAULT NULL,
    category_weight double precision DEFAULT NULL,
    model pg_catalog.text DEFAULT NULL,
    OUT item_id bigint,
    OUT score double precision,
    OUT rank integer)
    RETURNS SETOF pg_catalog.record
    AS 'MODULE_PATHNAME', 'rerank'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.rerank(bigint, bigint[], integer, double precision, integer,
                                  boolean, bigint[], double precision, double precision,
                                  double precision, double precision, pg_catalog.text) IS
    're-orders the candidates item_ids for the user: blended score of the model (x_u·y_i + b_i), the similarity to the user''s recent items, the upstream position and the category affinity (weights default to the rerank.*_weight settings); k cuts, diversity applies MMR, max_per_category caps categories, exclude_purchased and exclude filter; items without a vector keep their upstream slot; no active model keeps the upstream order';

CREATE FUNCTION rerank.rerank_ids(
    user_id bigint,
    item_ids bigint[],
    k integer DEFAULT NULL,
    diversity double precision DEFAULT 0,
    max_per_category integer DEFAULT NULL,
    exclude_purchased boolean DEFAULT false,
    exclude bigint[] DEFAULT NULL,
    model_weight double precision DEFAULT NULL,
    recent_weight double precision DEFAULT NULL,
    position_weight double precision DEFAULT NULL,
    category_weight double precision DEFAULT NULL,
    model pg_catalog.text DEFAULT NULL)
    RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'rerank_ids'
    LANGUAGE C STABLE PARALLEL RESTRICTED
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.rerank_ids(bigint, bigint[], integer, double precision, integer,
                                      boolean, bigint[], double precision, double precision,
                                      double precision, double precision, pg_catalog.text) IS
    'the item ids of rerank.rerank() with the same arguments, in their new order; NULL when user_id or item_ids is NULL';

CREATE FUNCTION rerank.explain(
    user_id bigint,
    item_id bigint,
    n integer DEFAULT 5,
    upstream_position integer DEFAULT NULL,
    model_weight double precision DEFAULT NULL,
    recent_weight double precision DEFAULT NULL,
    position_weight double precision DEFAULT NULL,
    category_weight double precision DEFAULT NULL,
    model pg_catalog.text DEFAULT NULL,
    OUT term pg_catalog.text,
    OUT history_item_id bigint,
    OUT value double precision,
    OUT contribution double precision)
    RETURNS SETOF pg_catalog.record
    AS 'MODULE_PATHNAME', 'explain'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 12
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rerank.explain(bigint, bigint, integer, integer, double precision,
                                   double precision, double precision, double precision, pg_catalog.text) IS
    'why rerank() scores the item as it does for the user: each blend term (value and weighted contribution), the model score split exactly into per-history-item contributions (as implicit''s explain) and the recent-items similarity split by recent item; the n largest shown, the rest summed';

REVOKE EXECUTE ON FUNCTION rerank.rerank(bigint, bigint[], integer, double precision, integer,
                                         boolean, bigint[], double precision, double precision,
                                         double precision, double precision, pg_catalog.text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.rerank_ids(bigint, bigint[], integer, double precision, integer,
                                             boolean, bigint[], double precision, double precision,
                                             double precision, double precision, pg_catalog.text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rerank.explain(bigint, bigint, integer, integer, double precision,
                                          double precision, double precision, double precision, pg_catalog.text)
    FROM PUBLIC;

-- Item categories are cached in each backend for rerank()
-- (src/cache/category_cache.c); a change of item ids or categories invalidates
-- them at commit.
CREATE FUNCTION rerank.category_cache_invalidate() RETURNS pg_catalog.trigger
    AS 'MODULE_PATHNAME', 'category_cache_invalidate'
    LANGUAGE C;
COMMENT ON FUNCTION rerank.category_cache_invalidate() IS
    'AFTER statement trigger of rerank.items: invalidates the item categories cached by every backend, at commit';
CREATE TRIGGER category_cache_invalidate
    AFTER INSERT OR UPDATE OF item_id, category OR DELETE OR TRUNCATE ON rerank.items
    FOR EACH STATEMENT EXECUTE FUNCTION rerank.category_cache_invalidate();
