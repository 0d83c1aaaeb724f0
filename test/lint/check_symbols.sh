#!/usr/bin/env bash
# The library must keep every C symbol that an install script names, the
# earlier releases' included: an updated database still runs the C
# functions its first release created (ALTER EXTENSION UPDATE leaves them as
# they are unless the update script changes them), and upgrade.sh installs
# 0.1.0's script against today's library.
#   bash test/lint/check_symbols.sh rerank.so rerank--0.2.0.sql test/upgrade/rerank--*.sql
set -euo pipefail
lib=$1
shift
defined=$(nm -D --defined-only "$lib" | awk '{ print $NF }' | sort -u)
missing=0
for script in "$@"; do
	# AS 'MODULE_PATHNAME', 'symbol'
	for sym in $(grep -o "'MODULE_PATHNAME', *'[A-Za-z0-9_]*'" "$script" | sed "s/.*, *'\(.*\)'/\1/" | sort -u); do
		if ! grep -qx "$sym" <<<"$defined"; then
			echo "$script: the C function $sym is not in $lib"
			missing=1
		fi
	done
done
exit "$missing"
