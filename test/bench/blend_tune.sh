#!/usr/bin/env bash
# How the blend's default weights were chosen (README, "The blend and its
# defaults"): the replay of test/bench/replay.sh on MovieLens (temporal),
# Taobao and the synthetic shop, with one more strategy, 'record'
# (blend_tune.sql), that stores the candidate features of every ranked list
# as rerank() sees them at the event's time; then blend_tune.c searches the
# weights for the best mean of HR@10 and NDCG@10 over all data sets and
# candidate generators together, on the events of even sequence number,
# and reports the odd ones as held out.
#   bash test/bench/blend_tune.sh [ranked events per data set = 2000] [tuner options...]
# e.g. ... 2000 revisit=2 revisit_recency=1 (start weights; see blend_tune.c).
# The recorded lists stay in $BLEND_TUNE_OUT (default ./report/blend_tune),
# so the tuner can be run again on them without the replay:
#   make bench-core BENCH_SRC=test/bench/blend_tune.c BENCH_OUT=/tmp/blend_tune
#   /tmp/blend_tune report/blend_tune/lists.tsv [options...]
# Environment as replay.sh (REPLAY_DATASETS, RR_DATA).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/common.sh"
max_events=${1:-2000}
shift || true
datasets=,${REPLAY_DATASETS:-movielens,taobao,synthetic},
out=${BLEND_TUNE_OUT:-$(pwd)/report/blend_tune}
mkdir -p "$out"

work=$(mktemp -d /tmp/rerank-blend-tune.XXXXXX)
chmod 755 "$work"
rr_scratch_path "$work"
# the replay's demo files, with the recording strategy appended
cp -r "$here/demo" "$work/demo"
cat "$here/bench/blend_tune.sql" >> "$work/demo/replay_strategies.sql"
export RR_DEMO_DIR="$work/demo"
source "$work/demo/pipeline.sh"
export REPLAY_STRATEGIES=${REPLAY_STRATEGIES:-upstream,repeat_category,realtime,blend,record}

rr_ensure_packages
rr_build_install
make -s -C "$RR_TOP" bench-core PG_CONFIG="$(rr_pg_config)" \
	BENCH_SRC="$here/bench/blend_tune.c" BENCH_OUT="$work/blend_tune"
rr_cluster_start rerank-blend-tune
rr_psql -c "CREATE EXTENSION rerank"
rr_psql -c "CREATE TABLE public.blend_tune (dataset text, seq bigint, generator text, target integer,
                                           items bigint[], features real[])"

run() {
	local schema=$1 label=$2
	shift 2
	rr_log "$label: loading, training, replaying"
	rr_load "$schema" "$@"
	rr_train "$schema" "${schema}_als" >/dev/null 2>&1
	rr_prepare_replay "$schema" "${schema}_als" >/dev/null
	rr_replay "$schema" "${schema}_als" "$label" "$max_events" "$work/report"
	rr_psql -c "SELECT rerank.detach('$schema.events')" >/dev/null
	rr_psql -c "TRUNCATE rerank.user_features, rerank.item_stats, rerank.item_covisits" >/dev/null
}
ml=$RR_DATA/movielens-100k/splits
tb=$RR_DATA/taobao-userbehavior
if [[ $datasets == *,movielens,* ]] && [ -r "$ml/temporal_train.tsv" ]; then
	run ml movielens movielens "$ml/temporal_train.tsv" "$ml/temporal_test.tsv"
fi
if [[ $datasets == *,taobao,* ]] && [ -r "$tb/UserBehavior_users_head.csv" ]; then
	run tb taobao taobao "$tb/UserBehavior_users_head.csv" "$tb/UserBehavior_users_tail.csv" \
		--catalog "$tb/UserBehavior_timeslice_20171126.csv"
fi
if [[ $datasets == *,synthetic,* ]]; then
	run sy synthetic synthetic 2000 5000 200000 42
fi
echo
rr_replay_table "$work/report"
echo
rr_psql -At -c "COPY (SELECT dataset, generator, seq, target, features FROM public.blend_tune
                      ORDER BY dataset, generator, seq) TO STDOUT" > "$out/lists.tsv"
cp "$work/report"/*.csv "$out/"
"$work/blend_tune" "$out/lists.tsv" "$@"
