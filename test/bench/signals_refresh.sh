#!/usr/bin/env bash
# The first rerank() of every connection right after a refresh of the item
# signals commits, with rerank preloaded: a git revision's build (by
# default 51c427e, the last main before the refresh built the next version
# ahead: there the first call that needs it builds it, the others wait for
# it) against this work tree (the refresh builds it before
# its commit), on the same data directory in the same run.
#
#   bash test/bench/signals_refresh.sh [items] [connections] [rounds] [base revision]
#
# Defaults: 300,000 items, 20 connections, 3 rounds.  Protocol in
# docs/benchmarks.md ("The first rerank() after a refresh of the item
# signals").  Data: rerank.item_stats, a brand and a co-visitation list of
# 20 for every item, 10,000 users with 20 recent items, no factor model, and
# an event table of one event per item that refresh_item_stats() reads.
#
# Per round: the sessions call rerank() once (mapping the current version)
# and queue on an advisory lock the driver holds; the driver runs the
# refresh (autocommit), then releases the lock; each session calls rerank()
# once more (a new transaction), timed by psql's \timing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/common.sh"
items=${1:-300000}
conns=${2:-20}
rounds=${3:-3}
base=${4:-51c427e}
users=10000
listlen=20

rr_ensure_packages
rr_build_install
git -C "$RR_TOP" rev-parse --verify -q "$base^{commit}" >/dev/null || rr_die "no revision $base"

rr_ab_cluster "$base" rerank-bench-refresh "$conns" "shared_preload_libraries = 'rerank'"
q() { "$this_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d postgres "$@"; }

rr_ab_start "$this_bin"
rr_log "loading $items items with statistics, brands and co-visitation lists of $listlen; $users users"
list=""
for ((j = 1; j <= listlen; j++)); do
	list="$list${list:+, }(i::bigint * $((2 * j + 1)) + $((j * 7919))) % $items + 1"
done
q <<SQL
CREATE EXTENSION rerank;
INSERT INTO rerank.items (item_id, brand) SELECT i, 'b' || (hashint4(i) & 1023) FROM generate_series(1, $items) i;
INSERT INTO rerank.item_covisits (item_id, neighbor_ids, weights, sessions)
SELECT i, ARRAY[$list], array_fill(0.25::real, ARRAY[$listlen]), 10
  FROM generate_series(1, $items) i;
INSERT INTO rerank.user_features (user_id, recent_items, recent_weights)
SELECT u,
       (SELECT array_agg(1 + (hashint4(u * 1000 + j) & 2147483647) % $items ORDER BY j)
          FROM generate_series(1, 20) j),
       (SELECT array_agg((1 + j % 4)::real ORDER BY j) FROM generate_series(1, 20) j)
  FROM generate_series(1, $users) u;
CREATE TABLE bench_events (item_id bigint, occurred_at timestamptz);
INSERT INTO bench_events
SELECT i, now() - (hashint4(i) & 1048575) * interval '1 second' FROM generate_series(1, $items) i;
SELECT setseed(0.3);
CREATE TABLE bench_lists AS
SELECT l, (SELECT array_agg(i) FROM (SELECT DISTINCT 1 + floor(random() * $items)::bigint AS i
                                       FROM generate_series(1, 600) WHERE l > 0 LIMIT 500) c) AS ids
  FROM generate_series(1, 16) l;
SELECT rerank.refresh_item_stats('bench_events', 'item_id', 'occurred_at');
VACUUM ANALYZE;
CHECKPOINT;
SQL
rr_ab_stop

weights="-c rerank.popularity_weight=0.5 -c rerank.brand_affinity_weight=0.2"
call() { echo "SELECT count(*) FROM rerank.rerank($1, (SELECT ids FROM bench_lists WHERE l = $2), k => 20);"; }
# One round: prints "slowest_ms median_ms refresh_ms warnings".
round() {
	local i t refresh_ms
	rm -f "$work"/conn.* "$work/driver.fifo"
	# the driver: holds the lock until the refresh committed
	mkfifo "$work/driver.fifo"
	"$this_bin/psql" -X -At -h "$work" -p "$port" -U postgres -d postgres <"$work/driver.fifo" \
		>"$work/driver.out" 2>&1 &
	exec 3>"$work/driver.fifo"
	echo "SELECT pg_advisory_lock(4242);" >&3
	for ((t = 0; t < 600; t++)); do
		[ "$(q -At -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND granted")" -ge 1 ] && break
		sleep 0.1
	done
	for ((i = 0; i < conns; i++)); do
		{
			call $((i * 37 + 1)) $((i % 16 + 1))
			echo "SELECT pg_advisory_lock_shared(4242);"
			echo '\timing on'
			call $((i * 37 + 2)) $((i % 16 + 1))
		} | PGOPTIONS="$weights" "$this_bin/psql" -X -At -h "$work" -p "$port" -U postgres -d postgres \
			>"$work/conn.$i" 2>&1 &
	done
	# every session waits on the lock, its first call done
	for ((t = 0; t < 3000; t++)); do
		[ "$(q -At -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted")" -ge "$conns" ] && break
		sleep 0.2
	done
	echo '\timing on' >&3
	echo "SELECT rerank.refresh_item_stats('bench_events', 'item_id', 'occurred_at');" >&3
	echo '\timing off' >&3
	echo "SELECT pg_advisory_unlock(4242);" >&3
	exec 3>&-
	wait
	refresh_ms=$(grep -o 'Time: [0-9.]*' "$work/driver.out" | awk '{ print $2 }' | head -1)
	local rows warnings
	rows=$(grep -hxc '20' "$work"/conn.* | awk '{ n += $1 } END { print n + 0 }')
	[ "$rows" -eq $((2 * conns)) ] || { cat "$work"/conn.* "$work/driver.out" >&2; rr_die "a call did not return 20 rows"; }
	warnings=$(cat "$work"/conn.* | grep -c WARNING || true)
	grep -ho 'Time: [0-9.]*' "$work"/conn.* | awk '{ print $2 }' | sort -n |
		awk -v r="$refresh_ms" -v w="$warnings" '{ v[NR] = $1 } END {
			printf "%.1f %.1f %.1f %d\n", v[NR], (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), r, w }'
}

measure() {
	local name=$1 bin=$2 r
	rr_ab_start "$bin"
	for ((r = 1; r <= rounds; r++)); do
		round >"$work/result"
		read -r slow med refresh warn <"$work/result"
		echo "$name round $r: slowest first call after the commit $slow ms, median $med ms; the refresh took $refresh ms; WARNINGs: $warn"
		[ "$warn" = 0 ] || rr_die "the signals were not used (a WARNING): not a measurement"
		echo "$slow" >>"$work/$name.slow"
		echo "$refresh" >>"$work/$name.refresh"
	done
	q -c "SELECT kind, state, pg_size_pretty(bytes) AS bytes, readers, round(build_seconds::numeric, 2) AS build_s
	        FROM rerank.model_memory WHERE kind = 'item signals' ORDER BY version"
	rr_ab_stop
}
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

echo
rr_log "1. $base, preloaded: the first call after the commit builds the new version"
measure base "$base_bin"
echo
rr_log "2. this tree, preloaded: the refresh builds it before its commit"
measure this "$this_bin"

bs=$(median "$work/base.slow")
ts=$(median "$work/this.slow")
br=$(median "$work/base.refresh")
tr=$(median "$work/this.refresh")
echo
echo "summary ($items items, lists of $listlen, $conns connections, $rounds rounds; medians over rounds; this run)"
printf '%-62s %s\n' "slowest first rerank() after the commit, $base / this tree" "$bs ms / $ts ms ($(awk -v a="$bs" -v b="$ts" 'BEGIN { printf "%.1f", a / b }')x)"
printf '%-62s %s\n' "refresh_item_stats(), $base / this tree" "$br ms / $tr ms"
