#!/usr/bin/env bash
# pg_dump / pg_restore round trip: every model, vector, neighbor list,
# learned ranker (its booster, the active ranker, the scores it gives),
# impressions mapping, activation and the active flag survive, and new
# models get fresh ids afterwards; a user-kNN model serves the same lists
# and recommendations.
# Runs against the cluster of test/run_tests.sh (PGHOST, PGPORT, PGUSER).
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

src=rerank_dump_src
dst=rerank_dump_dst
rr_scratch_dbs "$src" "$dst"
createdb "$src"

rr_psql -d "$src" >/dev/null <<'SQL'
CREATE EXTENSION rerank;
SELECT rerank.create_model('alpha', 4, params => '{"regularization": 0.1}') \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias)
SELECT rerank.model_id('alpha'), i,
       ARRAY[sin(i), cos(i), sin(2 * i), 1]::real[], (i % 5) / 10.0
  FROM generate_series(1, 500) i;
INSERT INTO rerank.user_factors (model_id, user_id, factors)
SELECT rerank.model_id('alpha'), u, ARRAY[u, -u, 0.5, 0.25]::real[]
  FROM generate_series(1, 50) u;
SELECT rerank.create_model('beta', 2, description => 'second');
INSERT INTO rerank.item_factors (model_id, item_id, factors)
VALUES (rerank.model_id('beta'), 1, '{1,2}'), (rerank.model_id('beta'), 2, '{3,4}');
SELECT rerank.activate_model('beta');
SELECT rerank.activate_model('alpha');
UPDATE rerank.models SET metrics = '{"ndcg_at_10": 0.42}' WHERE name = 'alpha';
-- behavior data: a changed default, a replaced default, a new event type
UPDATE rerank.event_weights SET weight = 1.5 WHERE event_type = 'view';
INSERT INTO rerank.event_weights (event_type, weight) VALUES ('click', 2.5), ('share', 5);
INSERT INTO rerank.items VALUES (1, 'shoes', 'acme', '{"color": "red"}');
INSERT INTO rerank.user_features (user_id, event_counts, recent_items, recent_weights)
VALUES (7, '{"view": 2}', '{1,2}', '{1,2}');
-- an item-kNN model: neighbor lists and training interactions
CREATE TABLE knn_src (user_id bigint, item_id bigint);
INSERT INTO knn_src SELECT u, (u * 7 + j) % 40 + 1 FROM generate_series(1, 30) u, generate_series(1, 6) j;
SET client_min_messages = warning;
CALL rerank.train_item_knn('kn', 'knn_src', neighbors => 5);
-- two learned rankers, the second active, and an impressions mapping
CREATE TABLE ev (user_id bigint, item_id bigint, event_type text, at timestamptz);
INSERT INTO ev
SELECT u, 1 + (u * 7 + j * 3) % 40, (ARRAY['view', 'click', 'cart'])[1 + j % 3],
       timestamptz '2026-01-01 00:00+00' + (u * 17 + j * 60) * interval '1 minute'
  FROM generate_series(1, 30) u, generate_series(1, 30) j;
CALL rerank.train_ranker('lr1', 'ev', time_column => 'at', trees => 3, max_depth => 3,
                         options => '{"warm_up": 0}');
CALL rerank.train_ranker('lr2', 'ev', time_column => 'at', trees => 5, max_depth => 3,
                         options => '{"warm_up": 0}');
SELECT rerank.activate_model('lr1');
SELECT rerank.activate_model('lr2');
CREATE TABLE imp (uid bigint, iid bigint, ts timestamptz, pos integer);
SELECT rerank.attach_impressions('imp', 'uid', 'iid', 'ts', 'pos');
-- a user-kNN model: user neighbor lists (and their GIN index) and interactions
CALL rerank.train_user_knn('uk', 'knn_src', neighbors => 4, similarity => 'pearson', shrinkage => 1);
SQL

rr_dump_restore "$src" "$dst"

# The same rows on both sides (gram is derived data: compare it once recomputed).
fingerprint() {
	rr_psql -d "$1" -At <<'SQL'
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (
    SELECT model_id, name, algorithm, dimensions, params, metrics, is_active,
           created_at, trained_at, description
      FROM rerank.models) t
UNION ALL
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM rerank.item_factors t
UNION ALL
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM rerank.user_factors t
UNION ALL
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM rerank.model_activations t
UNION ALL
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM rerank.event_weights t
UNION ALL
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM rerank.items t
UNION ALL
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT user_id, event_counts, recent_items, recent_weights FROM rerank.user_features) t
UNION ALL
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM rerank.item_neighbors t
UNION ALL
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM rerank.model_interactions t
UNION ALL
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM rerank.rankers t
UNION ALL
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM rerank.impression_sources t
UNION ALL
SELECT rerank.active_ranker()
UNION ALL
SELECT string_agg(r.item_id || ':' || r.score, ',' ORDER BY r.rank)
  FROM rerank.rerank(7, ARRAY(SELECT generate_series(1, 40)::bigint)) r
UNION ALL
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM rerank.user_neighbors t
UNION ALL
SELECT string_agg(similar_user_id || ':' || similarity, ',') FROM rerank.similar_users(3, 4, 'uk')
UNION ALL
-- user 7's recorded history differs from its training one: real-time neighbors
SELECT string_agg(item_id || ':' || round(score::numeric, 6), ',') FROM rerank.recommend(7, 5, model => 'uk')
UNION ALL
SELECT (SELECT count(*) FROM rerank.user_neighbors WHERE neighbor_ids @> '{3}')::text
UNION ALL
SELECT rerank.rerank_ids(3, ARRAY(SELECT generate_series(1, 40)::bigint), diversity => 0.3,
                         model => 'kn')::text
UNION ALL
SELECT rerank.active_model()
UNION ALL
SELECT count(*)::text FROM rerank.item_factors;
SQL
}
before=$(fingerprint "$src")
after=$(fingerprint "$dst")
rr_same_or_fail "dump/restore changed the models" "$before" "$after"

# YᵀY of each model: stored at activation in the source; the restore of the
# item factors resets it, so there it is recomputed.
gram() {
	rr_psql -d "$1" -At -c "SELECT string_agg(m.name || ' ' || coalesce(($2)::text, ''), ', ' ORDER BY m.name)
	                          FROM rerank.models m"
}
recomputed="coalesce(m.gram, (SELECT rerank.gram_matrix(f.factors)
                                FROM rerank.item_factors f WHERE f.model_id = m.model_id))"
rr_same_or_fail "YᵀY differs after restore" "$(gram "$src" m.gram)" "$(gram "$dst" "$recomputed")"

# The restored sequences continue: a new model gets a fresh id, rollback works.
rr_psql -d "$dst" -At <<'SQL' >/dev/null
SELECT rerank.create_model('gamma', 2);
SELECT rerank.rollback_model();
SELECT rerank.rollback_ranker();
SQL
check=$(rr_psql -d "$dst" -At -c "SELECT count(DISTINCT model_id) = count(*) AND rerank.active_model() = 'beta' AND rerank.active_ranker() = 'lr1' FROM rerank.models")
[ "$check" = t ] || { echo "ids or rollback wrong after restore"; exit 1; }
echo "dump/restore: models, vectors, neighbor lists, rankers, activations and ids survive ($(echo "$before" | tail -1) item vectors)"
