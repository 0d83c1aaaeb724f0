#!/usr/bin/env bash
# Benchmark of train_ranker() (issue 11, item 3): the time and the peak
# memory of a training on synthetic shops of 1 and 10 million events
# (test/demo/gen_events.c: 100 events per user, 50 per item, 40 categories,
# 30 days), each over an ALS model (32 factors, 10 iterations) trained on
# the same events and active.  The ranker takes the shipped defaults: every
# user, at most 100,000 groups of 1 + 20 candidates, 100 trees of depth 6,
# 10% of the groups held out; the 10-million-event run also samples a
# quarter of the users (users => 0.25), the documented way to bound a large
# log.  Prints per run: events read, groups, the seconds of each phase (the
# NOTICEs), the wall time, the backend's peak resident memory (VmHWM: it
# includes the shared buffers the backend touched, at most
# shared_buffers = 256MB, shown as RssShmem) and the held-out NDCG@10 of
# the ranker and of the blend.
#
#   bash test/bench/ranker.sh [sizes, comma-separated = 1000000,10000000]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/common.sh"
sizes=${1:-1000000,10000000}

rr_ensure_packages
rr_build_install
rr_cluster_start rerank-ranker-bench "max_parallel_workers_per_gather = 0" "jit = off" \
	"work_mem = 64MB" "maintenance_work_mem = 512MB"
work=$(mktemp -d /tmp/rerank-ranker-bench.XXXXXX)
rr_scratch_path "$work"
chmod 755 "$work"
gcc -O2 -o "$work/gen_events" "$here/demo/gen_events.c" -lm

# a training in a fresh session: its NOTICEs and the backend's memory after
train() {
	local label=$1 call=$2 t0
	t0=$(date +%s.%N)
	rr_psql -At >"$work/$label.out" 2>&1 <<SQL
$call
SELECT 'memory|' || (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]
       || '|' || (regexp_match(pg_read_file('/proc/self/status'), 'RssShmem:\s+(\d+)'))[1];
SQL
	local wall
	wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	grep -E 'NOTICE:  train_ranker' "$work/$label.out" | sed 's/^NOTICE:  /   /' >&2
	local mem hwm shm
	mem=$(grep '^memory|' "$work/$label.out")
	hwm=$(echo "$mem" | cut -d'|' -f2)
	shm=$(echo "$mem" | cut -d'|' -f3)
	rr_psql -At -F ' ' -c "SELECT (metrics->'training'->>'events')::bigint, (metrics->'training'->>'groups')::int,
	                              (metrics->'training'->>'rows')::bigint,
	                              round((metrics->'training'->>'read_seconds')::numeric, 1),
	                              round((metrics->'training'->>'replay_seconds')::numeric, 1),
	                              round((metrics->'training'->>'train_seconds')::numeric, 1),
	                              round((metrics->'evaluation'->'ranker'->>'ndcg_at_10')::numeric, 4),
	                              round((metrics->'evaluation'->'blend'->>'ndcg_at_10')::numeric, 4)
	                         FROM rerank.models WHERE name = '$label'" |
		awk -v l="$label" -v w="$wall" -v h="$hwm" -v s="$shm" \
			'{ printf "%-14s %11d %8d %10d %7.1f %8.1f %7.1f %8.1f %9.0f %8.0f %8s %8s\n", l, $1, $2, $3, $4, $5, $6, w, h / 1024, s / 1024, $7, $8 }' \
			>>"$work/table"
}

IFS=, read -ra list <<<"$sizes"
for n in "${list[@]}"; do
	users=$((n / 100))
	items=$((n / 50))
	rr_log "synthetic shop: $n events, $users users, $items items"
	"$work/gen_events" --users "$users" --items "$items" --categories 40 --events "$n" --days 30 \
		--seed 42 --items-out "$work/items.csv" --events-out "$work/events.csv" >/dev/null
	rr_psql -q <<SQL
DROP EXTENSION IF EXISTS rerank CASCADE;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE EXTENSION rerank;
CREATE SCHEMA bench;
CREATE TABLE bench.raw (user_id bigint, item_id bigint, category text, event_type text,
                        ts bigint, dwell_ms integer);
\\copy bench.raw FROM '$work/events.csv' (FORMAT csv)
CREATE TABLE bench.events AS
SELECT user_id, item_id, event_type, to_timestamp(ts) AS occurred_at FROM bench.raw;
CREATE TEMP TABLE items (item_id bigint, category text);
\\copy items FROM '$work/items.csv' (FORMAT csv)
INSERT INTO rerank.items (item_id, category) SELECT item_id, category FROM items;
DROP TABLE bench.raw;
CREATE VIEW bench.training AS
SELECT e.user_id, e.item_id, w.weight
  FROM bench.events e JOIN rerank.event_weights w USING (event_type) WHERE w.weight > 0;
VACUUM ANALYZE bench.events;
SET client_min_messages = warning;
CALL rerank.train_als('als', 'bench.training', factors => 32, iterations => 10,
                      weight_column => 'weight', activate => true);
SQL
	rm -f "$work/events.csv"
	train "ranker_$((n / 1000000))m" \
		"CALL rerank.train_ranker('ranker_$((n / 1000000))m', 'bench.events', time_column => 'occurred_at');"
	if [ "$n" -ge 10000000 ]; then
		train "ranker_$((n / 1000000))m_u25" \
			"CALL rerank.train_ranker('ranker_$((n / 1000000))m_u25', 'bench.events', time_column => 'occurred_at', users => 0.25);"
	fi
done

echo
printf '%-14s %11s %8s %10s %7s %8s %7s %8s %9s %8s %8s %8s\n' run events groups rows read_s replay_s train_s wall_s peak_MB shmem_MB ndcg blend
cat "$work/table"
