#!/usr/bin/env bash
# The update path (issue 10, defect 7).  With the released 0.1.0 script
# (frozen in test/upgrade, installed by make install-upgrade-test) and
# today's library:
#  1. a 0.1.0 deployment (ALS, item-kNN and imported models, user features
#     kept by row and statement triggers on the shop's tables) is updated
#     with ALTER EXTENSION rerank UPDATE; it then serves exactly as before
#     (rerank, recommend, predict, explain, features, vectors), the
#     triggers still record events and re-solve vectors, training,
#     activation and rollback work, and it survives pg_dump/pg_restore;
#  2. the updated database and a fresh install of the current version have
#     the same catalog objects (test/upgrade/describe.sql, diffed); any
#     change to src/sql not mirrored in the update script fails here;
#  3. the comparison is sensitive: each of a list of small catalog changes
#     (a comment, a marking, a proconfig, a grant, a constraint, a default,
#     an index, a member, a function body, a shipped row) makes it differ;
#  4. a 0.1.0 install whose CHECK constraints were bound to a planted
#     operator (the hijack of issue 10) is not updated, with a warning that
#     another role may create in its schema.
# Runs against the cluster of test/run_tests.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/common.sh"
old=rerank_upgrade_old
fresh=rerank_upgrade_fresh
restored=rerank_upgrade_restored
hijacked=rerank_upgrade_hijacked
work=$(mktemp -d /tmp/rerank-upgrade.XXXXXX)
rr_scratch_path "$work"
rr_scratch_dbs "$old" "$fresh" "$restored" "$hijacked"
current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$here/../rerank.control")
fail() { echo "upgrade: $*"; exit 1; }
q() { local db=$1; shift; rr_psql -d "$db" -At "$@"; }

# 1. a 0.1.0 deployment
createdb "$old"
q "$old" -c "CREATE EXTENSION rerank VERSION '0.1.0'" ||
	fail "the 0.1.0 script does not load against this library (a C symbol it names is gone?)"
PGOPTIONS="-c client_min_messages=warning" q "$old" >/dev/null <<'SQL'
CREATE SCHEMA shop;
CREATE TABLE shop.events (user_id bigint, item_id bigint, event_type text,
                          occurred_at timestamptz, dwell_ms integer);
CREATE TABLE shop.bulk_events (user_id bigint, item_id bigint, event_type text,
                               occurred_at timestamptz);
INSERT INTO shop.events
SELECT 1 + (i * 7) % 120, 1 + (i * 31 + (i % 7) * (i % 13)) % 300,
       (ARRAY['view', 'view', 'click', 'cart', 'purchase'])[1 + i % 5],
       '2026-01-01'::timestamptz + i * interval '1 minute', 1000 + i % 5000
  FROM generate_series(1, 6000) i;
CREATE VIEW shop.training AS
SELECT e.user_id, e.item_id, w.weight
  FROM shop.events e JOIN rerank.event_weights w USING (event_type) WHERE w.weight > 0;
CALL rerank.train_als('als_v1', 'shop.training', weight_column => 'weight', factors => 8,
                      iterations => 5);
CALL rerank.train_item_knn('knn_v1', 'shop.training', weight_column => 'weight', neighbors => 10);
SELECT rerank.create_model('imported_v1', 3);
INSERT INTO rerank.item_factors (model_id, item_id, factors)
SELECT rerank.model_id('imported_v1'), i, ARRAY[sin(i), cos(i), 1]::real[]
  FROM generate_series(1, 300) i;
INSERT INTO rerank.items SELECT i, 'c' || (i % 12), 'b' || (i % 5) FROM generate_series(1, 300) i;
SELECT rerank.activate_model('imported_v1');
SELECT rerank.activate_model('als_v1');
SELECT rerank.rebuild_user_features('shop.events', 'user_id', 'item_id', 'event_type',
                                    'occurred_at', 'dwell_ms');
SELECT rerank.attach('shop.events', 'user_id', 'item_id', 'event_type', 'occurred_at', 'dwell_ms');
SELECT rerank.attach('shop.bulk_events', 'user_id', 'item_id', 'event_type', 'occurred_at',
                     for_each => 'statement');
-- live events through both triggers
INSERT INTO shop.events VALUES (7, 11, 'click', '2026-02-01', 500), (7, 12, 'cart', '2026-02-01', 900);
INSERT INTO shop.bulk_events SELECT u, 20 + u, 'view', '2026-02-01' FROM generate_series(1, 30) u;
SQL

# What the deployment serves and keeps, compared before and after.
state() {
	q "$1" <<'SQL'
SELECT 'rerank ' || u || ': ' || rerank.rerank_ids(u, ARRAY(SELECT generate_series(1, 120)::bigint))::text
  FROM generate_series(1, 120, 17) u;
SELECT 'rerank mmr ' || u || ': ' || rerank.rerank_ids(u, ARRAY(SELECT generate_series(1, 120)::bigint),
                                                       k => 20, diversity => 0.3, max_per_category => 3)::text
  FROM generate_series(1, 120, 29) u;
SELECT 'rerank knn: ' || rerank.rerank_ids(7, ARRAY(SELECT generate_series(1, 120)::bigint), model => 'knn_v1')::text;
SELECT 'recommend: ' || string_agg(item_id::text, ',' ORDER BY score DESC, item_id)
  FROM rerank.recommend(7, 10);
SELECT 'predict: ' || round(rerank.predict(7, 11)::numeric, 5);
SELECT 'explain: ' || count(*) FROM rerank.explain(7, 11);
SELECT 'features: ' || md5(string_agg(f::text, ';' ORDER BY f.user_id))
  FROM (SELECT user_id, event_counts, total_dwell_ms, recent_items, recent_weights, purchased_items,
               category_weights FROM rerank.user_features) f;
SELECT 'vectors: ' || md5(string_agg(u::text, ';' ORDER BY u.model_id, u.user_id))
  FROM (SELECT model_id, user_id, factors FROM rerank.user_factors) u;
SELECT 'models: ' || string_agg(name || ' ' || is_active || ' ' || factors_version, ', ' ORDER BY model_id)
  FROM rerank.models;
SQL
}
before=$(state "$old")
[ -n "${RR_UPGRADE_DEBUG:-}" ] && echo "$before"
q "$old" -c "ALTER EXTENSION rerank UPDATE" >/dev/null
version=$(q "$old" -c "SELECT extversion FROM pg_extension WHERE extname = 'rerank'")
[ "$version" = "$current" ] || fail "ALTER EXTENSION rerank UPDATE left version $version, not $current"
after=$(state "$old")
rr_same_or_fail "what the 0.1.0 deployment serves changed with the update" "$before" "$after"

# the triggers still record events and re-solve vectors
check=$(PGOPTIONS="-c client_min_messages=warning" q "$old" <<'SQL'
INSERT INTO shop.events VALUES (7, 13, 'click', '2026-02-02', 100);
INSERT INTO shop.bulk_events SELECT u, 40 + u, 'cart', '2026-02-02' FROM generate_series(1, 30) u;
SELECT (SELECT (event_counts->>'click')::int FROM rerank.user_features WHERE user_id = 7)
       = (SELECT count(*) FROM shop.events WHERE user_id = 7 AND event_type = 'click'),
       (SELECT bool_and(f.recent_items[1] = 40 + f.user_id) FROM rerank.user_features f
         WHERE f.user_id BETWEEN 1 AND 30),
       (SELECT bool_and(rerank.euclidean_distance(u.factors,
                            rerank.fold_in_history(f.recent_items, f.recent_weights))
                        <= 1e-4 * (1 + rerank.l2_norm(u.factors)))
          FROM rerank.user_features f
          JOIN rerank.user_factors u ON u.user_id = f.user_id AND u.model_id = rerank.model_id('als_v1')
         WHERE f.user_id IN (7, 1, 2, 30));
SQL
)
[ "$check" = "t|t|t" ] || fail "after the update, the triggers (row, statement, fold-in): $check"
# training, activation, serving and rollback
check=$(PGOPTIONS="-c client_min_messages=warning" q "$old" <<'SQL'
CALL rerank.train_als('als_v2', 'shop.training', weight_column => 'weight', factors => 8,
                      iterations => 5, activate => true);
SELECT rerank.active_model() || ' '
       || (SELECT count(DISTINCT x) = 50 FROM unnest(rerank.rerank_ids(7, ARRAY(SELECT generate_series(1, 50)::bigint))) x)
       || ' ' || rerank.rollback_model();
SELECT rerank.active_model();
SQL
)
[ "$check" = "$(printf 'als_v2 true als_v1\nals_v1')" ] || fail "after the update, train/activate/serve/rollback: $check"
# a dump of the updated database restores (its schema rerank is not a
# member of the extension: pg_dump creates it first, and CREATE EXTENSION
# accepts it, empty and the restoring superuser's)
served=$(q "$old" -c "SELECT rerank.rerank_ids(7, ARRAY(SELECT generate_series(1, 120)::bigint))")
rr_dump_restore "$old" "$restored" 2>"$work/restore.log" ||
	{ cat "$work/restore.log"; fail "pg_restore of the updated database failed"; }
check=$(q "$restored" -c "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'rerank'),
                                rerank.rerank_ids(7, ARRAY(SELECT generate_series(1, 120)::bigint))")
[ "$check" = "$current|$served" ] || fail "the restored copy of the updated database: $check (expected $current|$served)"

# 2. the updated database against a fresh install
createdb "$fresh"
q "$fresh" -c "CREATE EXTENSION rerank" >/dev/null
q "$old" -f "$here/upgrade/describe.sql" >"$work/updated.txt"
q "$fresh" -f "$here/upgrade/describe.sql" >"$work/fresh.txt"
[ "$(wc -l <"$work/fresh.txt")" -gt 500 ] || fail "describe.sql described too little: $(wc -l <"$work/fresh.txt") lines"
if ! diff "$work/updated.txt" "$work/fresh.txt" >"$work/diff.txt"; then
	echo "upgrade: a database updated from 0.1.0 differs from a fresh $current install"
	echo "(< updated, > fresh; mirror every change of src/sql in the update script):"
	head -60 "$work/diff.txt"
	exit 1
fi
for db in "$old" "$fresh"; do
	bound=$(q "$db" -f "$here/upgrade/foreign_refs.sql")
	[ -z "$bound" ] || fail "$db is bound to objects outside pg_catalog and the extension: $bound"
done
# what describe.sql leaves out, as expected: the fresh install owns its
# schema, the updated one keeps 0.1.0's
ns="SELECT e.extnamespace::regnamespace || ' ' || EXISTS (SELECT FROM pg_depend d
        WHERE d.classid = 'pg_namespace'::regclass AND d.objid = 'rerank'::regnamespace
          AND d.refobjid = e.oid AND d.deptype = 'e')
      FROM pg_extension e WHERE e.extname = 'rerank'"
[ "$(q "$old" -c "$ns")" = "rerank false" ] || fail "updated database: extension schema and membership $(q "$old" -c "$ns")"
[ "$(q "$fresh" -c "$ns")" = "public true" ] || fail "fresh database: extension schema and membership $(q "$fresh" -c "$ns")"

# 3. the comparison sees each kind of change (each in a transaction that
# is rolled back)
missed=()
while IFS= read -r change; do
	[ -n "$change" ] || continue
	PGOPTIONS="-c client_min_messages=warning" rr_psql -d "$fresh" -At -c "BEGIN" -c "$change" \
		-f "$here/upgrade/describe.sql" -c "ROLLBACK" >"$work/changed.txt" ||
		fail "this change failed: $change"
	cmp -s "$work/changed.txt" "$work/fresh.txt" && missed+=("$change")
done <<'CHANGES'
COMMENT ON FUNCTION rerank.dot(real[], real[]) IS 'changed'
ALTER FUNCTION rerank.cosine_similarity(real[], real[]) STABLE
ALTER FUNCTION rerank.model_id(text) RESET search_path
ALTER FUNCTION rerank.recommend(bigint, integer, boolean, text) ROWS 5
GRANT EXECUTE ON FUNCTION rerank.explain(bigint, bigint, integer, integer, double precision, double precision, double precision, double precision, text, timestamptz) TO PUBLIC
ALTER TABLE rerank.items ADD CONSTRAINT items_positive CHECK (item_id > 0)
ALTER TABLE rerank.items ALTER COLUMN brand SET DEFAULT 'none'
ALTER TABLE rerank.user_features SET (fillfactor = 80)
CREATE INDEX ON rerank.user_features (updated_at)
COMMENT ON COLUMN rerank.items.brand IS 'changed'
CREATE FUNCTION rerank.extra() RETURNS integer LANGUAGE sql SET search_path = pg_catalog, pg_temp AS 'SELECT 1'; ALTER EXTENSION rerank ADD FUNCTION rerank.extra()
CREATE OR REPLACE FUNCTION rerank.models_guard() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$BEGIN RETURN NEW; END$$
ALTER TRIGGER models_guard ON rerank.models RENAME TO models_guard2
UPDATE rerank.event_weights SET weight = 1.5 WHERE event_type = 'view'
ALTER TABLE rerank.items ADD COLUMN extra integer
CHANGES
[ ${#missed[@]} -eq 0 ] || fail "describe.sql did not see these changes: ${missed[*]}"

# 4. a hijacked 0.1.0 install is not updated
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS rr_upgrade_mallory"
createdb "$hijacked"
q "$hijacked" >/dev/null <<'SQL'
CREATE ROLE rr_upgrade_mallory;
CREATE SCHEMA rerank;
GRANT USAGE, CREATE ON SCHEMA rerank TO rr_upgrade_mallory;
SET ROLE rr_upgrade_mallory;
CREATE FUNCTION rerank.hijack_ge(real, integer) RETURNS boolean LANGUAGE sql
    AS 'SELECT $1 OPERATOR(pg_catalog.>=) $2::real';
CREATE OPERATOR rerank.>= (LEFTARG = real, RIGHTARG = integer, FUNCTION = rerank.hijack_ge);
RESET ROLE;
CREATE EXTENSION rerank VERSION '0.1.0';
SQL
out=$(q "$hijacked" -c '\set VERBOSITY verbose' -c "ALTER EXTENSION rerank UPDATE" 2>&1 || true)
case "$out" in
*"other roles may create objects in schema \"rerank\": rr_upgrade_mallory"*55000*"operator rerank.>=(real,integer)"*) ;;
*) fail "ALTER EXTENSION UPDATE of a hijacked 0.1.0 install was not refused (and warned of) as it should be: $out" ;;
esac
dropdb "$hijacked"
psql -X -q -d postgres -c "DROP ROLE rr_upgrade_mallory"

# 5. the serving roles keep their grants on rerank(), rerank_ids() and
# explain(), which 0.2.0 re-creates with a new argument (as_of)
granted=rerank_upgrade_granted
rr_scratch_dbs "$granted"
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS rr_upgrade_app"
createdb "$granted"
check=$(q "$granted" <<'SQL'
CREATE ROLE rr_upgrade_app;
CREATE EXTENSION rerank VERSION '0.1.0';
GRANT EXECUTE ON FUNCTION rerank.rerank, rerank.rerank_ids, rerank.explain TO rr_upgrade_app;
ALTER EXTENSION rerank UPDATE;
SELECT string_agg(p.proname || ' ' || pronargs || ' '
                  || has_function_privilege('rr_upgrade_app', p.oid, 'EXECUTE') || ' '
                  || has_function_privilege('public', p.oid, 'EXECUTE'), ', ' ORDER BY p.proname)
  FROM pg_proc p WHERE p.pronamespace = 'rerank'::regnamespace
   AND p.proname IN ('rerank', 'rerank_ids', 'explain');
SQL
)
dropdb "$granted"
psql -X -q -d postgres -c "DROP ROLE rr_upgrade_app"
[ "$check" = "explain 10 true false, rerank 13 true false, rerank_ids 13 true false" ] ||
	fail "the grants on rerank(), rerank_ids() and explain() did not survive the update: $check"

echo "upgrade: 0.1.0 -> $current serves as before (rerank, recommend, predict, explain, triggers, training, dump/restore); the updated catalog equals a fresh install's ($(wc -l <"$work/fresh.txt") facts; the comparison saw all 15 planted changes); a hijacked 0.1.0 install is refused; grants on the re-created serving functions kept"
