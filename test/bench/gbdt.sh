#!/usr/bin/env bash
# Benchmark of the learned ranker's engine (issue 11), no server needed:
#   - serving: the flat forest (src/core/gbdt_forest.c) against XGBoost's
#     own prediction in the same run, for 500 candidates x F features and
#     LambdaMART boosters of 10, 100 and 300 trees (depth 6): margins
#     (compared bit for bit), TreeSHAP contributions, building the forest
#     from the booster's JSON; and the forest's evaluators (the portable
#     walk, AVX2, AVX-512 over the forest's codes, and the one
#     GbdtForestPredict chooses) interleaved in the same run, for 500, 100,
#     50, 10 and 1 candidates (margins compared bit for bit);
#   - training: LambdaMART through XGBoost, one thread, on ROWS rows
#     (default 1,000,000, groups of 50): time, time per round, the longest
#     gap between two interrupt checks, peak memory.
# Figures are medians of repeated runs; ratios compare figures of the same
# run (the machine is shared: absolute times vary).
#   bash test/bench/gbdt.sh [rows] [rounds] [features]
#   bash test/bench/gbdt.sh 0 0            # serving only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/common.sh"
rows=${1:-1000000}
rounds=${2:-100}
features=${3:-30}

rr_ensure_packages

work=$(mktemp -d /tmp/rerank-bench-gbdt.XXXXXX)
trap 'rm -rf "$work"' EXIT

# the core built with the extension's own flags
make -s -C "$RR_TOP" bench-core PG_CONFIG="$(rr_pg_config)" \
	BENCH_SRC="$here/gbdt.c" BENCH_OUT="$work/gbdt"
rr_log "learned ranker engine: serving (500 candidates) and training ($rows rows, $rounds rounds)"
"$work/gbdt" "$rows" "$rounds" "$features"
