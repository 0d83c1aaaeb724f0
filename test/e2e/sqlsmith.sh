#!/usr/bin/env bash
# sqlsmith (Debian package sqlsmith) as a crash gate: random queries over
# everything a serving role can reach, sent as a role that is NOT a
# superuser and holds only the documented serving grants (README,
# "Privileges": EXECUTE on rerank, rerank_ids, predict, recommend and
# similar_items; INSERT, and SELECT, on the shop's tracked event table),
# against a database with an active ALS model, an item-kNN model, features
# and the trigger attached.  The functions every role may call (vector
# math, aggregates and their state functions, item_vector, fold_in_history,
# model_id ...) are in reach too, as are all of pg_catalog's.
#
# Bounded: SMITH_QUERIES queries (default 2500) and SMITH_SECONDS seconds
# (default 60), statements of the role cut at 1 s.  Errors are expected
# and summed up by kind; a crash (the server log shows a process terminated
# by a signal) fails the test.  Skipped, with a message, when sqlsmith
# cannot be installed.  Reproduce: SMITH_SEED=… bash test/e2e/sqlsmith.sh
# (SMITH_KEEP=1 keeps the queries and the report in /tmp/rerank-sqlsmith.*)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/common.sh"
source "$here/demo/pipeline.sh"
seed=${SMITH_SEED:-20261207}
queries=${SMITH_QUERIES:-2500}
seconds=${SMITH_SECONDS:-60}
role=rr_smith
db=rerank_sqlsmith

if ! command -v sqlsmith >/dev/null 2>&1; then
	(rr_ensure_packages sqlsmith) >/dev/null 2>&1 || true
fi
if ! command -v sqlsmith >/dev/null 2>&1; then
	echo "sqlsmith: SKIPPED: the Debian package sqlsmith is not installed and could not be installed"
	exit 0
fi

work=$(mktemp -d /tmp/rerank-sqlsmith.XXXXXX)
chmod 755 "$work"
[ -n "${SMITH_KEEP:-}" ] || rr_scratch_path "$work"
rr_scratch_dbs "$db"
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS $role"
rr_tracked_shop "$db" m 300 800 8000 3 ", factors => 8, iterations => 3"
PGOPTIONS="-c client_min_messages=warning" rr_psql >/dev/null <<SQL
CALL rerank.train_item_knn('k', 'shop.training', weight_column => 'weight', neighbors => 10);
CREATE ROLE $role LOGIN;
-- what a serving role gets (README, Privileges), nothing more
GRANT EXECUTE ON FUNCTION rerank.rerank, rerank.rerank_ids TO $role;
GRANT EXECUTE ON FUNCTION rerank.predict, rerank.recommend, rerank.similar_items TO $role;
GRANT USAGE ON SCHEMA shop TO $role;
GRANT SELECT, INSERT ON shop.events TO $role;
ALTER ROLE $role SET statement_timeout = '1s';
ALTER ROLE $role SET lock_timeout = '1s';
ALTER ROLE $role SET idle_in_transaction_session_timeout = '5s';
-- count the calls of every function (C ones too) that really ran
ALTER DATABASE $db SET track_functions = 'all';
SELECT pg_stat_reset();
SQL
super=$(psql -X -At -d "$db" -U "$role" -c "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
[ "$super" = f ] || { echo "sqlsmith: the role $role must not be a superuser"; exit 1; }

mark=$(rr_log_mark)
started=$SECONDS
status=0
(cd "$work" && timeout -s INT -k 10 "$seconds" sqlsmith --verbose --dump-all-queries --exclude-catalog \
	--seed="$seed" --max-queries="$queries" \
	--target="host=$PGHOST port=$PGPORT dbname=$db user=$role" >"$work/queries.sql" 2>"$work/out.txt") || status=$?
elapsed=$((SECONDS - started))
# the role's sessions left behind (a sleep sqlsmith started) end here
psql -X -q -At -d postgres -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '$role'" >/dev/null

# the report: the last "queries:" line, then the error counts by message
sed -n '/^queries:/h; /^queries:/!H; ${x; p}' "$work/out.txt" >"$work/report.txt"
done_queries=$(sed -n 's/^queries: \([0-9]*\).*/\1/p' "$work/report.txt")
errors=$(awk -F'\t' '/^[0-9]+\t/ { n += $1 } END { print n + 0 }' "$work/report.txt")
calls=$(grep -o 'rerank\.[a-z_0-9]*(' "$work/queries.sql" | sort | uniq -c | sort -rn |
	awk '{ printf "%s%s %s", sep, $2, $1; sep = ", " }' | tr -d '(')
bound=""
[ "$status" -ne 124 ] || bound=", stopped by the ${seconds} s bound"
echo "sqlsmith: ${done_queries:-?} queries in ${elapsed} s as $role (seed $seed, exit $status$bound), $errors failed; calls of rerank functions written into them: ${calls:-none}"
# The queries that ran without error and call a rerank function: sqlsmith
# prints one progress character per query, in order ("." for success).
sed 's/^Generating indexes\.\.\.done\.//' "$work/out.txt" | grep -E '^[.a-zA-Z]+$' | grep -vE '[^.eStCx]' |
	tr -d '\n' >"$work/progress.txt"
ok_calls=$(awk 'BEGIN { RS = ";\n" }
	NR == FNR { n = split($0, status, ""); RS = ";\n"; next }
	{ q++; if (status[q] == "." && match($0, /rerank\.[a-z_0-9]*\(/)) { ok++; s = $0
	      while (match(s, /rerank\.[a-z_0-9]*\(/)) { f[substr(s, RSTART + 7, RLENGTH - 8)]++; s = substr(s, RSTART + RLENGTH) } } }
	END { printf "%d", ok; sep = " ("; for (k in f) { printf "%s%s %d", sep, k, f[k]; sep = ", " } if (ok) printf ")" }' \
	RS='\n' "$work/progress.txt" "$work/queries.sql")
# calls that really ran, C and PL functions (aggregate transition
# functions and inlined SQL functions are not counted)
sleep 1
ran=$(rr_psql -At -c "SELECT coalesce(sum(calls), 0) || ' calls of ' || count(*) || ' functions'
                          || coalesce(' (' || string_agg(funcname || ' ' || calls, ', ' ORDER BY calls DESC, funcname) || ')', '')
                     FROM pg_stat_user_functions WHERE schemaname = 'rerank' AND calls > 0")
echo "sqlsmith: queries that succeeded and call rerank functions: $ok_calls; counted calls: $ran"
echo "sqlsmith: errors by kind:"
awk -F'\t' '/^[0-9]+\t/ {
		m = $2; sub(/^ERROR: +/, "", m)
		if (m ~ /^permission denied/) k = "permission denied"
		else if (m ~ /^operator does not exist/) k = "operator does not exist"
		else if (m ~ /^function .* does not exist/) k = "function does not exist"
		else if (m ~ /^argument declared|^could not determine polymorphic|^cannot cast type unknown/) k = "polymorphic argument types"
		else if (m ~ /statement timeout|canceling statement/) k = "statement timeout"
		else k = m
		n[k] += $1
	}
	END { for (k in n) printf "%7d  %s\n", n[k], k }' "$work/report.txt" | sort -rn | head -25
if grep -q "^queries:" "$work/out.txt"; then :; else
	echo "sqlsmith did not run to its report:"
	tail -20 "$work/out.txt"
	[ "$status" -eq 0 ] || exit 1
fi
rr_check_crashes sqlsmith "$mark"
psql -X -q -d postgres -c "DROP DATABASE $db" -c "DROP ROLE $role"
echo "sqlsmith: no crash"
