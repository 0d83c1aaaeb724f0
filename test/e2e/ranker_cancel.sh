#!/usr/bin/env bash
# train_ranker() reports progress as NOTICE lines; a cancel from another
# session stops it while it replays the log and while XGBoost boosts,
# within a fraction of a second, leaving the registry as it was and the
# backend's memory as it was (PostgreSQL's contexts, and XGBoost's own
# allocations: a second cancelled training does not grow the backend).
# Runs against the cluster of test/run_tests.sh.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

db=rerank_ranker_cancel
rr_scratch_dbs "$db"
createdb "$db"
out=$(mktemp /tmp/rerank-ranker-cancel.XXXXXX)
rr_scratch_path "$out" "$out.sql"
rr_psql -d "$db" <<'SQL'
CREATE EXTENSION rerank;
INSERT INTO rerank.items SELECT i, 'c' || (i % 20) FROM generate_series(1, 3000) i;
-- 3,000 users x 60 events over two weeks: 180,000 events
CREATE TABLE ev AS
SELECT u::bigint AS user_id, (1 + (u % 20) + 20 * ((u * 7 + j * j) % 150))::bigint AS item_id,
       (ARRAY['view', 'view', 'click', 'cart'])[1 + (u + j) % 4] AS event_type,
       timestamptz '2026-02-01 00:00+00' + (u * 400 + j * 1800 + (j / 6) * 7200) * interval '1 second' AS at
  FROM generate_series(1, 3000) u, generate_series(1, 60) j;
SQL

# progress: what was read and replayed, every tenth round, the held-out metrics
notices=$(rr_psql -d "$db" -c "CALL rerank.train_ranker('small', 'ev', time_column => 'at', trees => 20, max_groups => 2000)" 2>&1)
for pattern in 'read 180000 events of 3000 users \(3000 sampled\), 3000 items in [0-9.]+ s' \
	'replayed [0-9]+ groups \([0-9]+ rows; [0-9]+ held out\) in [0-9.]+ s' \
	'round 10 of 20, [0-9.]+ s' 'held-out NDCG@10 [0-9.]+ \(the blend [0-9.]+\)' \
	'trained in [0-9.]+ s'; do
	echo "$notices" | grep -Eq "$pattern" ||
		{ echo "$notices" >&2; echo "ranker cancel: no NOTICE matching: $pattern" >&2; exit 1; }
done
read_s=$(echo "$notices" | sed -nE 's/.* items in ([0-9.]+) s.*/\1/p')
replay_s=$(echo "$notices" | sed -nE 's/.*replayed .* in ([0-9.]+) s.*/\1/p')

# One session: the memory after a first training (XGBoost loaded), then
# after a training cancelled while replaying, and after each of three
# cancelled while boosting.  Another session
# cancels: CALL rerank.train_ranker('long' … is found in pg_stat_activity.
cat >"$out.sql" <<'SQL'
\set ON_ERROR_STOP 0
SET client_min_messages = warning;
CALL rerank.train_ranker('warm', 'ev', time_column => 'at', trees => 2, max_groups => 200);
SELECT 'memory', sum(total_bytes), (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\s+(\d+)'))[1]
  FROM pg_backend_memory_contexts;
CALL rerank.train_ranker('long', 'ev', time_column => 'at', trees => 5000, max_groups => 20000);
SELECT 'memory', sum(total_bytes), (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\s+(\d+)'))[1]
  FROM pg_backend_memory_contexts;
CALL rerank.train_ranker('long', 'ev', time_column => 'at', trees => 5000, max_groups => 20000);
SELECT 'memory', sum(total_bytes), (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\s+(\d+)'))[1]
  FROM pg_backend_memory_contexts;
CALL rerank.train_ranker('long', 'ev', time_column => 'at', trees => 5000, max_groups => 20000);
SELECT 'memory', sum(total_bytes), (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\s+(\d+)'))[1]
  FROM pg_backend_memory_contexts;
CALL rerank.train_ranker('long', 'ev', time_column => 'at', trees => 5000, max_groups => 20000);
SELECT 'memory', sum(total_bytes), (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\s+(\d+)'))[1]
  FROM pg_backend_memory_contexts;
SQL
before=$(rr_psql -d "$db" -At -c "SELECT count(*) || ':' || coalesce(sum(factors_version), 0) FROM rerank.models")
psql -X -At -d "$db" -f "$out.sql" >"$out" 2>&1 &
job=$!

# cancels the CALL of 'long' in progress after delay seconds; prints the
# ms until that statement (its backend and start time) stopped
cancel_after() {
	local delay=$1 found= pid qs start
	for _ in $(seq 1 600); do
		found=$(rr_psql -d "$db" -At -F ' ' -c "SELECT pid, query_start FROM pg_stat_activity WHERE query LIKE 'CALL rerank.train_ranker(''long''%' AND state = 'active'")
		[ -n "$found" ] && break
		sleep 0.05
	done
	[ -n "$found" ] || { echo "ranker cancel: the training did not start" >&2; exit 1; }
	pid=${found%% *}
	qs=${found#* }
	sleep "$delay"
	start=$(date +%s%N)
	rr_psql -d "$db" -At -c "SELECT pg_cancel_backend($pid)" >/dev/null
	while [ -n "$(rr_psql -d "$db" -At -c "SELECT 1 FROM pg_stat_activity WHERE pid = $pid AND query_start = '$qs' AND state = 'active'")" ]; do
		sleep 0.005
	done
	echo $(( ($(date +%s%N) - start) / 1000000 ))
}
# while reading and replaying the log (0.3 s in), then while boosting: well
# after the reading and the replay of ten times as many groups as above
boost_delay=$(awk -v r="$read_s" -v s="$replay_s" 'BEGIN { print 2 * r + 20 * s + 3 }')
replaying=$(cancel_after 0.3)
boosting=$(cancel_after "$boost_delay")
boosting2=$(cancel_after "$boost_delay")
boosting3=$(cancel_after "$boost_delay")
wait "$job" || true

grep -c 'canceling statement due to user request' "$out" | grep -qx 4 ||
	{ cat "$out" >&2; echo "ranker cancel: not cancelled four times" >&2; exit 1; }
after=$(rr_psql -d "$db" -At -c "SELECT count(*) - 1 || ':' || coalesce(sum(factors_version) FILTER (WHERE name <> 'warm'), 0) FROM rerank.models")
[ "$before" = "$after" ] || { echo "ranker cancel: registry changed ($before -> $after, the warm-up model aside)" >&2; exit 1; }
mapfile -t mem < <(grep '^memory|' "$out" | cut -d'|' -f2,3)
[ ${#mem[@]} -eq 5 ] || { cat "$out" >&2; echo "ranker cancel: memory not read" >&2; exit 1; }
ctx0=${mem[0]%|*} ctx1=${mem[1]%|*} ctx2=${mem[2]%|*} ctx3=${mem[3]%|*} ctx4=${mem[4]%|*}
rss2=${mem[2]#*|} rss3=${mem[3]#*|} rss4=${mem[4]#*|}
# PostgreSQL's memory back to what it was (within 1 MB) after each cancel.
# XGBoost's is freed to malloc, which may or may not give it back to the
# kernel (it kept a whole boosting's worth after a cancel in about half the
# runs, once, and then part of another once more): a leak grows the
# backend by the same amount at every cancel, so the test fails when both
# later cancels while boosting grew it by more than 10% of its size and the
# second by at least half as much as the first.
for c in "$ctx1" "$ctx2" "$ctx3" "$ctx4"; do
	[ $((c - ctx0)) -lt 1048576 ] ||
		{ echo "ranker cancel: memory contexts grew: $ctx0 -> $ctx1 -> $ctx2 -> $ctx3 -> $ctx4 bytes" >&2; exit 1; }
done
grew1=$((rss3 - rss2)) grew2=$((rss4 - rss3))
if [ "$grew1" -gt $((rss2 / 10)) ] && [ "$grew2" -gt $((rss2 / 10)) ] && [ "$grew2" -ge $((grew1 / 2)) ]; then
	echo "ranker cancel: the backend grew alike at every cancel while boosting: $rss2 -> $rss3 -> $rss4 kB" >&2
	exit 1
fi
for ms in "$replaying" "$boosting" "$boosting2" "$boosting3"; do
	[ "$ms" -lt 1000 ] || { echo "ranker cancel: took $ms ms to stop" >&2; exit 1; }
done
echo "ranker cancel: progress NOTICEs ok; cancelled while replaying in $replaying ms, while boosting in $boosting, $boosting2 and $boosting3 ms; registry unchanged, memory contexts back ($ctx0 -> $ctx4 bytes), no like growth at every boosting cancel (RssAnon $rss2 -> $rss3 -> $rss4 kB)"
