#!/usr/bin/env bash
# A backend killed in the middle of building a shared version: with
# pg_terminate_backend, the backend waiting for that build takes it over
# and the killed build leaves no segment behind; with SIGKILL, the server
# restarts (crash recovery) and the next build starts afresh.  Either way
# exactly one copy of the version ends up in shared memory.  Needs a server
# that preloads rerank (test/run_tests.sh shmem starts one).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/common.sh"
db=rerank_build_kill
rr_scratch_dbs "$db"
createdb "$db"
export PGDATABASE=$db
[ "$(rr_psql -At -c "SHOW shared_preload_libraries")" = rerank ] ||
	rr_die "build_kill.sh needs a server with shared_preload_libraries = 'rerank'"
shm_type=$(rr_psql -At -c "SHOW dynamic_shared_memory_type")

rr_psql -c "CREATE EXTENSION rerank" >/dev/null
# 300,000 items × 32 dimensions: a build takes about a second
rr_psql >/dev/null <<'SQL'
SELECT rerank.create_model('killed', 32);
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('killed'), i, array_fill((i % 1000)::real, ARRAY[32])
  FROM generate_series(1, 300000) i;
SELECT rerank.activate_model('killed');
SQL

# Makes a new version of the model (not built yet).
bump() {
	rr_psql -c "UPDATE rerank.item_factors SET bias = bias + 1
	             WHERE model_id = rerank.model_id('killed') AND item_id = 1" >/dev/null
}
version() { rr_psql -At -c "SELECT factors_version FROM rerank.models WHERE name = 'killed'"; }
# state|builder_pid|bytes of the current version in shared memory
current() {
	rr_psql -At -c "SELECT m.state || '|' || coalesce(m.builder_pid, 0) || '|' || m.bytes
	                  FROM rerank.model_memory m JOIN rerank.models r ON r.model_id = m.object_id
	                 WHERE m.kind = 'model' AND r.name = 'killed' AND m.version = r.factors_version"
}
# Waits until the current version is being filled (its segment created) by
# the backend with application_name $1; prints that backend's pid.  (A
# backend killed by SIGKILL while PostgreSQL creates a segment, before it
# records it, can leave an orphaned file behind: dsm.c's limitation.)
wait_for_build() {
	local pid state
	for _ in $(seq 1 400); do
		pid=$(rr_psql -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$1'")
		state=$(current)
		if [ -n "$pid" ] && [ "$state" != "${state#filling|$pid|}" ]; then
			echo "$pid"
			return 0
		fi
		sleep 0.01
	done
	echo "no build by $1 seen (last state: $state)" >&2
	return 1
}
# How many dynamic shared memory segments have exactly $1 bytes.
segments_of() {
	[ "$shm_type" = posix ] || { echo 1; return; }
	find /dev/shm -maxdepth 1 -name 'PostgreSQL.*' -size "$1"c 2>/dev/null | wc -l
}
wait_for_server() {
	sleep 1
	for _ in $(seq 1 120); do
		psql -X -At -c "SELECT 1" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "the server did not come back"
	exit 1
}
fail() { echo "build_kill.sh: $*"; exit 1; }

# 1. pg_terminate_backend of the builder while it fills the segment; the
#    backend waiting for the build takes over
bump
expected=$(rr_psql -At -c "SELECT factors::text FROM rerank.item_factors
                            WHERE model_id = rerank.model_id('killed') AND item_id = 5")
out=$(mktemp); rr_scratch_path "$out"
PGAPPNAME=rr_builder psql -X -At -c "SELECT rerank.warm_model('killed')" >"$out.builder" 2>&1 &
builder_job=$!
builder=$(wait_for_build rr_builder)
PGAPPNAME=rr_waiter psql -X -At -c "SELECT rerank.item_vector(5, 'killed')" >"$out.waiter" 2>&1 &
waiter_job=$!
# the waiter queues on the build's lock (visible in pg_locks)
for _ in $(seq 1 200); do
	waiting=$(rr_psql -At -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	                           WHERE a.application_name = 'rr_waiter' AND l.locktype = 'advisory'
	                             AND l.objsubid = 82 AND NOT l.granted")
	[ "$waiting" = 1 ] && break
	sleep 0.01
done
[ "$waiting" = 1 ] || fail "the second backend did not queue on the build's lock"
state=$(current)
[ "${state%%|*}" = filling ] || fail "the build finished before the kill ($state); the test needs a slower build"
rr_psql -At -c "SELECT pg_terminate_backend($builder)" >/dev/null
wait "$builder_job" || true
wait "$waiter_job" || fail "the waiting backend failed: $(cat "$out.waiter")"
grep -q "terminating connection" "$out.builder" || fail "the builder was not terminated: $(cat "$out.builder")"
[ "$(cat "$out.waiter")" = "$expected" ] ||
	fail "the waiter served $(cat "$out.waiter"), expected $expected"
state=$(current)
[ "${state%%|*}" = ready ] || fail "after the kill the version is $state, not ready"
bytes=${state##*|}
n=$(segments_of "$bytes")
[ "$n" = 1 ] || fail "$n segments of $bytes bytes after a killed build (expected 1)"
echo "pg_terminate_backend during a build: the waiter built the version, one segment of $bytes bytes"

# 2. SIGKILL of the builder while it fills the segment: crash recovery, then
#    the next build
bump
PGAPPNAME=rr_builder psql -X -At -c "SELECT rerank.warm_model('killed')" >"$out.builder" 2>&1 &
builder_job=$!
builder=$(wait_for_build rr_builder)
rr_expect_kill "$builder"    # not a crash for the log check of run_tests.sh
kill -9 "$builder"
wait "$builder_job" || true
wait_for_server
state=$(current)
[ -z "$state" ] || fail "after the crash restart the registry still shows the version: $state"
got=$(rr_psql -At -c "SELECT rerank.item_vector(5, 'killed') = factors FROM rerank.item_factors
                       WHERE model_id = rerank.model_id('killed') AND item_id = 5")
[ "$got" = t ] || fail "after the crash restart the version serves other vectors"
state=$(current)
[ "${state%%|*}" = ready ] || fail "after the crash restart the next build left $state"
bytes=${state##*|}
n=$(segments_of "$bytes")
[ "$n" = 1 ] || fail "$n segments of $bytes bytes after a build killed by SIGKILL (expected 1)"
echo "SIGKILL during a build: crash recovery, the next build served, one segment of $bytes bytes"
