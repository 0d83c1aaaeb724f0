#!/usr/bin/env bash
# Training reports progress as NOTICE lines, and a cancel from another
# session (pg_cancel_backend) stops it within a fraction of a second,
# leaving the registry as it was.  Runs against the cluster of
# test/run_tests.sh.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

db=rerank_training_cancel
rr_scratch_dbs "$db"
createdb "$db"
rr_psql -d "$db" <<'SQL'
CREATE EXTENSION rerank;
CREATE TABLE ev AS
SELECT u::bigint AS user_id, ((u * 7 + j * 13) % 2000)::bigint AS item_id
  FROM generate_series(1, 2000) u, generate_series(1, 20) j;
SQL

# progress: one NOTICE per iteration with the loss and the seconds
notices=$(rr_psql -d "$db" -c "CALL rerank.train_als('small', 'ev', factors => 8, iterations => 3)" 2>&1)
echo "$notices" | grep -q 'read 40000 rows: 2000 users, 2000 items' ||
	{ echo "$notices" >&2; echo "training cancel: no read NOTICE" >&2; exit 1; }
for i in 1 2 3; do
	echo "$notices" | grep -Eq "iteration $i of 3, loss [0-9.]+, [0-9.]+ s" ||
		{ echo "$notices" >&2; echo "training cancel: no NOTICE for iteration $i" >&2; exit 1; }
done
echo "training cancel: progress NOTICEs ok"

# cancel_training LABEL CALL WAIT [NOTICE]: runs CALL in another session,
# cancels it WAIT seconds after it started (and, when given, after the
# NOTICE it prints once it reads its source), checks that it stopped within
# a second with the registry unchanged, and prints how long it took.
cancel_training() {
	local label=$1 call=$2 wait=$3 notice=${4:-} out=/tmp/rerank-cancel.$$ before after pid job start ms
	before=$(rr_psql -d "$db" -At -c "SELECT count(*) || ':' || coalesce(sum(factors_version), 0) FROM rerank.models")
	psql -X -d "$db" -c "$call" >"$out" 2>&1 &
	job=$!
	pid=
	for _ in $(seq 1 100); do
		pid=$(rr_psql -d "$db" -At -v call="$call" <<<"SELECT pid FROM pg_stat_activity WHERE query = :'call' AND state = 'active'")
		[ -n "$pid" ] && break
		sleep 0.1
	done
	[ -n "$pid" ] || { echo "training cancel: $label did not start" >&2; exit 1; }
	sleep "$wait"
	start=$(date +%s%N)
	rr_psql -d "$db" -At -c "SELECT pg_cancel_backend($pid)" >/dev/null
	wait "$job" || true
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	grep -q 'canceling statement due to user request' "$out" ||
		{ cat "$out" >&2; rm -f "$out"; echo "training cancel: $label not cancelled" >&2; exit 1; }
	[ -z "$notice" ] || grep -q "$notice" "$out" ||
		{ cat "$out" >&2; rm -f "$out"; echo "training cancel: $label cancelled too early" >&2; exit 1; }
	rm -f "$out"
	after=$(rr_psql -d "$db" -At -c "SELECT count(*) || ':' || coalesce(sum(factors_version), 0) FROM rerank.models")
	[ "$before" = "$after" ] || { echo "training cancel: $label changed the registry ($before -> $after)" >&2; exit 1; }
	[ "$ms" -lt 1000 ] || { echo "training cancel: $label took $ms ms to stop" >&2; exit 1; }
	echo "training cancel: $label cancelled in $ms ms, registry unchanged"
}

# a long ALS training, cancelled from another session once it is iterating
cancel_training "ALS (iterating)" \
	"CALL rerank.train_als('long', 'ev', factors => 256, iterations => 10000)" 1

# a user-kNN training, cancelled while it searches neighbors (it takes
# several seconds: every item has 1,600 users; the read a fraction of one)
rr_psql -d "$db" <<'SQL'
CREATE TABLE uk_ev AS
SELECT u::bigint AS user_id, ((u * 7 + j * 13) % 500)::bigint AS item_id
  FROM generate_series(1, 8000) u, generate_series(1, 100) j;
SQL
cancel_training "user-kNN (searching neighbors)" \
	"CALL rerank.train_user_knn('uk_long', 'uk_ev', neighbors => 100)" 1.5 'read 800000 rows'
