#!/usr/bin/env bash
# Server CPU per rerank() call under a learned ranker, two builds of rerank
# compared in the same run: by default the commit before the forest
# evaluator's workspace was kept per backend (a palloc of 100-220 kB per
# call, as on the branch since the change was reverted: not measured
# better) against the commit that kept it (one buffer per backend).
# Protocol and figures:
# docs/benchmarks.md, "The forest evaluator's workspace".
#
#   bash test/bench/ranker_workspace.sh [rounds] [rev_a] [rev_b]
#
# Each revision is built in a temporary work tree (git worktree, removed at
# the end) with the extension's own flags; B's is installed, and A's and
# B's rerank.so are swapped in the library folder (an atomic rename, with
# no backend running) before each measurement: without the preload each new
# connection loads the file.  Data: 20,000 items x 32 dimensions, 2,000 users
# with features, item signals, rankers r100 and r300 (100 and 300 trees of
# depth 6, train_ranker() on an event log of the users' recent items), 8
# lists of 500 random candidates.  Each round, for each build (order
# swapped every round) and each ranker: a new connection warms up (one call
# per list), then runs every list 100 times in one statement
# (rerank(user, list, k => 20), users varying); its CPU time from
# /proc/self/schedstat before and after, per call (and, as a diagnostic,
# its minor page faults from /proc/self/stat).  Printed: every
# figure, the medians over the rounds per build and ranker, and B / A.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
rounds=${1:-6}
rev_a=${2:-6f4de56}
rev_b=${3:-840e21d}
items=20000
dims=32
users=2000

rr_ensure_packages
pgc=$(rr_pg_config)
libdir=$("$pgc" --pkglibdir)
work=$(mktemp -d /tmp/rerank-bench-workspace.XXXXXX)
cleanup() {
	rr_on_exit
	for t in a b; do
		[ -d "$work/tree_$t" ] && git -C "$RR_TOP" worktree remove --force "$work/tree_$t" >/dev/null 2>&1
	done
	# B's library stays installed (with B's scripts): run make install again
	# to go back to the work tree's build
	[ -f "$work/rerank_b.so" ] && cp "$work/rerank_b.so" "$libdir/rerank.so.tmp" &&
		mv "$libdir/rerank.so.tmp" "$libdir/rerank.so" &&
		rr_log "B's build stays installed in $libdir: make install to put back this tree's"
	rm -rf "$work"
}
trap cleanup EXIT
for t in a b; do
	rev=$([ "$t" = a ] && echo "$rev_a" || echo "$rev_b")
	rr_log "building $t: $(git -C "$RR_TOP" rev-parse --short "$rev")"
	git -C "$RR_TOP" worktree add --detach "$work/tree_$t" "$rev" >/dev/null 2>&1
	make -C "$work/tree_$t" -s -j2 PG_CONFIG="$pgc" EXTRA_CFLAGS="-Werror" >/dev/null
	cp "$work/tree_$t/rerank.so" "$work/rerank_$t.so"
done
make -C "$work/tree_b" -s PG_CONFIG="$pgc" install >/dev/null
use() {
	cp "$work/rerank_$1.so" "$libdir/rerank.so.tmp"
	mv "$libdir/rerank.so.tmp" "$libdir/rerank.so"
}

rr_cluster_start rerank-bench-workspace "max_parallel_workers_per_gather = 0" "jit = off"
trap cleanup EXIT	# rr_cluster_start set its own
rr_log "loading $items items x $dims dims, $users users, training two rankers"
rr_psql -q -v dims="$dims" -v items="$items" -v users="$users" -f "$RR_TOP/test/bench/ranker_setup.sql"
rr_psql -q <<SQL
SELECT setseed(0.7);
CREATE TABLE bench_lists AS
SELECT l, (SELECT array_agg(i ORDER BY r)
             FROM (SELECT i, random() AS r FROM generate_series(1, $items) i
                    WHERE l > 0 ORDER BY random() LIMIT 500) c)::bigint[] AS ids
  FROM generate_series(1, 8) l;
VACUUM ANALYZE;
SQL

results="$work/results"
call="rerank.rerank((g * 97 + b.l) % $users + 1, b.ids, k => 20)"
for ((round = 1; round <= rounds; round++)); do
	if ((round % 2)); then builds=(a b); else builds=(b a); fi
	for build in "${builds[@]}"; do
		use "$build"
		for r in r100 r300; do
			rr_psql -At <<SQL | awk -v p="$round $build $r" '{ print p, $1, $2 }' >>"$results"
SET rerank.ranker = '$r';
SELECT count(*) FROM bench_lists b, LATERAL rerank.rerank(1, b.ids, k => 20) \g /dev/null
SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint AS t0,
       split_part(pg_read_file('/proc/self/stat'), ' ', 10)::bigint AS f0 \gset
SELECT count(*) FROM bench_lists b, generate_series(1, 100) g, LATERAL $call \g /dev/null
SELECT round((split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint - :t0) / 800.0 / 1000, 1)
       || ' ' || round((split_part(pg_read_file('/proc/self/stat'), ' ', 10)::bigint - :f0) / 800.0, 2);
SQL
		done
	done
	rr_log "round $round of $rounds done"
done
echo "A = $(git -C "$RR_TOP" rev-parse --short "$rev_a"), B = $(git -C "$RR_TOP" rev-parse --short "$rev_b")"
echo "server CPU us per call, and minor page faults per call (round build ranker us faults):"
cat "$results"
awk '
function median(list,    a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ v[$2 " " $3] = v[$2 " " $3] " " $4; f[$2 " " $3] = f[$2 " " $3] " " $5 }
END {
	for (ri = 1; ri <= 2; ri++) {
		r = ri == 1 ? "r100" : "r300"
		a = median(v["a " r]); b = median(v["b " r])
		printf "%s: median A %.1f us, B %.1f us, B / A %.3f; minor faults per call, median A %.2f, B %.2f\n", r, a, b, b / a, median(f["a " r]), median(f["b " r])
	}
}' "$results"
