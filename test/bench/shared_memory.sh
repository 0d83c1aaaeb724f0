#!/usr/bin/env bash
# Serving a big catalog to many connections: the per-backend model cache
# (rerank not preloaded: every connection loads and holds its own copy)
# against one copy per server in shared memory (shared_preload_libraries =
# 'rerank'), on the same data in the same run.
#
#   bash test/bench/shared_memory.sh [items] [seconds] [connections...]
#
# Defaults: 1,000,000 items × 64 dimensions, 100,000 users with vectors and
# features, 64 categories; 20 s per measurement; 1, 50 and 200 connections.
# Every call is rerank.rerank(user, 500 random candidates, k => 20) through
# pgbench (prepared statements, the candidates a text parameter, 16
# different lists), interleaved with SELECT 1 as the reference of the run.
#
# Phases, one data directory:
#   1. per-backend (no preload, rerank.model_cache_mb raised so the model
#      fits): the first call of new connections, a backend's private
#      memory, one connection at a fixed rate (RR_BENCH_RATE, 200 calls/s).
#      Only a few backends at a time: each holds a whole copy.
#   2. shared (preload, max_connections 220): the build, then for each
#      connection count: the time until every new connection has answered
#      once, p50 and p99 at the same total rate (so latency is not
#      queueing on 2 cores), the memory: the one shared copy, and per backend
#      its private memory and page tables; then the first call of new
#      connections.
#   3. activation of a new version of the same size under 50 connections:
#      the activation's own time, the slowest call, errors, calls over 1 s,
#      and the peak of the versions held in shared memory.
#   4. one connection flat out and the server CPU per call, per backend
#      against shared, RR_BENCH_ROUNDS (3) rounds alternating the two modes
#      (restarts), so a change of the machine's load hits both.
# With RR_BENCH_PAGES=1 only the pages of the served copy are compared
# instead (phase 5): the same model served on 4 kB pages (as by default) and
# on 2 MB pages by each mechanism this machine allows, rounds alternated: a
# new connection's first and second call, one connection at RR_BENCH_RATE
# (a slow pace: the TLB is cold at every call) and the server CPU of a new
# backend's first calls; the per-backend cache (private memory on
# transparent huge pages) as the reference.  The kernel settings it needs
# (shmem_enabled = advise, vm.nr_hugepages) are set as root for the run
# only and put back on exit, however it ends; without root only what the
# machine's settings allow is measured.
# Ratios are taken within the run.  Every phase checks the memory it needs
# is available first, a watchdog stops pgbench if the machine runs low, and
# rerank.model_cache_mb is capped in the shared phase, so a misconfiguration
# cannot make 200 backends load private copies.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
pages=${RR_BENCH_PAGES:-0}
thp_shmem=/sys/kernel/mm/transparent_hugepage/shmem_enabled
nr_hugepages=/proc/sys/vm/nr_hugepages
# The kernel settings of the pages phase: saved here, the run in a child
# process, put back when the child ends, whatever the way.
if [ "$pages" = 1 ] && [ "$(id -u)" -eq 0 ] && [ -z "${RR_BENCH_PAGES_CHILD:-}" ]; then
	saved_thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp_shmem" 2>/dev/null || true)
	saved_nr=$(cat "$nr_hugepages")
	restore_kernel() {
		[ -z "$saved_thp" ] || echo "$saved_thp" >"$thp_shmem" || true
		echo "$saved_nr" >"$nr_hugepages" || true
		rr_log "kernel settings put back: shmem_enabled $(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp_shmem" 2>/dev/null), vm.nr_hugepages $(cat "$nr_hugepages")"
	}
	trap restore_kernel EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	status=0
	RR_BENCH_PAGES_CHILD=1 bash "$0" "$@" || status=$?
	exit "$status"
fi
items=${1:-1000000}
seconds=${2:-20}
shift 2 2>/dev/null || shift $#
connections=("$@")
[ ${#connections[@]} -gt 0 ] || connections=(1 50 200)
dims=64
users=100000
max_clients=0
for c in "${connections[@]}"; do [ "$c" -gt "$max_clients" ] && max_clients=$c; done
# over 2M items: no activation (two copies) and no per-backend phase (each
# of its connections would load the whole model)
activation=${RR_BENCH_ACTIVATION:-$([ "$items" -le 2000000 ] && [ "$pages" = 0 ] && echo 1 || echo 0)}
per_backend=${RR_BENCH_PER_BACKEND:-$([ "$items" -le 2000000 ] && echo 1 || echo 0)}

# raw vector bytes, the data of the model (vectors, ids, biases), and a
# generous estimate of one served copy
vector_mb=$((items * dims * 4 / 1048576))
data_mb=$((items * (dims * 4 + 12) / 1048576))
copy_mb=$((vector_mb * 13 / 10 + 64))

mem_available_mb() { awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo; }
# Dies unless $1 MB (plus 2 GB of headroom) are available.
need_memory() {
	local have
	have=$(mem_available_mb)
	[ "$have" -ge $(($1 + 2048)) ] ||
		rr_die "$2 needs about $1 MB and 2 GB of headroom; $have MB are available"
}
# Kills process $1 when available memory falls under 1 GB; runs until $1 exits.
watchdog() {
	while kill -0 "$1" 2>/dev/null; do
		if [ "$(mem_available_mb)" -lt 1024 ]; then
			rr_log "watchdog: less than 1 GB available, stopping pgbench"
			kill "$1" 2>/dev/null || true
			return
		fi
		sleep 0.2
	done
}

# the table takes about 1.3 copies of the vectors, the load a copy more
need_memory $((vector_mb * 3)) "loading $items items"
rr_ensure_packages
rr_build_install
work=$(mktemp -d /tmp/rerank-shm-bench.XXXXXX)
chmod 777 "$work"
rr_scratch_path "$work"

conf=("max_parallel_workers_per_gather = 0" "jit = off" "max_connections = 220"
	"shared_buffers = 256MB" "rerank.model_cache_mb = $((copy_mb + 64))"
	"rerank.category_cache_mb = 256")
rr_cluster_start rerank-shm-bench "${conf[@]}"

rr_log "loading $items items x $dims dims (one million generated, repeated), $users users"
base=$((items < 1000000 ? items : 1000000))
rr_psql -q <<SQL
CREATE EXTENSION rerank;
SELECT rerank.create_model('bench', $dims) AS model_id \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias)
SELECT :model_id, i,
       (SELECT array_agg((((hashint4(i * 131 + d) % 1000) / 1000.0) * 0.3)::real ORDER BY d)
          FROM generate_series(1, $dims) d),
       ((hashint4(i) % 100) / 1000.0)::real
  FROM generate_series(1, $base) i;
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias)
SELECT :model_id, item_id + r * $base, factors, bias
  FROM rerank.item_factors, generate_series(1, ($items - 1) / $base) r
 WHERE model_id = :model_id AND item_id + r * $base <= $items
  \\g /dev/null
SQL
rr_psql -q <<SQL
SELECT rerank.model_id('bench') AS model_id \gset
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
VACUUM ANALYZE;
SQL
rr_psql -q -c "SELECT rerank.activate_model('bench')"
if [ "$activation" = 1 ]; then
	# the next version: the same items, other vectors
	rr_psql -q <<SQL
SELECT rerank.create_model('bench_v2', $dims) AS v2 \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias)
SELECT :v2, item_id, (SELECT array_agg(1 - x) FROM unnest(factors) x), bias
  FROM rerank.item_factors WHERE model_id = rerank.model_id('bench');
VACUUM ANALYZE rerank.item_factors;
SQL
fi

# 16 lists of 500 distinct random candidates: a table (for the CPU
# measurement) and pgbench variables
rr_psql -q <<SQL
SELECT setseed(0.7);
CREATE TABLE bench_lists AS
SELECT l, (SELECT array_agg(i) FROM (SELECT DISTINCT 1 + floor(random() * $items)::bigint AS i
                                       FROM generate_series(1, 600) WHERE l > 0 LIMIT 500) c) AS ids
  FROM generate_series(1, 16) l;
SQL
defs=()
while IFS= read -r a; do
	[ -n "$a" ] && defs+=(-D "c${#defs[@]}=$a")
done < <(rr_psql -At -c "SELECT ids::text FROM bench_lists ORDER BY l")
lists=$((${#defs[@]} / 2))
scripts=()
for v in select1 rerank; do
	for ((l = 0; l < lists; l++)); do
		f="$work/$v.$(printf '%02d' "$l").sql"
		{
			echo '\set u random(1, '"$users"')'
			if [ "$v" = select1 ]; then echo "SELECT 1;"; else
				echo "SELECT item_id, score, rank FROM rerank.rerank(:u, :c$((l * 2))::bigint[], k => 20);"
			fi
		} >"$f"
		scripts+=(-f "$f")
	done
done
call="SELECT count(*) FROM rerank.rerank(42, (SELECT array_agg(i) FROM generate_series(7, $items, $((items / 500))) i), k => 20)"
# the same call on a model of only those 500 items (phase 5): what a new
# connection's first call costs when nearly nothing is to be mapped
floor_call="${call%)}, model => 'floor')"

# pgbench run: $1 clients, $2 seconds, $3 rate (0: flat out), $4 log dir.
bench() {
	local rate=()
	[ "$3" != 0 ] && rate=(-R "$3")
	mkdir -p "$4"
	chmod 777 "$4"
	(cd "$4" && pgbench -n -M prepared -c "$1" -j $(($1 < 2 ? 1 : 2)) -T "$2" "${rate[@]}" -l --log-prefix="$4/log" \
		"${defs[@]}" "${scripts[@]}" >"$4/pgbench.out" 2>&1) &
	local job=$!
	watchdog "$job" &
	wait "$job" || true
}
# p50, p99 and max (ms) of the rerank calls of a run, and their count:
# scripts 0..lists-1 are SELECT 1, the others rerank().  $3 (default 0):
# seconds at the start of the run left out (new backends warming up:
# plans, the kernel mapping the shared pages they touch first, or, per
# backend, loading the model), counted from the first rerank() call's end.
latency() {
	cat "$1"/log.* 2>/dev/null | awk -v lists="$lists" -v want="$2" -v skip="${3:-0}" '
		{ t = $5 + $6 / 1e6; if ($4 >= lists && (start == 0 || t < start)) start = t; line[NR] = $0; end[NR] = t }
		END {
			for (i = 1; i <= NR; i++) {
				split(line[i], f, " ")
				if (end[i] >= start + skip && (f[4] >= lists) == (want == "rerank"))
					print f[3] / 1000.0
			}
		}' | sort -n |
		awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "0 0 0 0"; exit }
			printf "%d %.3f %.3f %.1f\n", NR, v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.5)], v[NR] }'
}
# Client backends' pids.
backend_pids() {
	rr_psql -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'
	                  AND pid <> pg_backend_pid() AND datname = current_database()"
}
# "count rss_anon_mb page_tables_mb" over the client backends.
backend_memory() {
	local pid
	for pid in $(backend_pids); do
		[ -r "/proc/$pid/status" ] && awk '/^(RssAnon|VmPTE):/ { printf "%s %d ", $1, $2 } END { print "" }' "/proc/$pid/status"
	done | awk '{ n++; anon += $2; pte += $4 } END { printf "%d %.1f %.1f\n", n, anon / 1024, pte / 1024 }'
}
# Statement time (ms) of the first and the second call of a new connection.
first_calls() {
	local i c=${1:-$call}
	for i in 1 2 3 4 5; do
		psql -X -At -c '\timing on' -c "$c" -c "$c" 2>&1 |
			awk '/^Time:/ { t[++n] = $2 } END { printf "%.3f %.3f\n", t[1], t[2] }'
	done
}

# Memory of a backend after one call: its private memory (RssAnon) and
# page tables (VmPTE), MB, read by the backend itself.
self_memory="SELECT round((regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\s+(\d+)'))[1]::numeric / 1024, 1)
                    || ' ' || round((regexp_match(pg_read_file('/proc/self/status'), 'VmPTE:\s+(\d+)'))[1]::numeric / 1024, 1)"
# Sum of the bytes of the model versions held in shared memory (MB).
shared_mb="SELECT coalesce(round(sum(bytes) / 1048576.0, 1), 0) FROM rerank.model_memory
            WHERE kind = 'model' AND state IN ('ready', 'building', 'retiring')"

# Server CPU (us) per rerank() call in one new backend, every list 100
# times in one statement, the backend's CPU time from /proc before and
# after (steadier than latency on a shared machine): "first warm", the
# first 1,600 calls (with the preload they include the page faults of
# mapping what they touch; per backend, not the load, done before) and the
# next 1,600.
cpu_per_call() {
	psql -X -At <<SQL | tail -2 | tr '\n' ' '
SELECT count(*) FROM bench_lists b, LATERAL rerank.rerank(42, b.ids, k => 20) WHERE b.l = 1 \g /dev/null
SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint AS t0 \gset
SELECT count(*) FROM bench_lists b, generate_series(1, 100) g,
       LATERAL rerank.rerank((g * 97 + b.l) % $users + 1, b.ids, k => 20) \g /dev/null
SELECT round((split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint - :t0) / 1600.0 / 1000, 1);
SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint AS t0 \gset
SELECT count(*) FROM bench_lists b, generate_series(1, 100) g,
       LATERAL rerank.rerank((g * 97 + b.l) % $users + 7, b.ids, k => 20) \g /dev/null
SELECT round((split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint - :t0) / 1600.0 / 1000, 1);
SQL
}
# Restarts the cluster with or without the preload ($1: 1 or 0).  With it,
# the per-backend budgets are capped: a private copy would not fit, so
# nothing can multiply by the connections.
preload() {
	if [ "$1" = 1 ]; then
		rr_psql -q -c "ALTER SYSTEM SET shared_preload_libraries = 'rerank'" \
			-c "ALTER SYSTEM SET rerank.model_cache_mb = 16" \
			-c "ALTER SYSTEM SET rerank.category_cache_mb = 16"
	else
		rr_psql -q -c "ALTER SYSTEM RESET shared_preload_libraries" \
			-c "ALTER SYSTEM RESET rerank.model_cache_mb" -c "ALTER SYSTEM RESET rerank.category_cache_mb"
	fi
	rr_cluster_restart
	[ "$(rr_psql -At -c "SHOW shared_preload_libraries")" = "$([ "$1" = 1 ] && echo rerank)" ] ||
		rr_die "could not switch the preload"
}

rate=${RR_BENCH_RATE:-200}
rounds=${RR_BENCH_ROUNDS:-3}

# Phase 5 (RR_BENCH_PAGES=1): 4 kB against 2 MB pages for the served copy.
thp_mode() { sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp_shmem" 2>/dev/null; }
# Sets shmem_enabled to $1 when root; true when it is (or already was) $1.
set_thp() {
	[ "$(thp_mode)" = "$1" ] && return 0
	[ "$(id -u)" -eq 0 ] && echo "$1" >"$thp_shmem" 2>/dev/null && [ "$(thp_mode)" = "$1" ]
}
# Restarts the cluster for a page configuration ($1): its settings, and as
# root the kernel's; false (with a message) when this machine cannot have it.
pages_config() {
	local data=$RR_CLUSTER_DIR/data need have initial_thp=${saved_thp_mode:-never}
	local sets=("ALTER SYSTEM RESET dynamic_shared_memory_type" "ALTER SYSTEM RESET min_dynamic_shared_memory"
		"ALTER SYSTEM RESET huge_pages")
	case $1 in
	per-backend)
		rr_psql -q "${sets[@]/#/-c}"
		[ "$(id -u)" -ne 0 ] || echo "${saved_nr_pages:-0}" >"$nr_hugepages" || true
		preload 0
		return 0 ;;
	4k) ;;
	thp-sysv) sets+=("ALTER SYSTEM SET dynamic_shared_memory_type = sysv") ;;
	thp-main) sets+=("ALTER SYSTEM SET min_dynamic_shared_memory = '$((copy_mb + 256))MB'" "ALTER SYSTEM SET huge_pages = off") ;;
	hugetlb) sets+=("ALTER SYSTEM SET min_dynamic_shared_memory = '$((copy_mb + 256))MB'" "ALTER SYSTEM SET huge_pages = on") ;;
	esac
	# the kernel: transparent huge pages for shared memory only where wanted
	case $1 in
	thp-*) set_thp advise || [[ "$(thp_mode)" =~ ^(always|within_size|force)$ ]] ||
		{ echo "$1: skipped, shmem_enabled is $(thp_mode) and cannot be set (not root)"; return 1; } ;;
	*) set_thp "$initial_thp" || true ;;
	esac
	local args=()
	for q in "${sets[@]}" "ALTER SYSTEM SET shared_preload_libraries = 'rerank'" 		"ALTER SYSTEM SET rerank.model_cache_mb = 16" "ALTER SYSTEM SET rerank.category_cache_mb = 16"; do
		args+=(-c "$q")
	done
	rr_psql -q "${args[@]}"
	rr_as_owner "$RR_PG_BINDIR/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
	if [ "$1" = hugetlb ]; then
		need=$(rr_as_owner "$RR_PG_BINDIR/postgres" -D "$data" -C shared_memory_size_in_huge_pages)
		[ "$(id -u)" -eq 0 ] && [ "$(cat "$nr_hugepages")" -lt "$need" ] &&
			{ echo "$need" >"$nr_hugepages" || true; }
		have=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
		if [ "$have" -lt "$need" ]; then
			echo "hugetlb: skipped, $need huge pages needed, $have free (vm.nr_hugepages $(cat "$nr_hugepages"))"
			pages_reset_stopped "$data"
			return 1
		fi
	elif [ "$(id -u)" -eq 0 ]; then
		echo "${saved_nr_pages:-0}" >"$nr_hugepages" || true
	fi
	rr_as_owner "$RR_PG_BINDIR/pg_ctl" -D "$data" -l "$RR_CLUSTER_DIR/server.log" -w -t 60 start >/dev/null ||
		{ tail -20 "$RR_CLUSTER_DIR/server.log" >&2; rr_die "the server did not start with $1"; }
}
# Puts the page settings of a stopped cluster back and starts it.
pages_reset_stopped() {
	rr_as_owner sed -i '/^\(dynamic_shared_memory_type\|min_dynamic_shared_memory\|huge_pages\) /d' "$1/postgresql.auto.conf"
	rr_as_owner "$RR_PG_BINDIR/pg_ctl" -D "$1" -l "$RR_CLUSTER_DIR/server.log" -w -t 60 start >/dev/null
}

if [ "$pages" = 1 ]; then
	echo
	rr_psql -q <<SQL
SELECT rerank.create_model('floor', $dims) AS floor_id \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias)
SELECT :floor_id, item_id, factors, bias FROM rerank.item_factors
 WHERE model_id = rerank.model_id('bench') AND item_id IN (SELECT generate_series(7, $items, $((items / 500))));
INSERT INTO rerank.user_factors (model_id, user_id, factors)
SELECT :floor_id, user_id, factors FROM rerank.user_factors
 WHERE model_id = rerank.model_id('bench') AND user_id = 42;
SQL
	saved_thp_mode=$(thp_mode)
	saved_nr_pages=$(cat "$nr_hugepages")
	configs=(${RR_BENCH_PAGE_CONFIGS:-per-backend 4k thp-sysv thp-main hugetlb})
	rr_log "5. the served copy on 4 kB and on 2 MB pages (${configs[*]}), $rounds rounds alternated"
	need_memory $((copy_mb * 3)) "the pages phase"
	declare -A pg_first pg_second pg_floor pg_p50 pg_p99 pg_cpu1 pg_cpu2 pg_huge
	for ((r = 1; r <= rounds; r++)); do
		for cfg in "${configs[@]}"; do
			pages_config "$cfg" || continue
			huge=-
			if [ "$cfg" = per-backend ]; then
				first=- second=- floor=-
			else
				build=$(psql -X -At -c '\timing on' -c "SELECT rerank.warm_model('bench')" | awk '/^Time:/ { print $2 }')
				psql -X -At -c "$call" >/dev/null
				huge=$(rr_psql -At -c "SELECT string_agg(kind || ' ' || coalesce(huge_pages::text, '?'), ', ' ORDER BY kind)
				                        FROM rerank.model_memory WHERE state = 'ready'")
				fc=$(first_calls)
				first=$(echo "$fc" | awk '{ print $1 }' | sort -n | sed -n 3p)
				second=$(echo "$fc" | awk '{ print $2 }' | sort -n | sed -n 3p)
				psql -X -At -c "SELECT rerank.warm_model('floor')" -c "$floor_call" >/dev/null
				floor=$(first_calls "$floor_call" | awk '{ print $1 }' | sort -n | sed -n 3p)
			fi
			# per backend, the new connection first loads its copy
			bench 1 $((seconds + $([ "$cfg" = per-backend ] && echo 15 || echo 5))) "$rate" "$work/pages.$cfg.$r"
			read -r _ p50 p99 _ <<<"$(latency "$work/pages.$cfg.$r" rerank 5)"
			read -r cpu1 cpu2 <<<"$(cpu_per_call)"
			echo "round $r, $cfg: huge pages: $huge; first call $first ms, second $second ms, first call on the 500-item model $floor ms (medians of 5 new connections$([ "$cfg" = per-backend ] || echo "; built in $build ms")); at $rate calls/s p50 $p50 ms, p99 $p99 ms; CPU per call, a new backend's first 1,600 calls $cpu1 us, next 1,600 $cpu2 us"
			pg_first[$cfg]+="$first " pg_second[$cfg]+="$second " pg_p50[$cfg]+="$p50 " pg_p99[$cfg]+="$p99 "
			pg_floor[$cfg]+="$floor "
			pg_cpu1[$cfg]+="$cpu1 " pg_cpu2[$cfg]+="$cpu2 " pg_huge[$cfg]=$huge
		done
	done
	set_thp "$saved_thp_mode" || true
	med() { echo "$1" | tr ' ' '\n' | awk '/^[0-9.]+$/' | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", v[int((NR + 1) / 2)]; else printf "-" }'; }
	echo
	echo "summary ($items items x $dims dims, 500 candidates, k = 20; medians over $rounds rounds of this run)"
	printf '%-12s %-26s %10s %10s %8s %11s %14s %9s %9s %16s\n' config "on huge pages" "first ms" "second ms" ratio "500-item ms" "p50 ms @$rate/s" "p99 ms" "p50/4k" "CPU us 1st/next"
	base=$(med "${pg_p50[4k]:-}")
	for cfg in "${configs[@]}"; do
		[ -n "${pg_p50[$cfg]:-}" ] || continue
		f=$(med "${pg_first[$cfg]}") s2=$(med "${pg_second[$cfg]}") p=$(med "${pg_p50[$cfg]}")
		printf '%-12s %-26s %10s %10s %8s %11s %14s %9s %9s %16s\n' "$cfg" "${pg_huge[$cfg]}" "$f" "$s2" \
			"$(awk -v a="$f" -v b="$s2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else printf "-" }')" \
			"$(med "${pg_floor[$cfg]}")" "$p" \
			"$(med "${pg_p99[$cfg]}")" "$(awk -v a="$p" -v b="$base" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }')" \
			"$(med "${pg_cpu1[$cfg]}")/$(med "${pg_cpu2[$cfg]}")"
	done
	exit 0
fi
pb_first_med=- pb_anon=- pb_r50=- pb_r99=- pb_bytes=0
if [ "$per_backend" = 1 ]; then
	echo
	rr_log "1. per-backend copies (no preload; rerank.model_cache_mb = $((copy_mb + 64)))"
	need_memory $((copy_mb * 3)) "the per-backend phase"
	echo "first and second call of 5 new connections (statement ms; the first loads the model):"
	pb_first=$(first_calls)
	echo "$pb_first" | sed 's/^/  /'
	pb_first_med=$(echo "$pb_first" | awk '{ print $1 }' | sort -n | sed -n 3p)
	read -r pb_anon pb_pte <<<"$(psql -X -At -c "$call" -c "$self_memory" | tail -1)"
	pb_bytes=$(psql -X -At -c "$call" -c "SELECT bytes FROM rerank.model_cache_info() WHERE serving" | tail -1)
	echo "a serving backend: model copy $((pb_bytes / 1048576)) MB, private memory $pb_anon MB, page tables $pb_pte MB"
	bench 1 $((seconds + 15)) "$rate" "$work/pb1r"
	read -r _ pb_r50 pb_r99 _ <<<"$(latency "$work/pb1r" rerank 5)"
	echo "one connection at $rate calls/s (after its load): p50 $pb_r50 ms, p99 $pb_r99 ms"
fi

echo
rr_log "2. one copy per server (the same data, restarted with shared_preload_libraries = 'rerank')"
need_memory $((copy_mb * 2 + max_clients * 16)) "the shared phase"
preload 1
build=$(psql -X -At -c '\timing on' -c "SELECT rerank.warm_model('bench')" | awk '/^Time:/ { print $2 }')
rr_psql -c "SELECT kind, name, state, pg_size_pretty(bytes) AS bytes, readers, round(build_seconds::numeric, 2) AS build_s
              FROM rerank.model_memory ORDER BY kind"
copy=$(rr_psql -At -c "$shared_mb")
[ "$(rr_psql -At -c "SELECT bool_and(shared) FROM rerank.model_memory WHERE name = 'bench'")" = t ] ||
	rr_die "the model is not held in shared memory"
echo "built once in $build ms: $copy MB in shared memory for $data_mb MB of data (vectors, ids, biases: $(awk -v a="$copy" -v b="$data_mb" 'BEGIN { printf "%.2f", a / b }')x)"
# the catalog too, so every connection below finds both ready
psql -X -At -c "$call" >/dev/null

declare -A sh_p50 sh_p99 sh_all sh_anon sh_pte sh_n
for c in "${connections[@]}"; do
	# every connection's first call at once, from new backends
	t0=$(date +%s.%N)
	pgbench -n -M prepared -c "$c" -j $((c < 2 ? 1 : 2)) -t 1 "${defs[@]}" -f "$work/rerank.00.sql" >/dev/null 2>&1
	sh_all[$c]=$(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.2f", t1 - t0 }')
	# latency at a fixed total rate, after a warm-up; memory half way
	( sleep $((seconds / 2 + 5)); backend_memory >"$work/mem.$c" ) &
	bench "$c" $((seconds + 5)) "$rate" "$work/sh$c"
	wait
	read -r _ sh_p50[$c] sh_p99[$c] _ <<<"$(latency "$work/sh$c" rerank 5)"
	read -r sh_n[$c] anon pte <"$work/mem.$c"
	sh_anon[$c]=$(awk -v a="$anon" -v n="${sh_n[$c]}" 'BEGIN { printf "%.1f", n ? a / n : 0 }')
	sh_pte[$c]=$(awk -v a="$pte" -v n="${sh_n[$c]}" 'BEGIN { printf "%.2f", n ? a / n : 0 }')
	grep -E "aborted|error" "$work/sh$c/pgbench.out" >&2 || true
	echo "$c connections: all answered once within ${sh_all[$c]} s; at $rate calls/s p50 ${sh_p50[$c]} ms, p99 ${sh_p99[$c]} ms; per backend ${sh_anon[$c]} MB private, ${sh_pte[$c]} MB page tables; shared copy $(rr_psql -At -c "$shared_mb") MB"
done
echo "first and second call of 5 new connections (statement ms):"
sh_first=$(first_calls)
echo "$sh_first" | sed 's/^/  /'
sh_first_med=$(echo "$sh_first" | awk '{ print $1 }' | sort -n | sed -n 3p)
read -r sh_anon1 sh_pte1 <<<"$(psql -X -At -c "$call" -c "$self_memory" | tail -1)"

if [ "$activation" = 1 ]; then
	rr_log "3. activating a new version of $items items under 50 connections"
	need_memory $((copy_mb * 2)) "the activation"
	act_seconds=$((seconds < 20 ? 20 : seconds))
	( sleep 5
	  psql -X -At -c '\timing on' -c "SELECT rerank.activate_model('bench_v2')" |
		awk '/^Time:/ { print $2 }' >"$work/activation.ms" ) &
	act_job=$!
	( end=$((SECONDS + act_seconds)); peak=0
	  while [ $SECONDS -lt $end ]; do
		m=$(rr_psql -At -c "$shared_mb" 2>/dev/null || echo 0)
		peak=$(awk -v a="$m" -v b="$peak" 'BEGIN { print (a > b) ? a : b }')
		echo "$peak" >"$work/peak.mb"
		sleep 0.1
	  done ) &
	peak_job=$!
	bench 50 "$act_seconds" "$rate" "$work/act"
	wait "$act_job" "$peak_job" || true
	read -r act_calls act_p50 act_p99 act_max <<<"$(latency "$work/act" rerank)"
	slow=$(cat "$work/act"/log.* | awk '$3 > 1000000' | wc -l)
	aborted=$(grep -Ec "aborted|error" "$work/act/pgbench.out" || true)
	served=$(rr_psql -At -c "SELECT rerank.active_model()")
	echo "activation took $(cat "$work/activation.ms") ms (it builds the new version before it commits); $served serves"
	echo "50 connections at $rate calls/s, $act_calls calls: p50 $act_p50 ms, p99 $act_p99 ms, slowest $act_max ms, calls over 1 s: $slow, errors: $aborted"
	echo "versions held in shared memory at the peak: $(cat "$work/peak.mb") MB (one copy: $copy MB)"
	rr_psql -q -c "SELECT rerank.rollback_model()" >/dev/null
fi

ab=""
if [ "$per_backend" = 1 ]; then
	rr_log "4. one connection flat out and the server CPU per call, per backend against shared, $rounds rounds alternated"
	for ((r = 1; r <= rounds; r++)); do
		preload 0
		bench 1 $((seconds + 15)) 0 "$work/ab_pb$r"
		read -r _ p_pb _ _ <<<"$(latency "$work/ab_pb$r" rerank 5)"
		read -r _ s_pb _ _ <<<"$(latency "$work/ab_pb$r" select1 5)"
		read -r f_pb c_pb <<<"$(cpu_per_call)"
		preload 1
		rr_psql -q -c "SELECT rerank.warm_model('bench')" >/dev/null
		bench 1 $((seconds + 15)) 0 "$work/ab_sh$r"
		read -r _ p_sh _ _ <<<"$(latency "$work/ab_sh$r" rerank 5)"
		read -r _ s_sh _ _ <<<"$(latency "$work/ab_sh$r" select1 5)"
		read -r f_sh c_sh <<<"$(cpu_per_call)"
		line=$(awk -v a="$p_pb" -v b="$p_sh" -v c="$c_pb" -v d="$c_sh" -v e="$s_pb" -v f="$s_sh" \
			-v g="$f_pb" -v h="$f_sh" \
			'BEGIN { printf "p50 %.3f / %.3f ms (%.2fx; SELECT 1 %.3f / %.3f), CPU per call warm %.1f / %.1f us (%.2fx), first 1,600 calls of a backend %.1f / %.1f us", a, b, b / a, e, f, c, d, d / c, g, h }')
		echo "round $r, per backend / shared: $line"
		ab="$ab$(awk -v a="$p_pb" -v b="$p_sh" -v c="$c_pb" -v d="$c_sh" 'BEGIN { printf "%.3f %.3f %.3f %.3f", a, b, b / a, d / c }')"$'\n'
	done
fi

echo
echo "summary ($items items x $dims dims, $users users, 500 candidates, k = 20; this run)"
printf '%-62s %s\n' "model in memory, one copy (per backend / per server)" "$((pb_bytes / 1048576)) MB / $copy MB ($(awk -v a="$copy" -v b="$data_mb" 'BEGIN { printf "%.2f", a / b }')x its $data_mb MB of data)"
printf '%-62s %s\n' "private memory of a serving backend: per backend / shared" "$pb_anon / $sh_anon1 MB"
printf '%-62s %s\n' "first call of a new connection (median of 5): per backend" "$pb_first_med ms"
printf '%-62s %s\n' "first call of a new connection (median of 5): shared" "$sh_first_med ms"
if [ -n "$ab" ]; then
	printf '%-62s %s\n' "one connection flat out, p50 per backend / shared (rounds)" \
		"$(echo "$ab" | awk 'NF { printf "%s%.3f/%.3f", n++ ? ", " : "", $1, $2 }') ms"
	printf '%-62s %s\n' "ratio shared / per backend: p50, server CPU per call warm (median)" \
		"$(echo "$ab" | awk 'NF { print $3 }' | sort -n | awk '{ v[NR] = $1 } END { printf "%.2fx", v[int((NR + 1) / 2)] }'), $(echo "$ab" | awk 'NF { print $4 }' | sort -n | awk '{ v[NR] = $1 } END { printf "%.2fx", v[int((NR + 1) / 2)] }')"
	printf '%-62s %s\n' "first call shared / shared p50 (median)" \
		"$(echo "$ab" | awk 'NF { print $2 }' | sort -n | awk -v f="$sh_first_med" '{ v[NR] = $1 } END { printf "%.1fx", f / v[int((NR + 1) / 2)] }')"
fi
printf '%-62s %s\n' "one connection at $rate calls/s, per backend: p50 / p99" "$pb_r50 / $pb_r99 ms"
for c in "${connections[@]}"; do
	printf '%-62s %s\n' "$c connections at $rate calls/s, shared: all answered / p50 / p99" \
		"${sh_all[$c]} s / ${sh_p50[$c]} ms / ${sh_p99[$c]} ms"
	printf '%-62s %s\n' "  per backend: private memory + page tables" "${sh_anon[$c]} MB + ${sh_pte[$c]} MB"
done
if [ "$activation" = 1 ]; then
	printf '%-62s %s\n' "activation under 50 connections: its time / slowest call" "$(cat "$work/activation.ms") ms / $act_max ms ($slow calls over 1 s, $aborted errors)"
	printf '%-62s %s\n' "versions in shared memory at the peak" "$(cat "$work/peak.mb") MB = $(awk -v a="$(cat "$work/peak.mb")" -v b="$copy" 'BEGIN { printf "%.2f", a / b }') copies"
fi
