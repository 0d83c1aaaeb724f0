#!/usr/bin/env bash
# The static check must catch what it is for: each script under cases/
# names the rules it breaks on its first line ("-- expect: rule ..."), and
# check_sql_scripts.pl must report exactly those rules (good.sql: none).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
failed=0
for case in "$here"/cases/*.sql; do
	expected=$(head -1 "$case" | sed -n 's/^-- expect://p' | tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' ')
	status=0
	out=$(perl "$here/check_sql_scripts.pl" "$case") || status=$?
	got=$(printf '%s\n' "$out" | sed -n 's/^[^[]*\[\([a-z-]*\)\].*/\1/p' | sort -u | tr '\n' ' ')
	if [ "$got" != "$expected" ] || { [ -n "$expected" ] && [ "$status" -ne 1 ]; } ||
		{ [ -z "$expected" ] && [ "$status" -ne 0 ]; }; then
		echo "lint self-test $(basename "$case"): expected [${expected}] (exit $([ -n "$expected" ] && echo 1 || echo 0)), got [${got}] (exit $status)"
		printf '%s\n' "$out"
		failed=1
	fi
done
[ "$failed" -eq 0 ] && echo "lint self-test: $(ls "$here"/cases/*.sql | wc -l) cases, each caught as expected"
exit "$failed"
