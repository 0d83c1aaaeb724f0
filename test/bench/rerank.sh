#!/usr/bin/env bash
# Benchmark of rerank.rerank(): one pgbench run, one client, on
# 100,000 items × 64 dims, 10,000 users with vectors and features, 500
# random candidates per call, top 20 asked.  The variants are interleaved
# in the same run (pgbench picks a script at random per transaction):
#
#   select1      SELECT 1
#   plain_sql    join + ORDER BY rerank.dot(...) + bias, LIMIT 20 (same
#                model score, no blending)
#   array_param  SELECT cardinality($1::bigint[]): receiving the 500 ids
#   pk_fetch     the 500 rows fetched by primary key through the executor
#                (aggregated, so the client transfer is not measured)
#   rerank       rerank.rerank(user, ids, k => 20)
#   rerank_mmr   rerank.rerank(user, ids, k => 20, diversity => 0.3)
#   rerank_cap   rerank.rerank(user, ids, k => 20, max_per_category => 3)
#   rerank_knn   rerank.rerank(user, ids, k => 20, model => 'bench_knn'):
#                an item-kNN model trained on the users' recent items
#   rerank_uknn  rerank.rerank(user, ids, k => 20, model => 'bench_uknn'):
#                a user-kNN model (K = 50) trained on the users' recent
#                items with their weights, so a known user's history is the
#                trained one: the stored neighbor list serves
#   rerank_uknn_new  the same for one of 2,000 users training never saw,
#                with 20 recent items each: neighbors searched per call
#                through the inverted index (the real-time path)
#
# Prepared statements (-M prepared), as a serving application uses; the
# candidate list is a text parameter (pgbench -D variables, 128 / variants lists), so
# every call sends and parses its 500 ids as an application would, and no
# variant pays for fetching its candidates.  array_param is that floor:
# SELECT cardinality($1::bigint[]).  Prints p50 and p90 latency per variant
# from pgbench's per-transaction log, the ratio of the p50 to SELECT 1's
# and to array_param's, then the server CPU per rerank() call measured
# warm in one backend, then the memory of a serving backend.  pgvector is
# not packaged for this Debian, so it is not compared.
#
#   bash test/bench/rerank.sh [seconds] [items] [dims]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
seconds=${1:-30}
items=${2:-100000}
dims=${3:-64}
users=10000

rr_ensure_packages
rr_build_install
rr_cluster_start rerank-bench "max_parallel_workers_per_gather = 0" "jit = off"

rr_log "loading $items items x $dims dims, $users users"
rr_psql -q <<SQL
CREATE EXTENSION rerank;
SELECT setseed(0.42);
SELECT rerank.create_model('bench', $dims) AS model_id \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias)
SELECT :model_id, i,
       (SELECT array_agg((((hashint4(i * 131 + d) % 1000) / 1000.0) * 0.3)::real ORDER BY d)
          FROM generate_series(1, $dims) d),
       ((hashint4(i) % 100) / 1000.0)::real
  FROM generate_series(1, $items) i;
INSERT INTO rerank.user_factors (model_id, user_id, factors)
SELECT :model_id, u,
       (SELECT array_agg((((hashint4(u * 7 + d) % 1000) / 1000.0) * 0.3)::real ORDER BY d)
          FROM generate_series(1, $dims) d)
  FROM generate_series(1, $users) u;
INSERT INTO rerank.items (item_id, category)
SELECT i, 'c' || (hashint4(i * 3) & 63) FROM generate_series(1, $items) i;
INSERT INTO rerank.user_features (user_id, recent_items, recent_weights, purchased_items,
                                  category_weights)
SELECT u,
       (SELECT array_agg(1 + (hashint4(u * 1000 + j) & 2147483647) % $items ORDER BY j)
          FROM generate_series(1, 20) j),
       (SELECT array_agg((1 + j % 4)::real ORDER BY j) FROM generate_series(1, 20) j),
       (SELECT array_agg(1 + (hashint4(u * 2000 + j) & 2147483647) % $items ORDER BY j)
          FROM generate_series(1, 5) j),
       (SELECT jsonb_object_agg('c' || ((u + j * 7) & 63), j) FROM generate_series(1, 8) j)
  FROM generate_series(1, $users) u;
SELECT rerank.activate_model('bench');
CREATE TABLE bench_events AS
SELECT user_id, unnest(recent_items) AS item_id FROM rerank.user_features;
SET client_min_messages = warning;
CALL rerank.train_item_knn('bench_knn', 'bench_events', neighbors => 50);
CREATE TABLE bench_weighted AS
SELECT f.user_id, h.item_id, h.weight
  FROM rerank.user_features f, unnest(f.recent_items, f.recent_weights) h(item_id, weight);
CALL rerank.train_user_knn('bench_uknn', 'bench_weighted', neighbors => 50);
RESET client_min_messages;
-- users training never saw, with a recent history like the others'
INSERT INTO rerank.user_features (user_id, recent_items, recent_weights)
SELECT u,
       (SELECT array_agg(1 + (hashint4(u * 1000 + j) & 2147483647) % $items ORDER BY j)
          FROM generate_series(1, 20) j),
       (SELECT array_agg((1 + j % 4)::real ORDER BY j) FROM generate_series(1, 20) j)
  FROM generate_series($users + 1, $users + 2000) u;
VACUUM ANALYZE;
SQL

work=$(mktemp -d /tmp/rerank-bench.XXXXXX)
chmod 777 "$work"
variants=(select1 array_param plain_sql pk_fetch rerank rerank_mmr rerank_cap rerank_knn rerank_uknn
	rerank_uknn_new)
lists=$((128 / ${#variants[@]}))	# pgbench takes at most 128 scripts
model_id=$(rr_psql -At -c "SELECT rerank.model_id('bench')")
# candidate lists: 500 distinct random ids in random order, one pgbench
# variable each (-D), sent as a text parameter of the prepared statement;
# the lists differ from each other (checked below), so the candidates'
# vectors are not the same few hundred on every call
defs=()
l=0
while IFS= read -r a; do
	[ -n "$a" ] || continue
	l=$((l + 1))
	defs+=(-D "c$l=$a")
done < <(rr_psql -At <<SQL
SELECT setseed(0.7);
SELECT (SELECT array_agg(i ORDER BY r)
          FROM (SELECT i, random() AS r
                  FROM generate_series(1, $items) i
                 WHERE l > 0	-- correlated: a new list per l, not one list $lists times
                 ORDER BY random() LIMIT 500) c)::text
  FROM generate_series(1, $lists) l;
SQL
)

[ "$(printf '%s\n' "${defs[@]}" | grep -v '^-D$' | sed 's/^c[0-9]*=//' | sort -u | wc -l)" -eq "$lists" ] ||
	rr_die "the $lists candidate lists are not all different"

args=()
n=0
for v in "${variants[@]}"; do
	for ((l = 1; l <= lists; l++)); do
		c=":c$l::bigint[]"
		f="$work/$(printf '%03d' "$n")_$v.sql"
		{
			echo '\set u random(1, '"$users"')'
			echo '\set n random('"$((users + 1))"', '"$((users + 2000))"')'
			case $v in
			select1) echo "SELECT 1;" ;;
			array_param) echo "SELECT cardinality($c);" ;;
			plain_sql)
				echo "SELECT f.item_id, rerank.dot(f.factors, u.factors) + f.bias AS score" \
					"FROM rerank.item_factors f, rerank.user_factors u" \
					"WHERE u.model_id = $model_id AND u.user_id = :u AND f.model_id = $model_id" \
					"AND f.item_id = ANY ($c) ORDER BY score DESC LIMIT 20;" ;;
			pk_fetch)
				echo "SELECT count(*), sum(bias), sum(array_length(factors, 1))" \
					"FROM rerank.item_factors WHERE model_id = $model_id AND item_id = ANY ($c);" ;;
			rerank) echo "SELECT item_id, score, rank FROM rerank.rerank(:u, $c, k => 20);" ;;
			rerank_mmr) echo "SELECT item_id, score, rank FROM rerank.rerank(:u, $c, k => 20, diversity => 0.3);" ;;
			rerank_cap) echo "SELECT item_id, score, rank FROM rerank.rerank(:u, $c, k => 20, max_per_category => 3);" ;;
			rerank_knn) echo "SELECT item_id, score, rank FROM rerank.rerank(:u, $c, k => 20, model => 'bench_knn');" ;;
			rerank_uknn) echo "SELECT item_id, score, rank FROM rerank.rerank(:u, $c, k => 20, model => 'bench_uknn');" ;;
			rerank_uknn_new) echo "SELECT item_id, score, rank FROM rerank.rerank(:n, $c, k => 20, model => 'bench_uknn');" ;;
			esac
		} >"$f"
		args+=(-f "$f")
		n=$((n + 1))
	done
done

rr_log "warming up (every script once per backend: model cache, plans)"
pgbench -n -M prepared -c 1 -j 1 -t $((n * 5)) "${defs[@]}" "${args[@]}" >/dev/null

rr_log "pgbench: $seconds s, 1 client, ${#variants[@]} variants x $lists candidate lists, interleaved"
(cd "$work" && pgbench -n -M prepared -c 1 -j 1 -T "$seconds" -l --log-prefix="$work/log" \
	"${defs[@]}" "${args[@]}" >"$work/pgbench.out")
grep -E "^(number of transactions actually processed|latency average|tps)" "$work/pgbench.out" >&2 || true

echo
printf '%-12s %8s %10s %10s %10s %10s\n' variant calls p50_ms p90_ms x_select1 x_array
rr_pgbench_latency "$work" "$lists" "${#variants[@]}" |
	awk -v names="${variants[*]}" '
	BEGIN { split(names, name, " ") }
	{ calls[NR] = $1; p50[NR] = $2; p90[NR] = $3 }
	END {
		for (v = 1; v <= NR; v++)
			printf "%-12s %8d %10.3f %10.3f %10.2f %10.2f\n", name[v], calls[v], p50[v], p90[v], p50[v] / p50[1], p50[v] / p50[2]
	}'

# Server CPU per call, warm: each variant called 100 times per list in one
# statement by one backend, its CPU time read from /proc (schedstat) before
# and after; steadier than latency on a shared machine, and without the
# protocol, the parsing of the ids and the caches other queries evict.
echo
rr_log "server CPU per call (warm, $((100 * lists)) calls per variant, 3 rounds interleaved)"
{
	echo "CREATE TABLE bench_lists (l integer, ids bigint[]);"
	echo "ALTER TABLE bench_lists ALTER ids SET STORAGE PLAIN;"
	l=0
	for d in "${defs[@]}"; do
		[ "$d" = -D ] && continue
		l=$((l + 1))
		echo "INSERT INTO bench_lists VALUES ($l, '${d#c*=}');"
	done
} | rr_psql -q
cpu_variants=(rerank rerank_mmr rerank_cap rerank_knn rerank_uknn rerank_uknn_new)
u="(g * 97 + b.l) % $users + 1"
printf '%-12s %s\n' variant "server CPU us per call, 3 rounds, lowest first"
{
	echo "SELECT count(*) FROM bench_lists b, LATERAL rerank.rerank(1, b.ids, k => 20, max_per_category => 3) \\g /dev/null"
	for round in 1 2 3; do
		for v in "${cpu_variants[@]}"; do
			case $v in
			rerank) call="rerank.rerank($u, b.ids, k => 20)" ;;
			rerank_mmr) call="rerank.rerank($u, b.ids, k => 20, diversity => 0.3)" ;;
			rerank_cap) call="rerank.rerank($u, b.ids, k => 20, max_per_category => 3)" ;;
			rerank_knn) call="rerank.rerank($u, b.ids, k => 20, model => 'bench_knn')" ;;
			rerank_uknn) call="rerank.rerank($u, b.ids, k => 20, model => 'bench_uknn')" ;;
			rerank_uknn_new) call="rerank.rerank(($u) % 2000 + $((users + 1)), b.ids, k => 20, model => 'bench_uknn')" ;;
			esac
			echo "SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint AS t0 \\gset"
			echo "SELECT count(*) FROM bench_lists b, generate_series(1, 100) g, LATERAL $call \\g /dev/null"
			echo "SELECT '$v', (split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint - :t0) / (100.0 * $lists) / 1000;"
		done
	done
} | rr_psql -At -F ' ' | sort -k1,1 -k2,2n |
	awk '{ v[$1] = v[$1] sprintf(" %10.1f", $2) } END { for (k in v) printf "%-12s%s\n", k, v[k] }' | sort

echo
rr_log "memory of a serving backend"
rr_psql -At <<'SQL' > "$work/mem.txt"
SELECT pg_backend_pid();
SELECT count(*) FROM rerank.rerank(1, ARRAY(SELECT generate_series(1, 500)::bigint), k => 20);
SELECT 'model cache: ' || model || ', ' || items || ' item vectors, '
       || pg_size_pretty(bytes) || ' (budget rerank.model_cache_mb = '
       || current_setting('rerank.model_cache_mb') || ')'
  FROM rerank.model_cache_info() WHERE serving;
SELECT count(*) FROM rerank.rerank(1, ARRAY(SELECT generate_series(1, 500)::bigint), k => 20,
                                   model => 'bench_uknn');
SELECT 'model cache: ' || model || ', the user-kNN index (' || (m.metrics->'training'->>'users')
       || ' users, ' || (m.metrics->'training'->>'interactions') || ' interactions, '
       || (m.metrics->'training'->>'neighbor_pairs') || ' neighbor pairs), ' || pg_size_pretty(bytes)
  FROM rerank.model_cache_info() c JOIN rerank.models m ON m.name = c.model
 WHERE c.model = 'bench_uknn';
SELECT 'backend memory contexts: ' || pg_size_pretty(sum(total_bytes))
  FROM pg_backend_memory_contexts;
SELECT 'private memory of the backend (RssAnon): '
       || (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
                        'RssAnon:\s+(\d+ kB)'))[1];
SQL
tail -n +3 "$work/mem.txt" | grep -v '^[0-9]*$'
rm -rf "$work"
