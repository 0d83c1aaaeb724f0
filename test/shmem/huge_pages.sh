#!/usr/bin/env bash
# The served copy on huge pages answers as the tables do.  A cluster of its
# own (rerank preloaded) is restarted with each way of putting shared
# snapshots on 2 MB pages: System V segments and PostgreSQL's main region
# (min_dynamic_shared_memory) with transparent huge pages (shmem_enabled =
# advise), the main region on hugetlb pages (huge_pages = on,
# vm.nr_hugepages), and a main region too small for the model (its segment
# falls back to a segment of its own).  In each, rerank() of several users
# from shared memory must equal rerank() read from the tables
# (rerank.model_cache_mb = 0), and rerank.model_memory must say the model is
# on huge pages where the kernel was told to give them.  Needs root for the
# kernel settings, which are put back on exit whatever happens; skips
# otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/common.sh"
thp=/sys/kernel/mm/transparent_hugepage/shmem_enabled
nr=/proc/sys/vm/nr_hugepages

if [ "$(id -u)" -ne 0 ]; then
	echo "huge_pages.sh: skipped: setting shmem_enabled and vm.nr_hugepages needs root"
	exit 0
fi
if [ ! -w "$thp" ] || [ ! -w "$nr" ]; then
	echo "huge_pages.sh: skipped: this kernel has no $thp or $nr to set"
	exit 0
fi
thp_mode() { sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp"; }
saved_thp=$(thp_mode)
saved_nr=$(cat "$nr")
# runs before the cluster is stopped and its files removed (rr_on_exit)
restore() {
	echo "$saved_thp" >"$thp" 2>/dev/null || true
	echo "$saved_nr" >"$nr" 2>/dev/null || true
	rr_on_exit
	[ "$(thp_mode)" = "$saved_thp" ] && [ "$(cat "$nr")" = "$saved_nr" ] ||
		echo "huge_pages.sh: could not put back shmem_enabled ($saved_thp) and vm.nr_hugepages ($saved_nr)" >&2
}
if ! echo advise >"$thp" 2>/dev/null || [ "$(thp_mode)" != advise ]; then
	echo "$saved_thp" >"$thp" 2>/dev/null || true
	echo "huge_pages.sh: skipped: shmem_enabled cannot be set to advise here"
	exit 0
fi
echo "$saved_thp" >"$thp"

# a cluster of its own (the suite's keeps running): same port number, its
# own socket directory
rr_cluster_start rerank-hugepages "shared_preload_libraries = 'rerank'" "rerank.model_cache_mb = 16"
trap restore EXIT
data=$RR_CLUSTER_DIR/data

# 60,000 items × 32 dimensions (an 11 MB snapshot: several 2 MB pages),
# categories, users with histories and category weights
rr_psql -q <<'SQL'
CREATE EXTENSION rerank;
SELECT rerank.create_model('huge', 32) AS model_id \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias)
SELECT :model_id, i,
       (SELECT array_agg((((hashint4(i * 131 + d) % 1000) / 1000.0) * 0.3)::real ORDER BY d)
          FROM generate_series(1, 32) d),
       ((hashint4(i) % 100) / 1000.0)::real
  FROM generate_series(1, 60000) i;
INSERT INTO rerank.user_factors (model_id, user_id, factors)
SELECT :model_id, u,
       (SELECT array_agg((((hashint4(u * 7 + d) % 1000) / 1000.0) * 0.3)::real ORDER BY d)
          FROM generate_series(1, 32) d)
  FROM generate_series(1, 50) u;
INSERT INTO rerank.items (item_id, category)
SELECT i, 'c' || (hashint4(i * 3) & 15) FROM generate_series(1, 60000) i;
INSERT INTO rerank.user_features (user_id, recent_items, recent_weights, category_weights)
SELECT u,
       (SELECT array_agg(1 + (hashint4(u * 1000 + j) & 2147483647) % 60000 ORDER BY j)
          FROM generate_series(1, 10) j),
       (SELECT array_agg((1 + j % 4)::real ORDER BY j) FROM generate_series(1, 10) j),
       (SELECT jsonb_object_agg('c' || ((u + j * 7) & 15), j) FROM generate_series(1, 4) j)
  FROM generate_series(1, 50) u;
SELECT rerank.activate_model('huge');
SQL
# 50 users, 300 candidates each, spread over the whole catalog
answers="SELECT string_agg(u || ':' || r.item_id || ':' || r.rank || ':' || round(r.score::numeric, 5), ' '
                             ORDER BY u, r.rank)
           FROM generate_series(1, 50) u,
                LATERAL rerank.rerank(u, (SELECT array_agg(1 + (hashint4(u * 31 + j) & 2147483647) % 60000)
                                            FROM generate_series(1, 300) j), k => 20) r"
tables=$(rr_psql -At -c "SET rerank.model_cache_mb = 0" -c "$answers")
[ -n "$tables" ] || rr_die "no answers from the tables"

failed=0
# Restarts with a configuration ($1: name, $2: shmem_enabled, $3
# want_huge: 1 the view must say huge pages, 2 it must not, 0 either; the
# rest: settings), then checks the answers and the view.
check() {
	local name=$1 mode=$2 want_huge=$3 settings=() memory got
	shift 3
	local s
	for s in "$@"; do settings+=(-c "ALTER SYSTEM SET $s"); done
	rr_psql -q -c "ALTER SYSTEM RESET dynamic_shared_memory_type" \
		-c "ALTER SYSTEM RESET min_dynamic_shared_memory" -c "ALTER SYSTEM RESET huge_pages" \
		"${settings[@]}"
	echo "$mode" >"$thp"
	rr_as_owner "$RR_PG_BINDIR/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
	if [[ " $* " == *" huge_pages = on "* ]]; then
		local need
		need=$(rr_as_owner "$RR_PG_BINDIR/postgres" -D "$data" -C shared_memory_size_in_huge_pages)
		echo "$((saved_nr + need))" >"$nr"
		if [ "$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)" -lt "$need" ]; then
			echo "$name: skipped: the kernel gave fewer than $need huge pages"
			reset_start
			return 0
		fi
	fi
	rr_as_owner "$RR_PG_BINDIR/pg_ctl" -D "$data" -l "$RR_CLUSTER_DIR/server.log" -w -t 60 start >/dev/null ||
		{ tail -20 "$RR_CLUSTER_DIR/server.log"; rr_die "$name: the server did not start"; }
	got=$(rr_psql -At -c "$answers")
	# the model and the catalog (the item signals' snapshot is empty here)
	memory=$(rr_psql -At -c "SELECT string_agg(kind || ' ' || state || ' ' || huge_pages, ', ' ORDER BY kind)
	                           FROM rerank.model_memory WHERE kind IN ('model', 'item catalog')")
	if [ "$got" != "$tables" ]; then
		echo "$name: rerank() from shared memory differs from the tables ($memory):"
		diff <(tr ' ' '\n' <<<"$tables") <(tr ' ' '\n' <<<"$got") | head -10
		failed=1
	elif [ "$want_huge" = 1 ] && [ "$memory" != "item catalog ready true, model ready true" ]; then
		echo "$name: the same answers as the tables, but not on huge pages: $memory"
		failed=1
	elif [ "$want_huge" = 2 ] && [ "$memory" != "item catalog ready false, model ready false" ]; then
		echo "$name: the same answers as the tables, but said to be on huge pages: $memory"
		failed=1
	else
		echo "$name: the same answers as the tables ($memory)"
	fi
}
# Puts the default page settings back in a stopped cluster and starts it.
reset_start() {
	rr_as_owner sed -i '/^\(dynamic_shared_memory_type\|min_dynamic_shared_memory\|huge_pages\) /d' \
		"$data/postgresql.auto.conf"
	rr_as_owner "$RR_PG_BINDIR/pg_ctl" -D "$data" -l "$RR_CLUSTER_DIR/server.log" -w -t 60 start >/dev/null
}

check "System V segments, THP advise" advise 1 "dynamic_shared_memory_type = sysv"
check "main region, THP advise" advise 1 "min_dynamic_shared_memory = '64MB'" "huge_pages = off"
check "main region on hugetlb pages" "$saved_thp" 1 "min_dynamic_shared_memory = '64MB'" "huge_pages = on"
# 2 MB of main region: the model's segment is a POSIX one of its own
check "main region too small (fallback)" advise 0 "min_dynamic_shared_memory = '2MB'" "huge_pages = off"
check "System V segments, THP never" never 2 "dynamic_shared_memory_type = sysv"
exit "$failed"
