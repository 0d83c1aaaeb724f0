#!/usr/bin/env bash
# Benchmark of the real-time behavior trigger (issue 4), in one run:
#   - event-insert throughput with pgbench (single-row INSERTs, 2 clients):
#     the bare table, the same table with the row trigger (features + fold-in
#     of the user's vector), for synchronous_commit on and off;
#   - a 10,000-row multi-row INSERT: bare, with the statement trigger (one
#     update and one fold-in per user), with the row trigger (one per row);
#   - the median time of one fold-in (AlsFoldIn) in a C micro-benchmark;
#   - the server CPU time per single-row insert (bare and with the trigger),
#     sampled from /proc: steadier than throughput on a shared machine;
#   - the row trigger with every event on ONE popular item (many users, one
#     item): the insert path keeps no per-item counter, so these events do
#     not wait for each other and run as fast as events on random items.
# At k = 64 dimensions, users with 100-item histories (seeded through
# rerank.rebuild_user_features), a 10,000-item catalog.  Runs are
# interleaved and repeated; ratios compare figures of the same run.
#   bash test/bench/realtime.sh [seconds per run] [rounds]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/common.sh"
seconds=${1:-5}
rounds=${2:-3}
k=64
items=10000
users=1000
history=100
clients=2

rr_ensure_packages
rr_build_install

work=$(mktemp -d /tmp/rerank-bench-realtime.XXXXXX)
trap 'rm -rf "$work"; rr_cluster_stop' EXIT

# The fold-in alone: the core built with the extension's flags.
make -s -C "$RR_TOP" bench-core PG_CONFIG="$(rr_pg_config)" \
	BENCH_SRC="$here/fold_in.c" BENCH_OUT="$work/fold_in"
read -r fold_median fold_p10 fold_p90 < <("$work/fold_in" $k $history 5001)

rr_cluster_start rerank-bench-rt "max_wal_size = 4GB" "checkpoint_timeout = 30min" \
	"jit = off"

rr_log "setting up: $items items x $k dims, $users users with $history-item histories"
rr_psql >/dev/null <<SQL
CREATE EXTENSION rerank;
SELECT rerank.create_model('bench', $k, params => '{"regularization": 0.1, "alpha": 2}');
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('bench'), i,
       (SELECT array_agg(((hashint4(i * 1031 + d) % 1000) / 5000.0)::real ORDER BY d)
          FROM generate_series(1, $k) d)
  FROM generate_series(1, $items) i;
SELECT rerank.activate_model('bench');
INSERT INTO rerank.items SELECT i, 'c' || (i % 50), 'b' || (i % 200) FROM generate_series(1, $items) i;

-- the shop's event tables: the same shape three times
CREATE TABLE history (event_id bigserial PRIMARY KEY, user_id bigint NOT NULL, item_id bigint NOT NULL,
                      event_type text NOT NULL, occurred_at timestamptz NOT NULL DEFAULT now(), dwell_ms integer);
CREATE TABLE bare_events (LIKE history INCLUDING ALL);
CREATE TABLE row_events (LIKE history INCLUDING ALL);
CREATE TABLE stmt_events (LIKE history INCLUDING ALL);
CREATE TABLE pop_events (LIKE history INCLUDING ALL);
-- history: $history distinct items per user, before the cut-off
INSERT INTO history (user_id, item_id, event_type, occurred_at, dwell_ms)
SELECT u, (u * 7919 + j * 97) % $items + 1,
       (ARRAY['view', 'view', 'click', 'cart', 'purchase'])[(u + j) % 5 + 1],
       '2024-01-01'::timestamptz + j * interval '1 minute', 1000
  FROM generate_series(1, $users) u, generate_series(1, $history) j;
SQL
t0=$SECONDS
rr_psql -At -c "SELECT rerank.rebuild_user_features('history', time_column => 'occurred_at', dwell_column => 'dwell_ms')" >/dev/null
rebuild_s=$((SECONDS - t0))
rr_psql >/dev/null <<SQL
SELECT rerank.attach('row_events', time_column => 'occurred_at', dwell_column => 'dwell_ms');
SELECT rerank.attach('stmt_events', time_column => 'occurred_at', dwell_column => 'dwell_ms',
                     for_each => 'statement');
SELECT rerank.attach('pop_events', time_column => 'occurred_at', dwell_column => 'dwell_ms');
VACUUM ANALYZE;
CHECKPOINT;
SQL
check=$(rr_psql -At -c "SELECT min(cardinality(recent_items)) || ' ' || count(*) FROM rerank.user_features")
rr_log "seeded in ${rebuild_s}s: min history and users: $check"

for t in bare row; do
	cat >"$work/$t.sql" <<SQL
\set uid random(1, $users)
\set item random(1, $items)
INSERT INTO ${t}_events (user_id, item_id, event_type, dwell_ms) VALUES (:uid, :item, 'click', 1200);
SQL
done
cat >"$work/pop.sql" <<SQL
\set uid random(1, $users)
INSERT INTO pop_events (user_id, item_id, event_type, dwell_ms) VALUES (:uid, 1, 'click', 1200);
SQL
for t in bare stmt row; do
	cat >"$work/bulk_$t.sql" <<SQL
INSERT INTO ${t}_events (user_id, item_id, event_type, dwell_ms)
SELECT (i * 31) % $users + 1, (i * 7 + (random() * 100)::int) % $items + 1, 'view', 800
  FROM generate_series(1, 10000) i;
SQL
done

# tps of one pgbench run: tps FILE CLIENTS SECONDS|-tN [PGOPTIONS]
tps() {
	local file=$1 c=$2 len=$3 opts=$4
	PGOPTIONS="$opts" pgbench -n -c "$c" -j "$c" $len -f "$file" 2>&1 |
		awk '/^tps = / { print $3 }'
}

# A timed single-row run that also samples the server CPU time its
# backends spend per event (user + system, from /proc, over the middle of
# the run): less sensitive than throughput to other load on the machine.
#   timed FILE CLIENTS SECONDS PGOPTIONS TABLE  ->  "tps cpu_us"
timed() {
	local file=$1 c=$2 secs=$3 opts=$4 table=$5
	local out="$work/pgbench.out" tck pids c0=0 c1=0 n0 n1 p t
	tck=$(getconf CLK_TCK)
	PGOPTIONS="$opts" pgbench -n -c "$c" -j "$c" -T "$secs" -f "$file" >"$out" 2>&1 &
	sleep 1
	pids=$(psql -XAtc "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE application_name = 'pgbench'")
	for p in $pids; do c0=$((c0 + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	n0=$(psql -XAtc "SELECT max(event_id) FROM $table")
	sleep $((secs - 2))
	for p in $pids; do c1=$((c1 + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
	n1=$(psql -XAtc "SELECT max(event_id) FROM $table")
	wait
	t=$(awk '/^tps = / { print $3 }' "$out")
	echo "$t $(( (c1 - c0) * 1000000 / tck / (n1 - n0 > 0 ? n1 - n0 : 1) ))"
}

results="$work/results.tsv"
: >"$results"
: >"$work/cpu.tsv"
for sc in on off; do
	opts="-c synchronous_commit=$sc"
	rr_log "single-row inserts, synchronous_commit = $sc: $rounds rounds x ${seconds}s per table, $clients clients"
	for r in $(seq "$rounds"); do
		for t in bare row pop; do
			read -r tp cpu < <(timed "$work/$t.sql" $clients "$seconds" "$opts" "${t}_events")
			echo -e "$sc\tsingle\t$t\t$tp" >>"$results"
			echo -e "$sc\t$t\t$cpu" >>"$work/cpu.tsv"
		done
	done
	rr_log "10,000-row inserts, synchronous_commit = $sc"
	for r in $(seq "$rounds"); do
		for t in bare stmt row; do
			echo -e "$sc\tbulk\t$t\t$(tps "$work/bulk_$t.sql" 1 "-t 4" "$opts")" >>"$results"
		done
	done
done
rr_psql -c "VACUUM rerank.user_features" >/dev/null

# consistency after the whole run: every vector is the fold-in of its history
consistent=$(rr_psql -At -c "SELECT count(*) FILTER (WHERE u.factors = rerank.fold_in_history(f.recent_items, f.recent_weights)) || '/' || count(*) FROM rerank.user_features f JOIN rerank.user_factors u USING (user_id)")

rr_psql -At >"$work/report.txt" <<SQL
CREATE TEMP TABLE r (sc text, kind text, tbl text, tps float8);
\copy r FROM '$results'
CREATE TEMP TABLE cpu (sc text, tbl text, us float8);
\copy cpu FROM '$work/cpu.tsv'
\pset format aligned
\pset tuples_only off
WITH med AS (
    SELECT sc, kind, tbl, percentile_cont(0.5) WITHIN GROUP (ORDER BY tps) AS tps, count(*) AS runs
      FROM r GROUP BY 1, 2, 3)
SELECT m.sc AS synchronous_commit,
       CASE m.kind WHEN 'single' THEN 'single-row INSERT, $clients clients'
                   ELSE '10,000-row INSERT, 1 client' END AS workload,
       CASE m.tbl WHEN 'bare' THEN 'bare table' WHEN 'row' THEN 'row trigger'
                  WHEN 'pop' THEN 'row trigger, one item'
                  ELSE 'statement trigger' END AS target,
       round((m.tps * CASE m.kind WHEN 'bulk' THEN 10000 ELSE 1 END)::numeric) AS events_per_s,
       round((m.tps / b.tps)::numeric, 2) AS ratio_to_bare,
       m.runs
  FROM med m JOIN med b ON b.sc = m.sc AND b.kind = m.kind AND b.tbl = 'bare'
 ORDER BY m.sc DESC, m.kind DESC, m.tbl <> 'bare', m.tbl = 'pop', m.tbl DESC;
\echo
\echo server CPU per single-row insert (backends, median of the runs):
SELECT c.sc AS synchronous_commit,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY c.us) FILTER (WHERE c.tbl = 'bare')) AS bare_us,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY c.us) FILTER (WHERE c.tbl = 'row')) AS row_trigger_us,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY c.us) FILTER (WHERE c.tbl = 'row')
             - percentile_cont(0.5) WITHIN GROUP (ORDER BY c.us) FILTER (WHERE c.tbl = 'bare')) AS trigger_us,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY c.us) FILTER (WHERE c.tbl = 'pop')) AS one_item_us
  FROM cpu c GROUP BY c.sc ORDER BY c.sc DESC;
SQL

echo
echo "rerank real-time benchmark: k = $k, $history-item histories, $users users, $items items ($(nproc) cores)"
cat "$work/report.txt"
echo
echo "fold-in (AlsFoldIn, k = $k, n = $history): median $fold_median us (p10 $fold_p10, p90 $fold_p90)"
echo "seeding by rebuild_user_features: $((users * history)) events, ${rebuild_s}s"
echo "vectors equal to the fold-in of their stored history after the run: $consistent"
