#!/usr/bin/env bash
# The README's test command: runs every test suite of rerank.
#
#   sudo bash test/run_tests.sh            # everything
#   bash test/run_tests.sh regress e2e     # some suites (lint, unit, fuzz, regress, e2e, shmem)
#
# On a fresh Debian machine it installs what is missing, builds with
# -Werror, installs, runs the static check of the generated SQL scripts
# (test/lint), the C unit tests of the core and its libFuzzer targets
# (bounded: test/fuzz/run.sh), starts a throwaway
# cluster (as an unprivileged OS user when run as root, on a private socket
# directory), runs pg_regress and the isolation specs, then the end-to-end
# scripts under test/e2e (the server log is checked for crashes after
# pg_regress and after each script: rr_check_crashes, deliberate kills
# declared with rr_expect_kill), stops the cluster whatever happened; then
# the shared-memory suite on a second cluster started with
# shared_preload_libraries = 'rerank': pg_regress and the isolation specs
# again, test/shmem's own regress files and specs, and test/shmem/*.sh.
# Exits non-zero when anything failed.  PG_CONFIG selects another PostgreSQL.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(lint unit fuzz regress e2e shmem)
want() { local s; for s in "${suites[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

failed=()
started=$SECONDS

rr_ensure_packages
rr_build_install

if want lint; then
	rr_log "static check of the install and update scripts (test/lint)"
	if ! make -C "$RR_TOP" -s lint PG_CONFIG="$(rr_pg_config)"; then
		failed+=(lint)
	fi
fi

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
	rr_install_upgrade_test
	rr_cluster_start rerank-test
fi

if want regress; then
	rr_log "pg_regress and isolation specs"
	rm -f "$RR_TOP/regression.diffs" "$RR_TOP/output_iso/regression.diffs"
	mark=$(rr_log_mark)
	if ! timeout 900 make -C "$RR_TOP" -s installcheck PG_CONFIG="$(rr_pg_config)"; then
		failed+=(regress)
		for f in "$RR_TOP/regression.diffs" "$RR_TOP/output_iso/regression.diffs"; do
			[ -s "$f" ] && { echo "---- $f"; head -c 20000 "$f"; }
		done
	fi
	rr_check_crashes regress "$mark" || failed+=(regress-crash)
fi

if want e2e; then
	for script in "$here"/e2e/*.sh; do
		[ -e "$script" ] || continue
		rr_log "end-to-end: $(basename "$script")"
		mark=$(rr_log_mark)
		if ! timeout 900 bash "$script"; then
			failed+=("e2e/$(basename "$script")")
		fi
		rr_check_crashes "$(basename "$script")" "$mark" || failed+=("e2e/$(basename "$script")-crash")
	done
fi

rr_cluster_stop

if want shmem; then
	rr_cluster_start rerank-shmem "shared_preload_libraries = 'rerank'"
	rr_log "shared memory: pg_regress and isolation specs with rerank preloaded"
	rm -f "$RR_TOP/regression.diffs" "$RR_TOP/output_iso/regression.diffs"
	mark=$(rr_log_mark)
	if ! timeout 900 make -C "$RR_TOP" -s installcheck PG_CONFIG="$(rr_pg_config)"; then
		failed+=(shmem/regress)
		for f in "$RR_TOP/regression.diffs" "$RR_TOP/output_iso/regression.diffs"; do
			[ -s "$f" ] && { echo "---- $f"; head -c 20000 "$f"; }
		done
	fi
	rr_check_crashes shmem/regress "$mark" || failed+=(shmem/regress-crash)
	rr_log "shared memory: test/shmem regress files and isolation specs"
	rm -f "$RR_TOP/output_shmem/regression.diffs" "$RR_TOP/output_shmem_iso/regression.diffs"
	mark=$(rr_log_mark)
	if ! timeout 900 make -C "$RR_TOP" -s installcheck-shmem PG_CONFIG="$(rr_pg_config)"; then
		failed+=(shmem/specs)
		for f in "$RR_TOP/output_shmem/regression.diffs" "$RR_TOP/output_shmem_iso/regression.diffs"; do
			[ -s "$f" ] && { echo "---- $f"; head -c 20000 "$f"; }
		done
	fi
	rr_check_crashes shmem/specs "$mark" || failed+=(shmem/specs-crash)
	for script in "$here"/shmem/*.sh; do
		[ -e "$script" ] || continue
		rr_log "shared memory: $(basename "$script")"
		mark=$(rr_log_mark)
		if ! timeout 900 bash "$script"; then
			failed+=("shmem/$(basename "$script")")
		fi
		rr_check_crashes "shmem/$(basename "$script")" "$mark" || failed+=("shmem/$(basename "$script")-crash")
	done
	rr_cluster_stop
fi

if [ ${#failed[@]} -gt 0 ]; then
	rr_log "FAILED after $((SECONDS - started)) s: ${failed[*]}"
	exit 1
fi
rr_log "all suites passed in $((SECONDS - started)) s: ${suites[*]}"
