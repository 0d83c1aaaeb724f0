#!/usr/bin/env bash
# A/B benchmark of the real-time row trigger: this work tree against a git
# revision (main by default), on one machine, at the same time.  The
# machine is shared and its load changes from minute to minute, so two
# separate runs of test/bench/realtime.sh cannot tell a 10% difference
# apart; here both builds run side by side, each in its own cluster (its
# own relocated copy of PostgreSQL, test/lib/private_pg.sh), with the same
# data as realtime.sh (k = 64, 1000 users with 100-item histories, 10,000
# items), and the runs alternate: base row, base bare, this row, this bare,
# round after round.  Each run is one pgbench client of single-row INSERTs
# for the given seconds; it prints the throughput and the server CPU per
# event of the backend (user + system from /proc), then the median of each
# over the rounds and the ratio this / base.
#
#   bash test/bench/trigger_ab.sh [base revision] [seconds] [rounds] [synchronous_commit]
#
# With RR_BENCH_PERF=1 each row-trigger run is also sampled by perf
# (perf record -F 999 on the client's backend over the same window), and
# the script prints the median server CPU per event of each shared object
# (rerank.so, postgres, liblz4, OpenBLAS, libc, the kernel) per build:
# where a difference between the two builds comes from.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/common.sh"
base=${1:-main}
seconds=${2:-8}
rounds=${3:-6}
sync=${4:-off}
perf_on=${RR_BENCH_PERF:-0}
[ "$seconds" -ge 4 ] || rr_die "seconds: at least 4"
[ "$perf_on" = 0 ] || command -v perf >/dev/null || rr_die "RR_BENCH_PERF=1 needs perf (Debian: linux-perf)"

rr_ensure_packages
rr_build_install
git -C "$RR_TOP" rev-parse --verify -q "$base^{commit}" >/dev/null || rr_die "no revision $base"

work=$(mktemp -d /tmp/rerank-bench-trigger-ab.XXXXXX)
chmod 755 "$work"
owner=$(rr_cluster_owner)
RR_CLUSTER_OWNER=$owner
[ "$(id -u)" -eq 0 ] && chown "$owner" "$work"
stop_all() {
	local c
	for c in base this; do
		[ -f "$work/$c/data/postmaster.pid" ] &&
			rr_as_owner "$work/$c/bin/pg_ctl" -D "$work/$c/data" -m fast -w stop >/dev/null 2>&1
	done
	[ -n "${RR_KEEP:-}" ] || rm -rf "$work"
}
trap stop_all EXIT

# the base: its sources built into a private copy of PostgreSQL
base_config=$(rr_build_revision "$base" "$work")

# two clusters, one per build, each on a Unix socket in its own directory
mkdir -p "$work/base" "$work/this"
ln -s "$("$base_config" --bindir)" "$work/base/bin"
ln -s "$("$(rr_pg_config)" --bindir)" "$work/this/bin"
port=${RR_PORT:-54329}
for c in base this; do
	[ "$(id -u)" -eq 0 ] && chown "$owner" "$work/$c"
	rr_as_owner "$work/$c/bin/initdb" -D "$work/$c/data" -U postgres --auth=trust \
		--encoding=UTF8 --locale=C --no-sync >"$work/$c/initdb.log" 2>&1 ||
		{ cat "$work/$c/initdb.log" >&2; rr_die "initdb failed"; }
	printf '%s\n' "listen_addresses = ''" "port = $port" "unix_socket_directories = '$work/$c'" \
		"shared_buffers = 128MB" "max_wal_size = 4GB" "checkpoint_timeout = 30min" "jit = off" |
		rr_as_owner tee -a "$work/$c/data/postgresql.conf" >/dev/null
	rr_as_owner "$work/$c/bin/pg_ctl" -D "$work/$c/data" -l "$work/$c/server.log" -w start >/dev/null ||
		{ cat "$work/$c/server.log" >&2; rr_die "the $c server did not start"; }
done
q() { local c=$1; shift; "$work/$c/bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work/$c" -p "$port" -U postgres -d postgres "$@"; }

rr_log "setting up both: 10000 items x 64 dims, 1000 users with 100-item histories"
for c in base this; do
	q "$c" >/dev/null <<'SQL'
CREATE EXTENSION rerank;
SELECT rerank.create_model('bench', 64, params => '{"regularization": 0.1, "alpha": 2}');
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('bench'), i,
       (SELECT array_agg(((hashint4(i * 1031 + d) % 1000) / 5000.0)::real ORDER BY d)
          FROM generate_series(1, 64) d)
  FROM generate_series(1, 10000) i;
SELECT rerank.activate_model('bench');
INSERT INTO rerank.items SELECT i, 'c' || (i % 50), 'b' || (i % 200) FROM generate_series(1, 10000) i;
CREATE TABLE history (event_id bigserial PRIMARY KEY, user_id bigint NOT NULL, item_id bigint NOT NULL,
                      event_type text NOT NULL, occurred_at timestamptz NOT NULL DEFAULT now(), dwell_ms integer);
CREATE TABLE bare_events (LIKE history INCLUDING ALL);
CREATE TABLE row_events (LIKE history INCLUDING ALL);
INSERT INTO history (user_id, item_id, event_type, occurred_at, dwell_ms)
SELECT u, (u * 7919 + j * 97) % 10000 + 1,
       (ARRAY['view', 'view', 'click', 'cart', 'purchase'])[(u + j) % 5 + 1],
       '2024-01-01'::timestamptz + j * interval '1 minute', 1000
  FROM generate_series(1, 1000) u, generate_series(1, 100) j;
SELECT rerank.rebuild_user_features('history', time_column => 'occurred_at', dwell_column => 'dwell_ms');
SELECT rerank.attach('row_events', time_column => 'occurred_at', dwell_column => 'dwell_ms');
VACUUM ANALYZE;
CHECKPOINT;
SQL
	echo "$c: user_features row $(q "$c" -At -c "SELECT round(avg(pg_column_size(u.*))) FROM rerank.user_features u") bytes" >&2
done

for t in bare row; do
	cat >"$work/$t.sql" <<SQL
\set uid random(1, 1000)
\set item random(1, 10000)
INSERT INTO ${t}_events (user_id, item_id, event_type, dwell_ms) VALUES (:uid, :item, 'click', 1200);
SQL
done

tck=$(getconf CLK_TCK)
results=$work/results.tsv
rr_log "$rounds rounds x (base, this) x (row trigger, bare table), ${seconds}s each, 1 client, synchronous_commit = $sync"
for r in $(seq "$rounds"); do
	for c in base this; do
		for t in row bare; do
			PGOPTIONS="-c synchronous_commit=$sync" "$work/$c/bin/pgbench" -h "$work/$c" -p "$port" -U postgres \
				-n -c 1 -j 1 -T "$((seconds + 4))" -f "$work/$t.sql" postgres >"$work/pgbench.out" 2>&1 &
			# pgbench first opens and closes a connection of its own: take
			# the newest pgbench backend once it has lived for a while
			pid=
			for _ in $(seq 50); do
				sleep 0.2
				pid=$(q "$c" -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'
				                       AND backend_start < now() - interval '0.5 s' ORDER BY backend_start DESC LIMIT 1")
				[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] && break
				pid=
			done
			[ -n "$pid" ] || rr_die "no pgbench backend found"
			c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
			n0=$(q "$c" -At -c "SELECT max(event_id) FROM ${t}_events")
			if [ "$perf_on" != 0 ] && [ "$t" = row ]; then
				perf record -q -F 999 -p "$pid" -o "$work/perf.data" -- sleep $((seconds - 2)) >/dev/null 2>&1
			else
				sleep $((seconds - 2))
			fi
			c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
			n1=$(q "$c" -At -c "SELECT max(event_id) FROM ${t}_events")
			wait
			tps=$(awk '/^tps = / { printf "%.0f", $3 }' "$work/pgbench.out")
			cpu=$(( (c1 - c0) * 1000000 / tck / (n1 - n0 > 0 ? n1 - n0 : 1) ))
			printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$c" "$t" "$tps" "$cpu" | tee -a "$results" >&2
			if [ "$perf_on" != 0 ] && [ "$t" = row ]; then
				# samples at 999 Hz per shared object -> microseconds per event
				perf report -i "$work/perf.data" --no-children -n -g none --sort dso 2>/dev/null |
					awk -v r="$r" -v c="$c" -v ev=$((n1 - n0 > 0 ? n1 - n0 : 1)) \
						'/^ +[0-9.]+%/ { printf "%s\t%s\t%s\t%.2f\n", r, c, $3, $2 / 999 / ev * 1e6 }' >>"$work/perf.tsv"
			fi
		done
	done
done

# medians per (build, table), then this / base
q this -P footer=off <<SQL
CREATE TEMP TABLE ab (round int, build text, target text, tps real, cpu_us real);
\copy ab FROM '$results'
WITH m AS (
    SELECT build, target,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY tps) AS tps,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY cpu_us) AS cpu_us
      FROM ab GROUP BY build, target)
SELECT t.target, b.tps AS base_events_per_s, t.tps AS this_events_per_s,
       round((t.tps / b.tps)::numeric, 2) AS tps_ratio,
       b.cpu_us AS base_cpu_us, t.cpu_us AS this_cpu_us,
       round((t.cpu_us / b.cpu_us)::numeric, 2) AS cpu_ratio
  FROM m t JOIN m b ON b.target = t.target AND b.build = 'base'
 WHERE t.build = 'this' ORDER BY t.target DESC;
SQL
if [ "$perf_on" != 0 ]; then
	q this -P footer=off <<SQL
CREATE TEMP TABLE p (round int, build text, dso text, us real);
\copy p FROM '$work/perf.tsv'
WITH m AS (SELECT build, dso, percentile_disc(0.5) WITHIN GROUP (ORDER BY us) AS us
             FROM p GROUP BY build, dso)
SELECT coalesce(t.dso, b.dso) AS shared_object, b.us AS base_us_per_event, t.us AS this_us_per_event,
       round((t.us - b.us)::numeric, 2) AS difference
  FROM (SELECT * FROM m WHERE build = 'this') t FULL JOIN (SELECT * FROM m WHERE build = 'base') b USING (dso)
 WHERE greatest(t.us, b.us) >= 1 ORDER BY greatest(t.us, b.us) DESC;
SQL
fi
echo "base: $base $(git -C "$RR_TOP" rev-parse --short "$base"), this: the work tree; medians of $rounds rounds"
