#!/usr/bin/env bash
# The replay of issue 11 on every data set (docs/benchmarks.md, "The replay protocol"):
# for MovieLens 100K (temporal split), the Taobao per-user histories (each
# user's last 20% streamed) and the synthetic shop, trains ALS on the
# history, seeds the user features, attaches the trigger and streams the
# later events through it in time order; before each event (at most N per
# data set, a deterministic sample) the touched item is ranked in the lists
# of three candidate generators by every strategy of
# test/demo/replay_strategies.sql.  Prints the tables and writes the CSV
# files and a report (charts) to the report directory.
#   bash test/bench/replay.sh [N = 3000] [report dir = ./report/replay]
# Environment: REPLAY_DATASETS (movielens,taobao,synthetic),
# REPLAY_GENERATORS (uniform,popularity,category; legacy: the harness check),
# REPLAY_STRATEGIES (all).  Data sets missing under ../shared/data (RR_DATA)
# are skipped with a message.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/common.sh"
source "$here/demo/pipeline.sh"
max_events=${1:-3000}
report=${2:-$(pwd)/report/replay}
datasets=,${REPLAY_DATASETS:-movielens,taobao,synthetic},

rr_ensure_packages gnuplot-nox
rr_build_install
rr_cluster_start rerank-replay
rr_psql -c "CREATE EXTENSION rerank"
mkdir -p "$report"
rm -f "$report"/*.csv "$report"/*.png "$report"/index.html
echo "model,precision_at_10,recall_at_10,ndcg_at_10,map_at_10,hit_rate_at_10,coverage_at_10" > "$report/models.csv"
started=$SECONDS

run() {
	local schema=$1 label=$2 t0=$SECONDS
	shift 2
	rr_log "$label: loading"
	rr_load "$schema" "$@"
	rr_log "$label: training"
	rr_train "$schema" "${schema}_als" 2>&1 | grep -E 'trained in|ERROR:' | sed 's/^NOTICE:  /   /'
	rr_evaluate "$schema" "${schema}_als" >> "$report/models.csv"
	rr_prepare_replay "$schema" "${schema}_als" >/dev/null
	rr_replay "$schema" "${schema}_als" "$label" "$max_events" "$report"
	# the next data set gets its own active model and trigger
	rr_psql -c "SELECT rerank.detach('$schema.events')" >/dev/null
	rr_psql -c "TRUNCATE rerank.user_features" >/dev/null
	rr_log "$label: $((SECONDS - t0)) s in all"
}

ml=$RR_DATA/movielens-100k/splits
tb=$RR_DATA/taobao-userbehavior
if [[ $datasets != *,movielens,* ]]; then
	:
elif [ -r "$ml/temporal_train.tsv" ] && [ -r "$ml/temporal_test.tsv" ]; then
	run ml movielens movielens "$ml/temporal_train.tsv" "$ml/temporal_test.tsv"
else
	rr_log "skipping MovieLens: $ml/temporal_{train,test}.tsv not found"
fi
if [[ $datasets != *,taobao,* ]]; then
	:
elif [ -r "$tb/UserBehavior_users_head.csv" ] && [ -r "$tb/UserBehavior_users_tail.csv" ]; then
	catalog=()
	if [ -r "$tb/UserBehavior_timeslice_20171126.csv" ]; then
		catalog=(--catalog "$tb/UserBehavior_timeslice_20171126.csv")
	else
		rr_log "Taobao: no UserBehavior_timeslice_20171126.csv: the catalog is the users' items only"
	fi
	run tb taobao taobao "$tb/UserBehavior_users_head.csv" "$tb/UserBehavior_users_tail.csv" "${catalog[@]}"
else
	rr_log "skipping Taobao: $tb/UserBehavior_users_{head,tail}.csv not found"
fi
if [[ $datasets == *,synthetic,* ]]; then
	run sy synthetic synthetic 2000 5000 200000 42
fi

echo
rr_replay_table "$report"
# the server's CPU time (the postmaster's own and its exited backends'):
# steadier than the wall time on a machine shared with other work
server_cpu=$(awk '{ printf "%.0f", ($14 + $15 + $16 + $17) / 100 }' \
	"/proc/$(head -1 "$RR_CLUSTER_DIR/data/postmaster.pid")/stat" 2>/dev/null || echo "?")
{
	echo "Replay (docs/benchmarks.md, \"The replay protocol\"): every event after the cut-off, at most $max_events per data set ranked (a deterministic sample), the touched item among up to 100 candidates of each generator ($(IFS=,; echo "${REPLAY_GENERATORS:-uniform,popularity,category}")); $((SECONDS - started)) s for all data sets, $server_cpu s of server CPU, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
} > "$report/notes.md"
bash "$here/demo/report.sh" "$report" >/dev/null
rr_log "replay of all data sets in $((SECONDS - started)) s ($server_cpu s of server CPU); report: $report/index.html"
