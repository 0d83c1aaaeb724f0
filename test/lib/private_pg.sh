#!/usr/bin/env bash
# Makes a private, relocated copy of the system's PostgreSQL installation so
# several work trees can install and test their own build of rerank at once
# without overwriting each other's files in the system directories.
#   bash test/lib/private_pg.sh DIR [major]
# then use PG_CONFIG=DIR/lib/postgresql/<major>/bin/pg_config with make and
# test/run_tests.sh.  PostgreSQL finds its share and lib directories relative
# to its binaries, so the copy is self-contained.
set -euo pipefail
dir=${1:?usage: private_pg.sh DIR [major]}
major=${2:-15}
[ -d "/usr/lib/postgresql/$major" ] || { echo "PostgreSQL $major is not installed" >&2; exit 1; }
mkdir -p "$dir/lib/postgresql" "$dir/share/postgresql" "$dir/include"
cp -a "/usr/lib/postgresql/$major" "$dir/lib/postgresql/"
cp -a "/usr/share/postgresql/$major" "$dir/share/postgresql/"
cp -a /usr/include/postgresql "$dir/include/"
chmod -R a+rX "$dir"
echo "PG_CONFIG=$dir/lib/postgresql/$major/bin/pg_config"
