#!/usr/bin/env bash
# Replay evaluation on every data set (issue 6): does real-time re-ranking
# beat the model as trained?  For MovieLens 100K (temporal split) and the
# Taobao per-user histories (each user's last 20% streamed), and the built-in
# synthetic data, trains ALS on the history, then streams the later events
# through the behavior trigger in time order, ranking the touched item among
# 100 candidates before each first touch (test/demo/pipeline.sh explains the
# strategies and metrics).  Prints the table and writes a report.
#   bash test/bench/replay.sh [max ranked events per data set] [report dir]
# Data sets missing under ../shared/data are skipped with a message.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/common.sh"
source "$here/demo/pipeline.sh"
max_events=${1:-5000}
report=${2:-$(pwd)/report/replay}

rr_ensure_packages gnuplot-nox
rr_build_install
rr_cluster_start rerank-replay
rr_psql -c "CREATE EXTENSION rerank"
mkdir -p "$report"
out=$report/replay.csv
echo "dataset,strategy,events,hr_at_10,ndcg_at_10,mrr,ild_at_10,coverage_at_10" > "$out"
echo "model,precision_at_10,recall_at_10,ndcg_at_10,map_at_10,hit_rate_at_10,coverage_at_10" > "$report/models.csv"

run() {
	local schema=$1 label=$2
	shift 2
	rr_log "$label: loading"
	rr_load "$schema" "$@"
	rr_log "$label: training"
	rr_train "$schema" "${schema}_als" 2>&1 | grep -E 'trained in|ERROR:' | sed 's/^NOTICE:  /   /'
	rr_evaluate "$schema" "${schema}_als" >> "$report/models.csv"
	rr_prepare_replay "$schema" "${schema}_als" >/dev/null
	rr_log "$label: replaying the stream"
	rr_replay "$schema" "${schema}_als" "$label" "$max_events" "$out"
	# the next data set gets its own active model and trigger
	rr_psql -c "SELECT rerank.detach('$schema.events')" >/dev/null
	rr_psql -c "TRUNCATE rerank.user_features" >/dev/null
}

ml=$RR_DATA/movielens-100k/splits
if [ -r "$ml/temporal_train.tsv" ] && [ -r "$ml/temporal_test.tsv" ]; then
	run ml movielens movielens "$ml/temporal_train.tsv" "$ml/temporal_test.tsv"
else
	rr_log "skipping MovieLens: $ml/temporal_{train,test}.tsv not found"
fi
tb=$RR_DATA/taobao-userbehavior
if [ -r "$tb/UserBehavior_users_head.csv" ] && [ -r "$tb/UserBehavior_users_tail.csv" ]; then
	run tb taobao taobao "$tb/UserBehavior_users_head.csv" "$tb/UserBehavior_users_tail.csv"
else
	rr_log "skipping Taobao: $tb/UserBehavior_users_{head,tail}.csv not found"
fi
run sy synthetic synthetic 2000 5000 200000 42

echo
column -t -s, "$out"
echo "Replay: before each event after the cut-off, the touched item is ranked among 100 candidates (99 popularity-sampled negatives the user never touches); only first touches are ranked, at most $max_events per data set." > "$report/notes.md"
bash "$here/demo/report.sh" "$report" >/dev/null
rr_log "report: $report/index.html"
