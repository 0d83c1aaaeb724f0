#!/usr/bin/env bash
# The diagnosis of the ranker on Taobao's category pages (docs/benchmarks.md,
# "Category pages: what the ranker does"): the replay of Taobao with the
# category generator only and the strategy rankrec (catpage_diag.sql: ranks
# as the strategy ranker and records every list, the ranker's order and the
# candidates' features), then catpage_diag.py reads them.
#   bash test/bench/catpage_diag.sh [out dir = ./report/catpage_diag]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/common.sh"
out=${1:-$(pwd)/report/catpage_diag}
mkdir -p "$out"
work=$(mktemp -d /tmp/rerank-diag.XXXXXX)
chmod 755 "$work"
rr_scratch_path "$work"
cp -r "$here/demo" "$work/demo"
cat "$here/bench/catpage_diag.sql" >> "$work/demo/replay_strategies.sql"
export RR_DEMO_DIR="$work/demo" REPLAY_GENERATORS=category
export REPLAY_STRATEGIES=${REPLAY_STRATEGIES:-upstream,popularity,repeat_category,rankrec}
source "$work/demo/pipeline.sh"
rr_build_install
rr_cluster_start rerank-diag
rr_psql -c "CREATE EXTENSION rerank"
rr_psql -c "CREATE TABLE public.diag (dataset text, seq bigint, generator text, target bigint, items bigint[], ranked bigint[], features real[])"
tb=$RR_DATA/taobao-userbehavior
rr_load tb taobao "$tb/UserBehavior_users_head.csv" "$tb/UserBehavior_users_tail.csv" \
	--catalog "$tb/UserBehavior_timeslice_20171126.csv"
rr_train tb tb_als >/dev/null 2>&1
rr_prepare_replay tb tb_als >/dev/null
rr_replay tb tb_als taobao 3000 "$out"
rr_replay_table "$out"
rr_psql -c "\copy (SELECT d.*, s.segment FROM public.diag d LEFT JOIN replay.log s USING (seq)) TO '$out/diag.csv' CSV HEADER"
python3 "$here/bench/catpage_diag.py" "$out/diag.csv"
