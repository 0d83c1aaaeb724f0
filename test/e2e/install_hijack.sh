#!/usr/bin/env bash
# CREATE EXTENSION against a hostile role (issue 10, defects 5 and 7):
#  1. the issue's hijack: a superuser made the schema rerank and let
#     rr_mallory create in it; rr_mallory planted rerank.>=(real, integer)
#     and rerank.array_ndims(real[]), which 0.1.0's script bound into its
#     CHECK constraints and ran as superuser.  Now refused, nothing ran.
#  2. a pre-made schema is refused unless empty, owned by the installing
#     role and closed to CREATE by others; an acceptable one is used and
#     stays after DROP EXTENSION (the extension did not create it).
#  3. the same objects planted in public, the schema CREATE EXTENSION
#     records and puts in the search_path: the install succeeds, is bound
#     to none of them (catalog check, test/upgrade/foreign_refs.sql), never
#     calls them, also when the constraints and functions run afterwards;
#     every SQL and PL/pgSQL function has its search_path pinned.
#  4. DROP EXTENSION rerank CASCADE leaves no schema rerank behind.
# Runs against the cluster of test/run_tests.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/common.sh"
db=rerank_hijack
rr_scratch_dbs "$db"
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS rr_mallory"
createdb "$db"
fail() { echo "install_hijack: $*"; exit 1; }
q() { rr_psql -d "$db" -At "$@"; }

q >/dev/null <<'SQL'
CREATE ROLE rr_mallory;
-- what the planted objects did, as whom
CREATE TABLE public.hijack_log (run_as name, object text);
GRANT INSERT ON public.hijack_log TO PUBLIC;
SQL

# Plants the issue's objects (and a few more of the same kind) in schema $1
# as rr_mallory.
plant() {
	q >/dev/null <<SQL
SET ROLE rr_mallory;
CREATE FUNCTION $1.hijack_ge(real, integer) RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO public.hijack_log VALUES (current_user, '$1.>=(real, integer)');
    RETURN \$1 OPERATOR(pg_catalog.>=) \$2::real;
END \$\$;
CREATE OPERATOR $1.>= (LEFTARG = real, RIGHTARG = integer, FUNCTION = $1.hijack_ge);
CREATE FUNCTION $1.hijack_ge8(bigint, integer) RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO public.hijack_log VALUES (current_user, '$1.>=(bigint, integer)');
    RETURN \$1 OPERATOR(pg_catalog.>=) \$2;
END \$\$;
CREATE OPERATOR $1.>= (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = $1.hijack_ge8);
CREATE FUNCTION $1.array_ndims(real[]) RETURNS integer LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO public.hijack_log VALUES (current_user, '$1.array_ndims(real[])');
    RETURN pg_catalog.array_ndims(\$1);
END \$\$;
CREATE FUNCTION $1.cardinality(real[]) RETURNS integer LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO public.hijack_log VALUES (current_user, '$1.cardinality(real[])');
    RETURN pg_catalog.cardinality(\$1);
END \$\$;
CREATE FUNCTION $1.cardinality(bigint[]) RETURNS integer LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO public.hijack_log VALUES (current_user, '$1.cardinality(bigint[])');
    RETURN pg_catalog.cardinality(\$1);
END \$\$;
RESET ROLE;
SQL
}

# Runs CREATE EXTENSION rerank; prints "ok" or the error's SQLSTATE and message.
try_create() {
	q 2>&1 <<'SQL' || true
\set VERBOSITY sqlstate
CREATE EXTENSION rerank;
SELECT 'ok';
SQL
}
hijack_log() { q -c "SELECT coalesce(string_agg(run_as || ' ran ' || object, ', '), '') FROM public.hijack_log"; }
has_ext() { q -c "SELECT count(*) FROM pg_extension WHERE extname = 'rerank'"; }

# 1. the issue's hijack
q -c "CREATE SCHEMA rerank; GRANT USAGE, CREATE ON SCHEMA rerank TO rr_mallory" >/dev/null
plant rerank
out=$(try_create)
ran=$(hijack_log)
[ -z "$ran" ] || fail "the planted objects ran during CREATE EXTENSION: $ran"
[ "$(has_ext)" = 0 ] || fail "CREATE EXTENSION accepted a schema rerank where rr_mallory could create and had planted objects ($out)"
case "$out" in *42501*) ;; *) fail "expected SQLSTATE 42501 for a schema open to CREATE by others, got: $out" ;; esac
# rr_mallory's objects alone, CREATE revoked: refused as not empty
q -c "REVOKE CREATE ON SCHEMA rerank FROM rr_mallory" >/dev/null
out=$(try_create)
[ "$(has_ext)" = 0 ] || fail "CREATE EXTENSION accepted a schema rerank holding planted objects"
case "$out" in *42P06*) ;; *) fail "expected SQLSTATE 42P06 (not empty) for a schema with planted objects, got: $out" ;; esac
[ -z "$(hijack_log)" ] || fail "the planted objects ran: $(hijack_log)"
q -c "DROP SCHEMA rerank CASCADE" >/dev/null 2>&1

# 2. pre-made schemas: someone else's (empty) is refused, an empty one of
# the installing role is used and stays after DROP EXTENSION
q -c "CREATE SCHEMA rerank AUTHORIZATION rr_mallory" >/dev/null
out=$(try_create)
case "$out" in *42501*) ;; *) fail "expected SQLSTATE 42501 for a schema owned by another role, got: $out" ;; esac
q -c "DROP SCHEMA rerank" >/dev/null
q -c "CREATE SCHEMA rerank" >/dev/null
out=$(try_create)
[ "$out" = ok ] || fail "an empty schema rerank of the installing role was refused: $out"
q -c "DROP EXTENSION rerank CASCADE" >/dev/null
[ "$(q -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'rerank'")" = 1 ] ||
	fail "DROP EXTENSION dropped a schema rerank that it had not created"
q -c "DROP SCHEMA rerank" >/dev/null    # and it is empty again

# 3. the same objects in public, the schema CREATE EXTENSION records and
# puts first in the search_path of the script
q -c "GRANT CREATE ON SCHEMA public TO rr_mallory" >/dev/null
plant public
out=$(try_create)
[ "$out" = ok ] || fail "CREATE EXTENSION failed: $out"
[ -z "$(hijack_log)" ] || fail "the planted objects ran during CREATE EXTENSION: $(hijack_log)"
bound=$(q -f "$here/upgrade/foreign_refs.sql")
[ -z "$bound" ] || fail "the extension is bound to objects outside pg_catalog and itself: $bound"
unpinned=$(q <<'SQL'
SELECT string_agg(p.oid::regprocedure::text, ', ')
  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
  JOIN pg_language l ON l.oid = p.prolang
 WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'rerank')
   AND (l.lanname NOT IN ('c', 'internal') OR p.prosecdef)
   AND NOT coalesce(p.proconfig @> '{"search_path=pg_catalog, pg_temp"}', false);
SQL
)
[ -z "$unpinned" ] || fail "functions without SET search_path = pg_catalog, pg_temp: $unpinned"
# the constraints and functions at work, from a caller whose path starts
# with public
q >/dev/null <<'SQL'
SET search_path = public, rerank;
INSERT INTO rerank.event_weights (event_type, weight) VALUES ('share', 5);
UPDATE rerank.user_features SET total_dwell_ms = 1;
SELECT rerank.create_model('m', 2);
INSERT INTO rerank.item_factors (model_id, item_id, factors) VALUES (rerank.model_id('m'), 1, '{1,2}');
SELECT rerank.activate_model('m');
INSERT INTO rerank.model_interactions VALUES (rerank.model_id('m'), 1, '{1}', '{1}');
INSERT INTO rerank.user_features (user_id, recent_items, recent_weights) VALUES (1, '{1}', '{1}');
SELECT count(*) FROM rerank.model_versions;
SQL
[ -z "$(hijack_log)" ] || fail "the planted objects ran when the extension's constraints and functions did: $(hijack_log)"

# 4. the schema goes with the extension
q -c "DROP EXTENSION rerank CASCADE" >/dev/null
[ "$(q -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'rerank'")" = 0 ] ||
	fail "DROP EXTENSION rerank CASCADE left the schema rerank behind"

dropdb "$db"
psql -X -q -d postgres -c "DROP ROLE rr_mallory" >/dev/null
echo "install hijack: planted objects refused in a pre-made schema rerank, never bound or run from public; pre-made schemas checked; DROP EXTENSION drops the schema it created"
