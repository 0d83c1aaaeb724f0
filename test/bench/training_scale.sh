#!/usr/bin/env bash
# train_als at scale: 10,000,000 interactions (100,000 users × 50,000 items,
# 100 rows per user, skewed popularity, as test/bench/training.sh), factors
# 64, 15 iterations, CG.
#
#   bash test/bench/training_scale.sh [rows]
#
# 1. Reading the source: the same rows through a table (read from its heap
#    directly) and through a view of it (read through the executor, the way
#    every source was read before), each timed by train_als' own
#    scan_seconds (the rows read and their ids numbered, before the CSR is
#    built); µs per row and the ratio, in the same run.
# 2. The whole CALL on the table: read, train, write seconds and the peak
#    memory of the backend (VmHWM, which counts the shared buffers it
#    touched, up to shared_buffers = 256 MB here), phase by phase, with its
#    private part (RssAnon), sampled every 50 ms and matched to the phases'
#    end times.
# 3. Whether a second process would pay off on this machine: two trainings
#    of a tenth of the rows at once against one alone (what parallel workers
#    for the half-steps could gain at best; both cores are shared with
#    everything else that runs).
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
rows=${1:-10000000}
users=$((rows / 100))
items=$((users / 2))

need=$((rows * 100 / 1048576 + 2048))
have=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
[ "$have" -ge "$need" ] || rr_die "needs about $need MB available, $have MB are"
rr_ensure_packages
rr_build_install
rr_cluster_start rerank-bench-train-scale "max_parallel_workers_per_gather = 0" "jit = off" \
	"work_mem = 64MB" "maintenance_work_mem = 512MB" "max_wal_size = 8GB" \
	"synchronous_commit = off"
rr_psql -q -c "CREATE EXTENSION rerank"

rr_log "synthetic: $rows rows ($users users x $items items)"
rr_psql -q <<SQL
SELECT setseed(0.42);
CREATE UNLOGGED TABLE synth AS
SELECT u::bigint AS user_id, (floor($items * random() ^ 2))::bigint + 1 AS item_id
  FROM generate_series(1, $users) u, generate_series(1, 100) j;
CREATE VIEW synth_view AS SELECT user_id, item_id FROM synth;
VACUUM ANALYZE synth;
SELECT setseed(0.43);
CREATE UNLOGGED TABLE synth_small AS SELECT * FROM synth WHERE random() < 0.1;
CREATE UNLOGGED TABLE synth_small2 AS SELECT * FROM synth_small;
VACUUM ANALYZE synth_small;
VACUUM ANALYZE synth_small2;
SQL

# One CALL: prints "scan_s train_s write_s rows_read interactions read_s"
# (scan: reading the rows; read: that and building both CSR orientations).
train() {
	rr_psql -At -F ' ' <<SQL
SET client_min_messages = warning;
CALL rerank.train_als('$1', '$2', factors => 64, regularization => 0.05, alpha => 1,
                      iterations => ${3:-15}, replace => true);
SELECT round((m->>'scan_seconds')::numeric, 2), round((m->>'train_seconds')::numeric, 2),
       round((m->>'write_seconds')::numeric, 2), m->>'rows_read', m->>'interactions',
       round((m->>'read_seconds')::numeric, 2)
  FROM (SELECT metrics->'training' AS m FROM rerank.models WHERE name = '$1') t;
SQL
}

echo
rr_log "1. reading the source: heap scan (table) against the executor (view), 5 rounds each, 1 iteration"
ratios=""
for round in 1 2 3 4 5; do
	read -r t _ _ n _ tr <<<"$(train read_table synth 1)"
	read -r v _ _ _ _ vr <<<"$(train read_view synth_view 1)"
	echo "round $round: scan of the table $t s, of the view $v s for $n rows: $(awk -v a="$t" -v n="$n" 'BEGIN { printf "%.3f", a * 1e6 / n }') against $(awk -v a="$v" -v n="$n" 'BEGIN { printf "%.3f", a * 1e6 / n }') us per row ($(awk -v a="$t" -v b="$v" 'BEGIN { printf "%.2f", a / b }')x); with the CSR built $tr and $vr s"
	ratios="$ratios $(awk -v a="$t" -v b="$v" 'BEGIN { printf "%.3f", a / b }')"
done
echo "median ratio, heap scan / executor: $(printf '%s\n' $ratios | sort -n | sed -n 3p)"
rr_psql -q -c "SELECT rerank.drop_model('read_table')" -c "SELECT rerank.drop_model('read_view')"

echo
rr_log "2. the whole CALL, 15 iterations, memory sampled"
pidfile=$(mktemp); rr_scratch_path "$pidfile" "$pidfile.samples"
(
	rr_psql -At -F ' ' <<SQL
SELECT pg_backend_pid() \g $pidfile
SELECT pg_sleep(0.5);
SET client_min_messages = warning;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
CALL rerank.train_als('scale', 'synth', factors => 64, regularization => 0.05, alpha => 1,
                      iterations => 15);
SELECT 'phases', :t0, (m->>'read_seconds'), (m->>'train_seconds'), (m->>'write_seconds'),
       m->>'rows_read', m->>'interactions',
       (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]
  FROM (SELECT metrics->'training' AS m FROM rerank.models WHERE name = 'scale') t;
SQL
) >"$pidfile.out" &
job=$!
pid=""
for _ in $(seq 1 100); do pid=$(cat "$pidfile" 2>/dev/null || true); [ -n "$pid" ] && break; sleep 0.05; done
while kill -0 "$job" 2>/dev/null; do
	[ -r "/proc/$pid/status" ] &&
		echo "$(date +%s.%N) $(awk '/^(VmRSS|RssAnon):/ { printf "%s ", $2 }' "/proc/$pid/status" 2>/dev/null)" >>"$pidfile.samples"
	sleep 0.05
done
wait "$job"
read -r _ t0 rd tr wr nread ninter hwm <<<"$(grep '^phases' "$pidfile.out")"
awk -v t0="$t0" -v rd="$rd" -v tr="$tr" -v wr="$wr" '
	NF == 3 {
		t = $1 - t0; phase = t < rd ? "read" : t < rd + tr ? "train" : "write"
		if ($2 > peak[phase]) peak[phase] = $2
		if ($3 > anon[phase]) anon[phase] = $3
	}
	END { printf "peak resident memory by phase (VmRSS, shared buffers the backend touched included): read %.0f MB, train %.0f MB, write %.0f MB\n",
	             peak["read"] / 1024, peak["train"] / 1024, peak["write"] / 1024
	      printf "peak private memory by phase (RssAnon): read %.0f MB, train %.0f MB, write %.0f MB\n",
	             anon["read"] / 1024, anon["train"] / 1024, anon["write"] / 1024 }' "$pidfile.samples"
echo "$nread rows, $ninter interactions: read $rd s ($(awk -v a="$rd" -v n="$nread" 'BEGIN { printf "%.3f", a * 1e6 / n }') us per row, heap scan), train $tr s, write $wr s; peak backend memory (VmHWM) $((hwm / 1024)) MB"

echo
rr_log "3. one training of $((rows / 10)) rows alone, then two at once"
alone=$(train small synth_small | awk '{ print $1 + $2 }')
t0=$(date +%s.%N)
train small2 synth_small2 >"$pidfile.a" &
train small synth_small >"$pidfile.b"
wait
both=$(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.2f", t1 - t0 }')
echo "one alone: $alone s (read + train); two at once: $both s for both: $(awk -v a="$alone" -v b="$both" 'BEGIN { printf "%.2f", 2 * a / b }')x the work per second of one"
