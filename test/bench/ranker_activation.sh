#!/usr/bin/env bash
# The first rerank() of new connections after a learned ranker's
# activation, with rerank preloaded: the forest built by the first call that
# serves it (what activate_model did for a ranker before: no
# prepare_activation) against the forest built by the activation before its
# commit (activate_model now), in the same run, rounds alternating the two.
# Protocol and figures: docs/benchmarks.md, "The first call after a
# ranker's activation".
#
#   bash test/bench/ranker_activation.sh [rounds] [items]
#
# Data (defaults): 20,000 items x 32 dimensions, 2,000 users with vectors
# and features, item signals, rankers r100 and r300 (100 and 300 trees of
# depth 6, train_ranker() on an event log of the users' recent items).
# Each round, for each ranker and each way (the order of the ways swapped
# every round): the ranker is deactivated, its booster rewritten in place
# (a new factors_version, so no forest of it is held), activated that way
# (its statement time measured), then 3 new connections one after the other
# each run the same rerank(user, 500 candidates, k => 20) twice; psql's
# statement times of the first and second call.  Only the first connection
# after an activation can pay the build (one copy per server).  Printed:
# medians over the rounds, per ranker, way and connection.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
rounds=${1:-5}
items=${2:-20000}
dims=32
users=2000

rr_ensure_packages
rr_build_install
rr_cluster_start rerank-bench-activation "shared_preload_libraries = 'rerank'" \
	"max_parallel_workers_per_gather = 0" "jit = off"

rr_log "loading $items items x $dims dims, $users users, training two rankers"
rr_psql -q -v dims="$dims" -v items="$items" -v users="$users" -f "$RR_TOP/test/bench/ranker_setup.sql"
rr_psql -q <<SQL
VACUUM ANALYZE;
SQL

cands=$(rr_psql -At -c "SELECT setseed(0.7); SELECT array_agg(i ORDER BY random()) FROM (SELECT i FROM generate_series(1, $items) i ORDER BY random() LIMIT 500) c" | tail -1)
call="SELECT count(*) FROM rerank.rerank(17, '$cands'::bigint[], k => 20)"
# the old activation of a ranker: the registry lock, then the switch, no
# prepare_activation
old_activate() {
	rr_psql -At -c '\timing on' \
		-c "BEGIN" -c "LOCK TABLE rerank.models IN SHARE ROW EXCLUSIVE MODE" \
		-c "SELECT rerank.switch_active_ranker(rerank.model_id('$1'), 'activate')" -c "COMMIT" 2>&1 |
		awk '/^Time:/ { s += $2 } END { printf "%.3f\n", s }'
}
new_activate() {
	rr_psql -At -c '\timing on' -c "SELECT rerank.activate_model('$1')" 2>&1 |
		awk '/^Time:/ { s += $2 } END { printf "%.3f\n", s }'
}
# a ranker version no one built: deactivated, its booster rewritten in place
fresh_version() {
	rr_psql -At -c "SELECT rerank.deactivate_ranker()" \
		-c "UPDATE rerank.rankers SET booster = booster WHERE model_id = rerank.model_id('$1')" >/dev/null
	[ "$(rr_psql -At -c "SELECT count(*) FROM rerank.model_memory m JOIN rerank.models r ON r.model_id = m.object_id AND r.factors_version = m.version WHERE r.name = '$1' AND m.state <> 'retiring'")" = 0 ] ||
		rr_die "a forest of the new version of $1 is held before its activation"
}
built() {
	rr_psql -At -c "SELECT count(*) FROM rerank.model_memory m JOIN rerank.models r ON r.model_id = m.object_id AND r.factors_version = m.version WHERE r.name = '$1' AND m.state = 'ready'"
}

results=$(mktemp /tmp/rerank-bench-activation.XXXXXX)
trap 'rm -f "$results"; rr_on_exit' EXIT
# warm-up: one activation each way, plans and the factor model's copy built
for r in r100 r300; do
	fresh_version "$r"; old_activate "$r" >/dev/null; psql -X -At -c "$call" >/dev/null
	fresh_version "$r"; new_activate "$r" >/dev/null; psql -X -At -c "$call" >/dev/null
done
for ((round = 1; round <= rounds; round++)); do
	if ((round % 2)); then ways=(first_use activation); else ways=(activation first_use); fi
	for r in r100 r300; do
		for way in "${ways[@]}"; do
			fresh_version "$r"
			if [ "$way" = first_use ]; then t=$(old_activate "$r"); else t=$(new_activate "$r"); fi
			held=$(built "$r")
			echo "$round $r $way activate $t held_after_activation=$held" >>"$results"
			for c in 1 2 3; do
				psql -X -At -c '\timing on' -c "$call" -c "$call" 2>&1 |
					awk -v p="$round $r $way conn$c" '/^Time:/ { t[++n] = $2 } END { printf "%s %.3f %.3f\n", p, t[1], t[2] }' >>"$results"
			done
		done
	done
	rr_log "round $round of $rounds done"
done
rr_psql -At -c "SELECT name, round(avg(bytes) / 1024) AS kb FROM rerank.model_memory WHERE name IN ('r100', 'r300') AND state = 'ready' GROUP BY name ORDER BY name" |
	awk -F'|' '{ printf "forest block of %s: %s kB\n", $1, $2 }'
echo "raw (round ranker way what first second | activation ms):"
cat "$results"
echo
echo "medians over $rounds rounds (ms):"
awk '
function median(list,    a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
$4 == "activate" { act[$2 " " $3] = act[$2 " " $3] " " $5; if ($6 != "held_after_activation=1") unheld[$2 " " $3]++; next }
{ key = $2 " " $3; first[key " " $4] = first[key " " $4] " " $5; second[key " " $4] = second[key " " $4] " " $6 }
END {
	printf "%-6s %-11s %11s %12s %12s %12s %12s %8s\n", "ranker", "forest", "activation", "conn1_first", "conn1_second", "conn2_first", "conn3_first", "not_held"
	for (ri = 1; ri <= 2; ri++) {
		r = ri == 1 ? "r100" : "r300"
		for (wi = 1; wi <= 2; wi++) {
			w = wi == 1 ? "first_use" : "activation"
			k = r " " w
			m[k] = median(first[k " conn1"])
			printf "%-6s %-11s %11.3f %12.3f %12.3f %12.3f %12.3f %8d\n", r, w, median(act[k]), m[k],
				median(second[k " conn1"]), median(first[k " conn2"]), median(first[k " conn3"]), unheld[k]
		}
		printf "%s: first call of the first new connection, built at first use / at activation: %.2f\n",
			r, m[r " first_use"] / m[r " activation"]
	}
}' "$results"
