#!/usr/bin/env bash
# pg_dump / pg_restore of a database whose event tables are tracked: the
# features and vectors survive as they were (restoring the events does not
# count them again: triggers are created after the data), and the restored
# triggers keep working.
# Runs against the cluster of test/run_tests.sh (PGHOST, PGPORT, PGUSER).
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

src=rerank_rt_src
dst=rerank_rt_dst
rr_scratch_dbs "$src" "$dst"
createdb "$src"

rr_psql -d "$src" >/dev/null <<'SQL'
CREATE EXTENSION rerank;
SELECT rerank.create_model('m', 3, params => '{"regularization": 0.2, "alpha": 2}');
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('m'), i, ARRAY[sin(i), cos(i), 1]::real[] FROM generate_series(1, 100) i;
SELECT rerank.activate_model('m');
CREATE SCHEMA shop;
CREATE TABLE shop.events (user_id bigint, item_id bigint, event_type text,
                          occurred_at timestamptz DEFAULT now());
CREATE TABLE shop.orders (customer_id int, product_id int, ordered_at timestamptz DEFAULT now());
SELECT rerank.attach('shop.events', time_column => 'occurred_at');
SELECT rerank.attach('shop.orders', 'customer_id', 'product_id', event_type => 'purchase',
                     time_column => 'ordered_at', for_each => 'statement');
INSERT INTO shop.events (user_id, item_id, event_type)
SELECT i % 7, i % 50 + 1, (ARRAY['view', 'click', 'cart'])[i % 3 + 1] FROM generate_series(1, 300) i;
INSERT INTO shop.orders (customer_id, product_id) SELECT i % 7, i FROM generate_series(1, 20) i;
SQL

rr_dump_restore "$src" "$dst"

state() {
	rr_psql -d "$1" -At <<'SQL'
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (
    SELECT user_id, event_counts, total_dwell_ms, first_event_at, last_event_at, recent_items,
           recent_weights, purchased_items, category_weights FROM rerank.user_features) t
UNION ALL
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (
    SELECT model_id, user_id, factors FROM rerank.user_factors) t
UNION ALL
SELECT count(*)::text FROM pg_trigger WHERE tgfoid = 'rerank.track_behavior()'::regprocedure;
SQL
}
before=$(state "$src")
after=$(state "$dst")
rr_same_or_fail "restore changed the tracked state" "$before" "$after"

# the restored triggers work, and agree with the source
for db in "$src" "$dst"; do
	rr_psql -d "$db" >/dev/null <<'SQL'
INSERT INTO shop.events (user_id, item_id, event_type, occurred_at) VALUES (3, 9, 'cart', '2030-01-01');
INSERT INTO shop.orders (customer_id, product_id, ordered_at) VALUES (3, 9, '2030-01-01');
SQL
done
if [ "$(state "$src")" != "$(state "$dst")" ]; then
	echo "the restored triggers do not update the features as the source's do"
	exit 1
fi
check=$(rr_psql -d "$dst" -At -c "SELECT bool_and(u.factors = rerank.fold_in_history(f.recent_items, f.recent_weights)) FROM rerank.user_features f JOIN rerank.user_factors u USING (user_id)")
[ "$check" = t ] || { echo "restored vectors do not match their histories"; exit 1; }
echo "realtime restore: features, vectors and triggers survive ($(echo "$before" | tail -1) triggers)"
