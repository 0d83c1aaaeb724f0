#!/usr/bin/env bash
# The README's test command: runs every test suite of rerank.
#
#   sudo bash test/run_tests.sh            # everything
#   bash test/run_tests.sh regress e2e     # some suites (unit, fuzz, regress, e2e)
#
# On a fresh Debian machine it installs what is missing, builds with
# -Werror, installs, runs the C unit tests of the core and its libFuzzer
# targets (bounded: test/fuzz/run.sh), starts a throwaway
# cluster (as an unprivileged OS user when run as root, on a private socket
# directory), runs pg_regress and the isolation specs, then the end-to-end
# scripts under test/e2e, checking the server log for crashes after each,
# stops the cluster whatever happened, and exits non-zero when anything
# failed.  PG_CONFIG selects another PostgreSQL.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(unit fuzz regress e2e)
want() { local s; for s in "${suites[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

failed=()
started=$SECONDS

rr_ensure_packages
rr_build_install

if want unit; then
	rr_log "C unit tests of the core (AddressSanitizer, UBSan)"
	if ! timeout 300 make -C "$RR_TOP" -s unittest PG_CONFIG="$(rr_pg_config)"; then
		failed+=(unit)
	fi
fi

if want fuzz; then
	rr_log "libFuzzer targets of the core"
	# clang is optional: test/fuzz/run.sh skips without it
	(rr_ensure_packages clang libclang-rt-14-dev) || rr_log "fuzz: clang could not be installed"
	if ! timeout 900 bash "$here/fuzz/run.sh"; then
		failed+=(fuzz)
	fi
fi

if want regress || want e2e; then
	rr_cluster_start rerank-test
fi

# After each suite that used the cluster, its part of the server log must
# show no crashed backend (a crash restarts every connection, even when the
# suite's own checks pass); allowed: what a suite provokes on purpose.
log_checked=0
check_server_log() {
	local suite=$1 allowed=${2:-} log="$RR_CLUSTER_DIR/server.log" crashes
	crashes=$(tail -c +$((log_checked + 1)) "$log" |
		grep -E 'terminated by signal|server process .* was terminated' || true)
	log_checked=$(stat -c %s "$log")
	[ -z "$allowed" ] || crashes=$(grep -vE "$allowed" <<<"$crashes" || true)
	if [ -n "$crashes" ]; then
		echo "$crashes"
		failed+=("$suite (crashed backend in the server log)")
	fi
}

if want regress; then
	rr_log "pg_regress and isolation specs"
	rm -f "$RR_TOP/regression.diffs" "$RR_TOP/output_iso/regression.diffs"
	if ! timeout 900 make -C "$RR_TOP" -s installcheck PG_CONFIG="$(rr_pg_config)"; then
		failed+=(regress)
		for f in "$RR_TOP/regression.diffs" "$RR_TOP/output_iso/regression.diffs"; do
			[ -s "$f" ] && { echo "---- $f"; head -c 20000 "$f"; }
		done
	fi
	check_server_log regress
fi

if want e2e; then
	for script in "$here"/e2e/*.sh; do
		[ -e "$script" ] || continue
		rr_log "end-to-end: $(basename "$script")"
		if ! timeout 900 bash "$script"; then
			failed+=("e2e/$(basename "$script")")
		fi
		allowed=
		# crash_recovery.sh kills backends with SIGKILL on purpose
		[ "$(basename "$script")" != crash_recovery.sh ] || allowed='signal 9: Killed'
		check_server_log "e2e/$(basename "$script")" "$allowed"
	done
fi

rr_cluster_stop
if [ ${#failed[@]} -gt 0 ]; then
	rr_log "FAILED after $((SECONDS - started)) s: ${failed[*]}"
	exit 1
fi
rr_log "all suites passed in $((SECONDS - started)) s: ${suites[*]}"
