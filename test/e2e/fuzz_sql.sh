#!/usr/bin/env bash
# SQL-level fuzzing of the extension's surface: thousands of calls of every
# rerank function, aggregate and procedure with random combinations of
# edge-case arguments (NULLs, empty, huge, multi-dimensional and
# non-default-bound arrays, NULL elements, NaN and infinities, negative and
# huge sizes, unknown users, items and models, hand-crafted aggregate
# states), against a database with an active ALS model, an item-kNN model,
# a user-kNN model, features and a tracked event table.  Errors are
# expected; a crash of the backend (which would restart every connection of
# the server) fails the test.  The calls are generated in SQL from a seed,
# so a failure is reproducible:
#   FUZZ_SEED=… FUZZ_CALLS=… bash test/e2e/fuzz_sql.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/common.sh"
source "$here/demo/pipeline.sh"
seed=${FUZZ_SEED:-20261129}
calls=${FUZZ_CALLS:-4000}
db=rerank_fuzz
work=$(mktemp -d /tmp/rerank-fuzz.XXXXXX)
[ -n "${FUZZ_KEEP:-}" ] || rr_scratch_path "$work"
rr_scratch_dbs "$db"
rr_tracked_shop "$db" m 300 800 8000 3 ", factors => 8, iterations => 3"
rr_psql -c "SET client_min_messages = warning" \
	-c "CALL rerank.train_item_knn('k', 'shop.training', weight_column => 'weight', neighbors => 10)" \
	-c "CALL rerank.train_user_knn('u', 'shop.training', weight_column => 'weight', neighbors => 10)"

# Argument pools (SQL literals) and call templates; %s are filled from the
# pools named in the template's argument list.
rr_psql -At > "$work/calls.sql" <<SQL
WITH pools(name, vals) AS (VALUES
  ('vec', ARRAY['NULL::real[]', '''{}''::real[]', '''{1,2,3}''::real[]', '''{1,NULL,3}''::real[]',
                '''{NaN,1,2}''::real[]', '''{Infinity,1,1}''::real[]', '''{-Infinity}''::real[]',
                '''{{1,2},{3,4}}''::real[]', '''[5:7]={1,2,3}''::real[]',
                'array_fill(1::real, ARRAY[100000])', '''{3e38,3e38,3e38}''::real[]',
                '''{0,0,0,0,0,0,0,0}''::real[]', '''{1,2,3,4,5,6,7,8}''::real[]',
                '''{1e-45,1e-45,1e-45,1e-45,1e-45,1e-45,1e-45,1e-45}''::real[]',
                'rerank.item_vector(1)', 'ARRAY[]::real[]']),
  ('ids', ARRAY['NULL::bigint[]', '''{}''::bigint[]', '''{1,2,3,4,5}''::bigint[]',
                '''{1,NULL,1,2,2}''::bigint[]', '''{{1,2},{3,4}}''::bigint[]',
                '''[0:2]={3,2,1}''::bigint[]', 'ARRAY(SELECT generate_series(1, 100000)::bigint)',
                '''{-1,0,9223372036854775807}''::bigint[]', 'ARRAY(SELECT generate_series(1, 800)::bigint)',
                '''{7}''::bigint[]', 'ARRAY[NULL]::bigint[]']),
  ('id', ARRAY['NULL::bigint', '0', '-1', '1', '42', '9223372036854775807', '7', '100']),
  ('k', ARRAY['NULL::integer', '-1', '0', '1', '5', '2147483647']),
  ('f', ARRAY['NULL::float8', '''NaN''::float8', '''Infinity''::float8', '''-Infinity''::float8',
              '-1', '0', '0.3', '1', '2', '1e308']),
  ('b', ARRAY['NULL::boolean', 'true', 'false']),
  ('model', ARRAY['NULL::text', '''m''', '''k''', '''u''', '''nope''', '''''', 'repeat(''x'', 1000)']),
  ('sim', ARRAY['NULL::text', '''cosine''', '''jaccard''', '''pearson''', '''nope''', '''''']),
  ('state', ARRAY['''{}''::float8[]', 'NULL::float8[]', '''{1,1,1,2,3}''::float8[]',
                  '''{-1,1,1}''::float8[]', '''{1e308,1e308,1e308}''::float8[]',
                  '''{1,1,NaN}''::float8[]', '''{{1,2},{3,4}}''::float8[]', '''{0,0}''::float8[]',
                  'array_fill(1::float8, ARRAY[70000])', '''{1,NULL}''::float8[]']),
  ('int', ARRAY['NULL::integer', '-5', '0', '1', '3', '100000', '2147483647']),
  ('w', ARRAY['NULL::real[]', '''{}''::real[]', '''{1,2,3,4,5}''::real[]', '''{1,NaN}''::real[]',
              '''{-1,1,1,1,1}''::real[]', '''{Infinity,1,1,1,1}''::real[]']),
  ('src', ARRAY['''shop.training''', '''shop.items''', '''pg_class''', 'NULL::regclass',
                '''shop.events'''])
),
templates(t, args) AS (VALUES
  ('SELECT rerank.dot(%s, %s)', '{vec,vec}'),
  ('SELECT rerank.cosine_similarity(%s, %s)', '{vec,vec}'),
  ('SELECT rerank.euclidean_distance(%s, %s)', '{vec,vec}'),
  ('SELECT rerank.pearson_correlation(%s, %s)', '{vec,vec}'),
  ('SELECT rerank.l2_norm(%s)', '{vec}'),
  ('SELECT cardinality(rerank.l2_normalize(%s))', '{vec}'),
  ('SELECT rerank.vector_sum(v) FROM (VALUES (%s), (%s)) t(v)', '{vec,vec}'),
  ('SELECT rerank.vector_avg(v, %s) FROM (VALUES (%s), (%s)) t(v)', '{f,vec,vec}'),
  ('SELECT cardinality(rerank.gram_matrix(v)) FROM (VALUES (%s), (%s)) t(v)', '{vec,vec}'),
  ('SELECT rerank.vector_accum(%s, %s)', '{state,vec}'),
  ('SELECT rerank.vector_weighted_accum(%s, %s, %s)', '{state,vec,f}'),
  ('SELECT rerank.vector_combine(%s, %s)', '{state,state}'),
  ('SELECT rerank.vector_sum_final(%s)', '{state}'),
  ('SELECT rerank.vector_avg_final(%s)', '{state}'),
  ('SELECT cardinality(rerank.gram_accum(%s, %s))', '{state,vec}'),
  ('SELECT rerank.gram_combine(%s, %s)', '{state,state}'),
  ('SELECT cardinality(rerank.gram_final(%s))', '{state}'),
  ('SELECT rerank.als_fold_in(v, w, %s) FROM (VALUES (%s, 1::real), (%s, 2::real)) t(v, w)', '{model,vec,vec}'),
  ('SELECT rerank.als_fold_in_accum(%s, %s, 1::real, %s)', '{state,vec,model}'),
  ('SELECT rerank.als_fold_in_combine(%s, %s)', '{state,state}'),
  ('SELECT rerank.als_fold_in_final(%s)', '{state}'),
  ('SELECT count(*) FROM rerank.rerank(%s, %s, k => %s, diversity => %s, max_per_category => %s, exclude_purchased => %s, exclude => %s, model => %s)', '{id,ids,k,f,int,b,ids,model}'),
  ('SELECT count(*) FROM rerank.rerank(%s, %s, model_weight => %s, recent_weight => %s, position_weight => %s, category_weight => %s)', '{id,ids,f,f,f,f}'),
  ('SELECT cardinality(rerank.rerank_ids(%s, %s, k => %s, diversity => %s))', '{id,ids,k,f}'),
  ('SELECT count(*) FROM rerank.explain(%s, %s, n => %s, upstream_position => %s, model => %s)', '{id,id,int,int,model}'),
  ('SELECT rerank.predict(%s, %s, %s)', '{id,id,model}'),
  ('SELECT count(*) FROM rerank.recommend(%s, k => %s, exclude_seen => %s, model => %s)', '{id,k,b,model}'),
  ('SELECT count(*) FROM rerank.similar_items(%s, k => %s, model => %s)', '{id,k,model}'),
  ('SELECT cardinality(rerank.fold_in_history(%s, %s, %s))', '{ids,w,model}'),
  ('SELECT cardinality(rerank.item_vector(%s, %s))', '{id,model}'),
  ('INSERT INTO shop.events (user_id, item_id, event_type, occurred_at, dwell_ms) VALUES (%s, %s, (ARRAY[''view'',''cart'',''purchase'',NULL,''zzz''])[1 + (%s %% 5)], now(), %s)', '{id,id,int,int}'),
  ('SELECT count(*) FROM rerank.evaluate(%s, %s, k => %s)', '{model,src,k}'),
  ('CALL rerank.train_als(''fz'', %s, factors => %s, iterations => %s, regularization => %s, alpha => %s, replace => true)', '{src,int,int,f,f}'),
  ('SELECT rerank.forget_user(%s)', '{id}'),
  ('SELECT count(*) FROM rerank.similar_users(%s, k => %s, model => %s)', '{id,k,model}'),
  ('CALL rerank.train_user_knn(''fu'', %s, neighbors => %s, similarity => %s, shrinkage => %s, min_overlap => %s, replace => true)', '{src,int,sim,f,int}'),
  ('SELECT rerank.warm_model(%s)', '{model}'),
  ('SELECT count(*) FROM rerank.model_memory WHERE name = %s', '{model}')
),
numbered AS (SELECT row_number() OVER () AS n, t, args FROM templates),
draws AS (
  SELECT g, (SELECT count(*) FROM templates) AS nt,
         abs(hashint8extended(g, $seed)) AS h
    FROM generate_series(1, $calls) g)
SELECT (SELECT format(n.t, VARIADIC (
          SELECT array_agg(p.vals[1 + abs(hashint8extended(d.g * 100 + a.i, $seed + 1)) % cardinality(p.vals)]
                           ORDER BY a.i)
            FROM unnest(n.args::text[]) WITH ORDINALITY a(pool, i)
            JOIN pools p ON p.name = a.pool)) || ';'
          FROM numbered n WHERE n.n = 1 + d.h % d.nt)
  FROM draws d ORDER BY d.g;
SQL

{
	echo "SET statement_timeout = '5s';"
	echo "SET client_min_messages = error;"
	echo "\\set VERBOSITY verbose"
	cat "$work/calls.sql"
	echo "SELECT 'fuzz run complete';"
} > "$work/run.sql"
set +e
psql -X -q -f "$work/run.sql" > "$work/out.txt" 2> "$work/err.txt"
rc=$?
set -e
if [ $rc -ne 0 ] || ! grep -q "fuzz run complete" "$work/out.txt"; then
	echo "the server crashed or the session was lost (psql exit $rc); last statements:"
	grep -n "connection\|server closed\|terminated" "$work/err.txt" | head -5
	tail -5 "$work/err.txt"
	exit 1
fi
errors=$(grep -c "^psql:.*ERROR" "$work/err.txt" || true)
kinds=$(grep -o "ERROR:  [0-9A-Z]\{5\}" "$work/err.txt" | sort -u | wc -l)
# internal errors (elog, XX000) mean a check the code thought could not fail
internal=$(grep -c "ERROR:  XX000" "$work/err.txt" || true)
if [ "$internal" -gt 0 ]; then
	echo "internal errors (SQLSTATE XX000) among the fuzz calls:"
	grep -A1 "ERROR:  XX000" "$work/err.txt" | sort | uniq -c | sort -rn | head -20
	exit 1
fi
echo "fuzz: $calls calls (seed $seed), no crash; $errors rejected with $kinds kinds of error"
