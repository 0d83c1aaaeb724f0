#!/usr/bin/env bash
# A backend killed with SIGKILL (the server then restarts every connection
# and recovers from WAL) in the middle of training, and in the middle of a
# stream of tracked events: afterwards the registry holds no half-written
# model, the active model is the one before, committed events are all
# there with exact counts, and every user's vector is still the fold-in of
# that user's stored history.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/common.sh"
source "$here/demo/pipeline.sh"
db=rerank_crash
rr_scratch_dbs "$db"
rr_tracked_shop "$db" before 3000 4000 300000 5 ", factors => 16, iterations => 3"
# the models with their vector counts
snapshot() {
	rr_psql -At -c "SELECT string_agg(name || ':' || model_id || ':' || is_active || ':' || factors_version
	                                  || ':' || (SELECT count(*) FROM rerank.item_factors f
	                                              WHERE f.model_id = m.model_id), ',' ORDER BY model_id)
	                  FROM rerank.models m"
}
registry=$(snapshot)

# Kills the backend whose application_name is $1 once it has worked $2 s.
kill_backend() {
	local pid=""
	for _ in $(seq 1 100); do
		pid=$(psql -X -At -d postgres -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$1' AND state = 'active'")
		[ -n "$pid" ] && break
		sleep 0.1
	done
	[ -n "$pid" ] || { echo "backend $1 not found"; exit 1; }
	sleep "$2"
	rr_expect_kill "$pid"    # not a crash for the log check of run_tests.sh
	kill -9 "$pid"
}
wait_for_server() {
	# the killed client returns at once; the postmaster reacts to its
	# child's death a moment later: let the crash restart begin first, so
	# the polling below cannot reach the old server in between
	sleep 1
	for _ in $(seq 1 120); do
		psql -X -At -d postgres -c "SELECT 1" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "the server did not come back"
	exit 1
}

# 1. training, killed in the middle of its iterations
PGAPPNAME=crash_train psql -X -q -c "CALL rerank.train_als('crashed', 'shop.training',
    weight_column => 'weight', factors => 64, iterations => 200, activate => true)" >/dev/null 2>&1 &
kill_backend crash_train 1.5
wait || true
wait_for_server
after=$(snapshot)
if [ "$after" != "$registry" ]; then
	echo "the registry (or a model's vectors) changed after a crash during training: $registry -> $after"
	exit 1
fi

# 2. tracked events, committed one by one, killed in the middle
rr_psql -c "CREATE TABLE shop.committed (n int)" >/dev/null
cat > /tmp/rerank-crash-stream.sql <<'SQL'
DO $$
BEGIN
    FOR i IN 1 .. 100000 LOOP
        INSERT INTO shop.events (user_id, item_id, event_type, occurred_at)
        VALUES (1 + i % 50, 1 + (i * 7919) % 4000, 'click', now());
        INSERT INTO shop.committed VALUES (i);
        COMMIT;
    END LOOP;
END
$$;
SQL
before_counts=$(rr_psql -At -c "SELECT coalesce(sum((event_counts->>'click')::bigint), 0) FROM rerank.user_features WHERE user_id BETWEEN 1 AND 50")
PGAPPNAME=crash_stream psql -X -q -f /tmp/rerank-crash-stream.sql >/dev/null 2>&1 &
kill_backend crash_stream 2
wait || true
rm -f /tmp/rerank-crash-stream.sql
wait_for_server
check=$(rr_psql -At <<SQL
SELECT (SELECT count(*) FROM shop.committed) > 0,
       -- every committed event counted exactly once
       (SELECT coalesce(sum((event_counts->>'click')::bigint), 0) FROM rerank.user_features
         WHERE user_id BETWEEN 1 AND 50) - $before_counts = (SELECT count(*) FROM shop.committed),
       -- and every vector is the fold-in of its stored history
       (SELECT bool_and(rerank.euclidean_distance(u.factors,
                            rerank.fold_in_history(f.recent_items, f.recent_weights))
                        <= 1e-4 * (1 + rerank.l2_norm(u.factors)))
          FROM rerank.user_features f
          JOIN rerank.user_factors u ON u.user_id = f.user_id
                                    AND u.model_id = rerank.model_id('before')
         WHERE f.user_id BETWEEN 1 AND 50),
       rerank.active_model() = 'before';
SQL
)
[ "$check" = "t|t|t|t" ] || { echo "state after a crash during the event stream: $check"; exit 1; }
echo "crash recovery: a backend killed during training and during tracked inserts left no half model, exact counts and consistent vectors"
