#!/usr/bin/env bash
# The README's main command: the rerank story on a throwaway local cluster.
#
#   sudo bash test/demo.sh
#
# Installs what is missing, builds and installs the extension, starts a
# throwaway cluster, and walks through what rerank does today: a synthetic
# catalog whose vectors are imported as a model, similarity search in SQL,
# a user profile built with the vector aggregates, activation and rollback.
# Nothing is left running.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

rr_ensure_packages
rr_build_install
rr_cluster_start rerank-demo

rr_log "1. a synthetic catalog: 5,000 items in 20 categories, 32-dimensional vectors"
rr_psql <<'SQL'
CREATE EXTENSION rerank;
CREATE SCHEMA shop;
-- items of a category share a direction in the embedding space
CREATE TABLE shop.items AS
SELECT i AS item_id, i % 20 AS category,
       (SELECT array_agg((sin(c * 1.7 + d) + (hashint4(i * 32 + d) % 1000) / 2000.0)::real ORDER BY d)
          FROM generate_series(1, 32) d, (SELECT i % 20 AS c) cat) AS embedding
  FROM generate_series(1, 5000) i;
SELECT rerank.create_model('demo_embeddings', 32, description => 'synthetic two-tower vectors') AS model_id;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('demo_embeddings'), item_id, embedding FROM shop.items;
SELECT rerank.activate_model('demo_embeddings');
SQL

rr_log "2. items most similar to item 42 (category 2)"
rr_psql <<'SQL'
SELECT f.item_id, i.category,
       round(rerank.cosine_similarity(f.factors, q.factors)::numeric, 3) AS cosine
  FROM rerank.item_factors f
  JOIN shop.items i USING (item_id)
  CROSS JOIN (SELECT factors FROM rerank.item_factors
               WHERE model_id = rerank.model_id('demo_embeddings') AND item_id = 42) q
 WHERE f.model_id = rerank.model_id('demo_embeddings') AND f.item_id <> 42
 ORDER BY cosine DESC LIMIT 5;
SQL

rr_log "3. a user's taste as the weighted mean of what they touched, and the best matches"
rr_psql <<'SQL'
CREATE TABLE shop.events (user_id bigint, item_id bigint, weight real);
INSERT INTO shop.events VALUES (7, 3, 1), (7, 23, 4), (7, 43, 2), (7, 10, 0.5);
WITH taste AS (
    SELECT rerank.vector_avg(f.factors, e.weight) AS v
      FROM shop.events e JOIN rerank.item_factors f
        ON f.item_id = e.item_id AND f.model_id = rerank.model_id('demo_embeddings')
     WHERE e.user_id = 7)
SELECT f.item_id, i.category, round(rerank.dot(f.factors, taste.v)::numeric, 3) AS score
  FROM rerank.item_factors f JOIN shop.items i USING (item_id), taste
 WHERE f.model_id = rerank.model_id('demo_embeddings')
 ORDER BY score DESC LIMIT 5;
SQL

rr_log "4. model versions: a second model, activation, rollback"
rr_psql <<'SQL'
SELECT rerank.create_model('demo_v2', 32) AS model_id;
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('demo_v2'), item_id, rerank.l2_normalize(embedding) FROM shop.items;
SELECT rerank.activate_model('demo_v2');
SELECT name, is_active, items FROM rerank.model_versions;
SELECT rerank.rollback_model() AS active_after_rollback;
SQL
rr_log "demo finished; the cluster is stopped and removed"
