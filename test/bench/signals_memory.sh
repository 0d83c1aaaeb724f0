#!/usr/bin/env bash
# The item signals' memory with many connections: a git revision's build
# (main by default: every backend builds and holds its own copy of the
# item-signals block) against this work tree with rerank preloaded (one
# copy per server in shared memory), on the same data directory in the
# same run.
#
#   bash test/bench/signals_memory.sh [items] [connections] [list length] [base revision]
#
# Defaults: 1,000,000 items, 20 connections, co-visitation lists of 20.
# Data: rerank.item_stats for every item, a co-visitation list of the given
# length for every item, a brand for every item (1,000 brands), 10,000
# users with 20 recent items; no factor model (the model's memory is issue
# 12's and measured by shared_memory.sh), no categories.
#
# Each phase opens the connections at once, each calls rerank() once on 500
# candidates with the signal features weighted (the shipped covisit and
# item_newness weights, popularity and brand_affinity set) and then idles,
# and reads, while all of them idle, every client backend's private memory
# (RssAnon) and shared memory touched (RssShmem) from /proc, and what
# rerank.model_memory holds.
#   1. base, no preload, rerank.signals_cache_mb raised so the block fits;
#   2. this tree, shared_preload_libraries = 'rerank' (the per-backend
#      budgets left at their defaults).
# Both builds start the same data directory (the schema of this tree; the
# base library reads the same tables).  The per-backend phase checks first
# that the machine has its memory (connections x one copy, and 2 GB).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/common.sh"
items=${1:-1000000}
conns=${2:-20}
listlen=${3:-20}
base=${4:-main}
users=10000

# one block, from core/item_signals.c: slots (16 B, at least 2 per item),
# a 24 B record and an 8 B offset per item, 12 B per list entry
block_mb=$(((items * (64 + 32) + items * listlen * 12) / 1048576 + 1))
mem_available_mb() { awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo; }
need_memory() {
	local have
	have=$(mem_available_mb)
	[ "$have" -ge $(($1 + 2048)) ] ||
		rr_die "$2 needs about $1 MB and 2 GB of headroom; $have MB are available"
}
# main's per-backend cache checks an upper bound against its budget before
# it loads: every row of the three tables counted as an item of its own
base_budget_mb=$(((3 * items * 96 + items * listlen * 12) / 1048576 + 64))
need_memory $((block_mb * 4)) "loading the data"

rr_ensure_packages
rr_build_install
git -C "$RR_TOP" rev-parse --verify -q "$base^{commit}" >/dev/null || rr_die "no revision $base"

rr_ab_cluster "$base" rerank-bench-signals "$conns"
q() { "$this_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d postgres "$@"; }

rr_ab_start "$this_bin"
rr_log "loading $items items with statistics, brands and co-visitation lists of $listlen; $users users"
# list entries by arithmetic, one expression per place: no subquery per row
list=""
for ((j = 1; j <= listlen; j++)); do
	list="$list${list:+, }(i::bigint * $((2 * j + 1)) + $((j * 7919))) % $items + 1"
done
q <<SQL
CREATE EXTENSION rerank;
INSERT INTO rerank.items (item_id, brand) SELECT i, 'b' || (hashint4(i) & 1023) FROM generate_series(1, $items) i;
INSERT INTO rerank.item_stats (item_id, first_seen_at, events, popularity_hour, popularity_day,
                               popularity_week, computed_at)
SELECT i, now() - (i % 90) * interval '1 day', i % 500, (i % 7)::real, (i % 50)::real,
       (i % 300)::real, now()
  FROM generate_series(1, $items) i;
INSERT INTO rerank.item_covisits (item_id, neighbor_ids, weights, sessions)
SELECT i, ARRAY[$list], array_fill(0.25::real, ARRAY[$listlen]), 10
  FROM generate_series(1, $items) i;
INSERT INTO rerank.user_features (user_id, recent_items, recent_weights)
SELECT u,
       (SELECT array_agg(1 + (hashint4(u * 1000 + j) & 2147483647) % $items ORDER BY j)
          FROM generate_series(1, 20) j),
       (SELECT array_agg((1 + j % 4)::real ORDER BY j) FROM generate_series(1, 20) j)
  FROM generate_series(1, $users) u;
SELECT setseed(0.3);
CREATE TABLE bench_lists AS
SELECT l, (SELECT array_agg(i) FROM (SELECT DISTINCT 1 + floor(random() * $items)::bigint AS i
                                       FROM generate_series(1, 600) WHERE l > 0 LIMIT 500) c) AS ids
  FROM generate_series(1, 16) l;
VACUUM ANALYZE;
CHECKPOINT;
SQL
rr_ab_stop

# Opens $conns connections that each call rerank() once and idle, reads
# their memory, closes them.  Prints "answered_s anon_mb shmem_mb warnings".
weights="-c rerank.popularity_weight=0.5 -c rerank.brand_affinity_weight=0.2"
connections() {
	local i t0 t1 pids
	rm -f "$work"/conn.*
	t0=$(date +%s.%N)
	for ((i = 0; i < conns; i++)); do
		PGOPTIONS="$weights" "$this_bin/psql" -X -At -h "$work" -p "$port" -U postgres -d postgres \
			-c "SELECT count(*) FROM rerank.rerank($((i * 37 + 1)), (SELECT ids FROM bench_lists WHERE l = $((i % 16 + 1))), k => 20)" \
			-c "SELECT pg_sleep(3600)" >"$work/conn.$i" 2>&1 &
	done
	# every connection answered: its count is out and it sleeps
	for ((t = 0; t < 1800; t++)); do
		[ "$(q -At -c "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3600)' AND state = 'active'")" -ge "$conns" ] && break
		sleep 0.2
	done
	t1=$(date +%s.%N)
	pids=$(q -At -c "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3600)' AND state = 'active'")
	[ "$(echo "$pids" | wc -w)" -ge "$conns" ] || rr_die "not every connection answered"
	q -c "SELECT kind, name, state, pg_size_pretty(bytes) AS bytes, readers, shared,
	             round(build_seconds::numeric, 2) AS build_s
	        FROM rerank.model_memory ORDER BY kind" >"$work/memory.txt"
	local mem
	mem=$(for pid in $pids; do
		awk '/^(RssAnon|RssShmem):/ { printf "%d ", $2 } END { print "" }' "/proc/$pid/status"
	done | awk '{ a += $1; s += $2 } END { printf "%.1f %.1f", a / 1024, s / 1024 }')
	q -At -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	           WHERE query = 'SELECT pg_sleep(3600)'" >/dev/null
	wait 2>/dev/null || true
	local rows warnings
	rows=$(grep -hxc '20' "$work"/conn.* | awk '{ n += $1 } END { print n + 0 }')
	[ "$rows" -eq "$conns" ] || { cat "$work"/conn.* >&2; rr_die "a call did not return 20 rows"; }
	warnings=$(cat "$work"/conn.* | grep -c WARNING || true)
	awk -v a="$t0" -v b="$t1" -v m="$mem" -v w="$warnings" 'BEGIN { printf "%.1f %s %d\n", b - a, m, w }'
}

echo
rr_log "1. $base, no preload: every backend builds its own copy (rerank.signals_cache_mb = $base_budget_mb)"
need_memory $((conns * (block_mb + 32))) "the per-backend phase"
rr_ab_start "$base_bin" "rerank.signals_cache_mb = $base_budget_mb"
connections >"$work/result"
read -r pb_all pb_anon pb_shmem pb_warn <"$work/result"
rr_ab_stop
echo "$conns connections all answered within $pb_all s; private memory (RssAnon) of the $conns backends $pb_anon MB, shared touched $pb_shmem MB; WARNINGs: $pb_warn"
[ "$pb_warn" = 0 ] || rr_die "the signals were not used (a WARNING): not a measurement"

echo
rr_log "2. this tree, shared_preload_libraries = 'rerank': one copy per server"
rr_ab_start "$this_bin" "shared_preload_libraries = 'rerank'"
connections >"$work/result"
read -r sh_all sh_anon sh_shmem sh_warn <"$work/result"
cat "$work/memory.txt"
copy=$(q -At -c "SELECT coalesce(round(sum(bytes) / 1048576.0, 1), 0) FROM rerank.model_memory
                  WHERE kind = 'item signals' AND state = 'ready'")
rr_ab_stop
echo "$conns connections all answered within $sh_all s; private memory (RssAnon) of the $conns backends $sh_anon MB, shared touched $sh_shmem MB; WARNINGs: $sh_warn"
[ "$sh_warn" = 0 ] || rr_die "the signals were not used (a WARNING): not a measurement"
[ "$(awk -v c="$copy" 'BEGIN { print (c > 0) }')" = 1 ] || rr_die "no item signals in shared memory"

echo
echo "summary ($items items, co-visitation lists of $listlen, $conns connections, one rerank() each; this run)"
printf '%-58s %s\n' "one block, estimated from its layout" "$block_mb MB"
printf '%-58s %s\n' "$base (per backend): private memory, all backends" "$pb_anon MB ($(awk -v a="$pb_anon" -v n="$conns" 'BEGIN { printf "%.1f", a / n }') MB each)"
printf '%-58s %s\n' "this tree (preload): private memory, all backends" "$sh_anon MB ($(awk -v a="$sh_anon" -v n="$conns" 'BEGIN { printf "%.1f", a / n }') MB each)"
printf '%-58s %s\n' "this tree (preload): the shared copy" "$copy MB"
printf '%-58s %s\n' "total, $base / this tree" "$pb_anon MB / $(awk -v a="$sh_anon" -v b="$copy" 'BEGIN { printf "%.1f", a + b }') MB"
printf '%-58s %s\n' "all connections answered once, $base / this tree" "$pb_all s / $sh_all s"
