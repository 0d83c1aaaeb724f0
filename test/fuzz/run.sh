#!/usr/bin/env bash
# Builds the libFuzzer targets over the pure-C core (make fuzz: clang,
# AddressSanitizer, UBSan) and runs each for a bounded time and number of
# inputs; part of the test command (suite "fuzz").  Skips with a message
# when clang or its fuzzer runtime is missing.
#
#   bash test/fuzz/run.sh                  # 30 s or 2,000,000 inputs per target
#   RR_FUZZ_SECONDS=600 RR_FUZZ_SEED=7 bash test/fuzz/run.sh
#
# Prints one line per target (inputs run, seconds, corpus size); a finding
# fails the run and keeps the crashing input under the printed directory
# (rerun it with: test/fuzz/<target> <file>).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/common.sh
source "$here/../lib/common.sh"

seconds=${RR_FUZZ_SECONDS:-30}
runs=${RR_FUZZ_RUNS:-2000000}
seed=${RR_FUZZ_SEED:-$(date +%s)}
fuzz_cc=${FUZZ_CC:-clang}

if ! command -v "$fuzz_cc" >/dev/null 2>&1; then
	rr_log "fuzz: skipped, $fuzz_cc is not installed (Debian: clang libclang-rt-14-dev)"
	exit 0
fi
probe=$(mktemp -d /tmp/rerank-fuzz-probe.XXXXXX)
rr_scratch_path "$probe"
printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }\n' >"$probe/p.c"
if ! "$fuzz_cc" -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
	rr_log "fuzz: skipped, $fuzz_cc cannot link libFuzzer (Debian: libclang-rt-14-dev)"
	exit 0
fi

make -C "$RR_TOP" -s fuzz PG_CONFIG="$(rr_pg_config)" FUZZ_CC="$fuzz_cc" >/dev/null

work=$(mktemp -d /tmp/rerank-fuzz.XXXXXX)
chmod 755 "$work"
failed=0
for target in "$RR_TOP"/test/fuzz/fuzz_*.c; do
	name=$(basename "$target" .c)
	mkdir -p "$work/$name/corpus" "$work/$name/artifacts"
	log="$work/$name/log"
	if (cd "$work/$name" && "$RR_TOP/test/fuzz/$name" -seed="$seed" \
		-max_total_time="$seconds" -runs="$runs" -timeout=10 \
		-artifact_prefix="$work/$name/artifacts/" -print_final_stats=1 corpus) >"$log" 2>&1; then
		executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
		corpus=$(find "$work/$name/corpus" -type f | wc -l)
		rr_log "fuzz: $name: ${executed:-?} inputs in ${took:-?} s (seed $seed), corpus $corpus, no finding"
	else
		failed=1
		rr_log "fuzz: $name FOUND A PROBLEM (seed $seed); inputs kept in $work/$name/artifacts"
		grep -E 'ERROR|SUMMARY|deadly signal|#[0-9]+ 0x' "$log" | head -20 || tail -20 "$log"
	fi
done
if [ "$failed" = 0 ]; then
	rm -rf "$work"
fi
exit "$failed"
