#!/usr/bin/env bash
# Benchmark of in-database training (issue 3).
#
#   bash test/bench/training.sh            # accuracy, timings, synthetic 1M and 10M
#   SYNTH_SIZES="1000000" bash test/bench/training.sh   # smaller synthetic runs
#   SEEDS=3 RUNS=3 ...                     # fewer repetitions
#
# 1. Accuracy on MovieLens 100K, split random42 (every rating a positive of
#    weight 1), k = 10, whole catalog ranked minus each user's train items,
#    against the figures of the implicit library quoted in the issue; ALS
#    metrics are means over SEEDS seeds.
# 2. Training time of the CG solver (one backend, serial OpenBLAS), read of
#    the source included, median of RUNS runs, against implicit's
#    0.67–0.72 s; the Cholesky solver against its 4.3 s.
# 3. Synthetic sets (users × items with skewed item popularity, 100 rows per
#    user): training time and peak backend memory (VmHWM), for each size in
#    SYNTH_SIZES, to show how time grows with the interactions.
# 4. User-kNN (cosine, K = 50) beside item-kNN: accuracy in the table of 1,
#    training time on MovieLens 100K (median of RUNS) and on the synthetic
#    sets of UKNN_SYNTH_SIZES (default the 1M one: its cost grows with
#    Σ over items of |users|², about 100 times the 1M one's for the 10M
#    set), and the memory of the lists: in the served index (the bytes the
#    model cache charges, lists and interactions by user and by item) and
#    on disk (rerank.user_neighbors with its GIN index).
#
# The MovieLens part needs ../shared/data (RR_DATA) and skips with a message
# without it.  Timings on a shared 2-core VM are noisy: compare ratios.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
SEEDS=${SEEDS:-5}
RUNS=${RUNS:-7}
SYNTH_SIZES=${SYNTH_SIZES:-"1000000 10000000"}
UKNN_SYNTH_SIZES=${UKNN_SYNTH_SIZES:-"1000000"}

rr_ensure_packages
rr_build_install
rr_cluster_start rerank-bench-training "max_parallel_workers_per_gather = 0" "jit = off" \
	"work_mem = 64MB" "maintenance_work_mem = 512MB" "max_wal_size = 8GB" \
	"synchronous_commit = off"
rr_psql -c "CREATE EXTENSION rerank"

split=$RR_DATA/movielens-100k/splits
if [ -r "$split/random42_train.tsv" ] && [ -r "$split/random42_test.tsv" ]; then
	rr_log "MovieLens 100K random42: loading"
	rr_psql <<'SQL'
CREATE TABLE ml_raw (user_id bigint, item_id bigint, rating int, ts bigint);
CREATE TABLE ml_train (user_id bigint, item_id bigint);
CREATE TABLE ml_test (user_id bigint, item_id bigint);
SQL
	rr_psql -c "\\copy ml_raw FROM '$split/random42_train.tsv'"
	rr_psql -c "INSERT INTO ml_train SELECT user_id, item_id FROM ml_raw" -c "TRUNCATE ml_raw"
	rr_psql -c "\\copy ml_raw FROM '$split/random42_test.tsv'"
	rr_psql -c "INSERT INTO ml_test SELECT user_id, item_id FROM ml_raw" -c "ANALYZE ml_train" -c "ANALYZE ml_test"

	rr_log "accuracy (k = 10; ALS means over $SEEDS seeds)"
	[ "${SKIP_ACCURACY:-0}" = 1 ] || rr_psql -At -F ' ' <<SQL
SET client_min_messages = warning;
CREATE TABLE acc (label text, ord int, seed int, p float8, r float8, ndcg float8, map float8, ref text);
CREATE PROCEDURE run_als(label text, ord int, ref text, f int, reg float8, a float8, it int, seeds int)
LANGUAGE plpgsql AS \$\$
BEGIN
    FOR s IN 1..seeds LOOP
        CALL rerank.train_als('bench', 'ml_train', factors => f, regularization => reg,
                              alpha => a, iterations => it, seed => s, replace => true);
        INSERT INTO acc SELECT label, ord, s, precision_at_k, recall_at_k, ndcg_at_k, map_at_k, ref
          FROM rerank.evaluate('bench', 'ml_test', 10, 'ml_train');
    END LOOP;
END \$\$;
CALL run_als('ALS f64 reg 0.05 alpha 1 (c = 2), 15 it', 1, '0.292 0.211 0.353', 64, 0.05, 1, 15, $SEEDS);
CALL run_als('ALS f64 reg 0.05 alpha 0 (c = 1), 15 it', 2, '0.292 0.211 0.353', 64, 0.05, 0, 15, $SEEDS);
CALL run_als('ALS f128 reg 20 alpha 1 (c = 2), 15 it', 3, '- - 0.450 (tuned)', 128, 20, 1, 15, $SEEDS);
DO \$\$
BEGIN
    FOR s IN 1..$SEEDS LOOP
        CALL rerank.train_als('bench', 'ml_train', replace => true, seed => s);
        INSERT INTO acc SELECT 'ALS shipped defaults (f100 reg 22 alpha 1.2, 30 it)', 4, s,
               precision_at_k, recall_at_k, ndcg_at_k, map_at_k, '>= 0.45 target'
          FROM rerank.evaluate('bench', 'ml_test', 10, 'ml_train');
    END LOOP;
    CALL rerank.train_item_knn('knn', 'ml_train', neighbors => 50);
    INSERT INTO acc SELECT 'item-kNN cosine K = 50', 5, 0, precision_at_k, recall_at_k,
           ndcg_at_k, map_at_k, '- - 0.347'
      FROM rerank.evaluate('knn', 'ml_test', 10, 'ml_train');
    FOR s IN 1..3 LOOP
        CALL rerank.train_user_knn('uknn', 'ml_train', neighbors => 50, replace => true,
                                   similarity => (ARRAY['cosine', 'pearson', 'jaccard'])[s]);
        INSERT INTO acc SELECT format('user-kNN %s K = 50%s', (ARRAY['cosine', 'pearson', 'jaccard'])[s],
                                      CASE s WHEN 1 THEN ' (the defaults)' ELSE '' END),
               5 + s, 0, precision_at_k, recall_at_k, ndcg_at_k, map_at_k, '- (near item-kNN)'
          FROM rerank.evaluate('uknn', 'ml_test', 10, 'ml_train');
    END LOOP;
    PERFORM rerank.drop_model('uknn');
END \$\$;
\echo
\echo model | P@10 | R@10 | NDCG@10 (min-max over seeds) | MAP@10 | implicit P R NDCG
SELECT format('%-52s | %s | %s | %s (%s-%s) | %s | %s', label,
              round(avg(p)::numeric, 4), round(avg(r)::numeric, 4), round(avg(ndcg)::numeric, 4),
              round(min(ndcg)::numeric, 4), round(max(ndcg)::numeric, 4),
              round(avg(map)::numeric, 4), min(ref))
  FROM acc GROUP BY label, ord ORDER BY ord;
SQL

	rr_log "training time on MovieLens 100K (factors 64, reg 0.05, alpha 1, 15 iterations; median of $RUNS)"
	rr_psql -At -F ' ' <<SQL
SET client_min_messages = warning;
CREATE TABLE times (solver text, read float8, train float8, write float8, wall float8, cpu float8);
DO \$\$
DECLARE t0 timestamptz; m jsonb; solver text;
BEGIN
    FOR run IN 1..$RUNS LOOP
        FOREACH solver IN ARRAY ARRAY['cg', 'cholesky'] LOOP
            t0 := clock_timestamp();
            CALL rerank.train_als('timed', 'ml_train', factors => 64, regularization => 0.05,
                                  alpha => 1, iterations => 15, solver => solver, replace => true);
            SELECT metrics->'training' INTO m FROM rerank.models WHERE name = 'timed';
            INSERT INTO times VALUES (solver, (m->>'read_seconds')::float8, (m->>'train_seconds')::float8,
                                      (m->>'write_seconds')::float8,
                                      extract(epoch FROM clock_timestamp() - t0),
                                      (m->>'read_cpu_seconds')::float8 + (m->>'train_cpu_seconds')::float8);
        END LOOP;
    END LOOP;
END \$\$;
\echo
\echo solver | read s | train s | read+train s: median, min; CPU s median | implicit s | ratio (CPU, min wall) | write s | whole CALL s
SELECT format('%-8s | %s | %s | %s, %s; %s | %s | %s, %s | %s | %s', solver,
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY read)::numeric, 3),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY train)::numeric, 3),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY read + train)::numeric, 3),
              round(min(read + train)::numeric, 3),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu)::numeric, 3),
              CASE solver WHEN 'cg' THEN '0.67-0.72' ELSE '4.3' END,
              round((percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu) /
                     CASE solver WHEN 'cg' THEN 0.695 ELSE 4.3 END)::numeric, 2),
              round((min(read + train) / CASE solver WHEN 'cg' THEN 0.695 ELSE 4.3 END)::numeric, 2),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY write)::numeric, 3),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY wall)::numeric, 3))
  FROM times GROUP BY solver ORDER BY solver DESC;
SQL

	rr_log "kNN training time on MovieLens 100K (K = 50, cosine; median of $RUNS) and the memory of the lists"
	rr_psql -At -F ' ' <<SQL
SET client_min_messages = warning;
CREATE TABLE knn_times (algorithm text, read float8, train float8, train_cpu float8, write float8, wall float8);
DO \$\$
DECLARE t0 timestamptz; m jsonb;
BEGIN
    FOR run IN 1..$RUNS LOOP
        t0 := clock_timestamp();
        CALL rerank.train_item_knn('timed_knn', 'ml_train', neighbors => 50, replace => true);
        SELECT metrics->'training' INTO m FROM rerank.models WHERE name = 'timed_knn';
        INSERT INTO knn_times VALUES ('item_knn', (m->>'read_seconds')::float8, (m->>'train_seconds')::float8,
                                      NULL, NULL, extract(epoch FROM clock_timestamp() - t0));
        t0 := clock_timestamp();
        CALL rerank.train_user_knn('timed_uknn', 'ml_train', neighbors => 50, replace => true);
        SELECT metrics->'training' INTO m FROM rerank.models WHERE name = 'timed_uknn';
        INSERT INTO knn_times VALUES ('user_knn', (m->>'read_seconds')::float8, (m->>'train_seconds')::float8,
                                      (m->>'train_cpu_seconds')::float8, (m->>'write_seconds')::float8,
                                      extract(epoch FROM clock_timestamp() - t0));
    END LOOP;
END \$\$;
\echo
\echo algorithm | read s | neighbors s (median, min) | neighbors CPU s | write s | whole CALL s (median, min)
SELECT format('%-8s | %s | %s, %s | %s | %s | %s, %s', algorithm,
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY read)::numeric, 3),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY train)::numeric, 3),
              round(min(train)::numeric, 3),
              coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY train_cpu)::numeric, 3)::text, '-'),
              coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY write)::numeric, 3)::text, '-'),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY wall)::numeric, 3),
              round(min(wall)::numeric, 3))
  FROM knn_times GROUP BY algorithm ORDER BY algorithm;
SELECT count(*) FROM rerank.similar_users(1, 5, 'timed_uknn') \\g /dev/null
-- the runs above left dead rows: the live size of the lists
SELECT rerank.drop_model('timed_knn') \\g /dev/null
VACUUM FULL rerank.user_neighbors;
\echo
\echo user-kNN lists of MovieLens 100K: users, neighbor pairs, the lists in the index, the whole served index, on disk (table + GIN index)
SELECT format('%s users | %s pairs | lists %s (8 B a pair) | index %s (lists, histories by user and by item, id tables) | disk %s + %s',
              m.metrics->'training'->>'users', m.metrics->'training'->>'neighbor_pairs',
              pg_size_pretty((m.metrics->'training'->>'neighbor_pairs')::bigint * 8),
              pg_size_pretty(c.bytes),
              pg_size_pretty(pg_relation_size('rerank.user_neighbors')),
              pg_size_pretty(pg_relation_size('rerank.user_neighbors_neighbor_ids')))
  FROM rerank.models m, rerank.model_cache_info() c
 WHERE m.name = 'timed_uknn' AND c.model = m.name;
SELECT rerank.drop_model('timed_uknn') \\g /dev/null
SQL
else
	rr_log "SKIPPED the MovieLens part: $split not found (the shared data sets are not on this machine)"
fi

# Synthetic sets: 100 rows per user, items = users / 2, popularity skewed
# (item = ⌊items · u²⌋ for u uniform), duplicates summed by training.
echo
echo "synthetic | users | items | rows | interactions | read s | train s (15 it, s/it) | train CPU s | write s | VmHWM before -> after"
for size in $SYNTH_SIZES; do
	users=$((size / 100))
	items=$((users / 2))
	rr_log "synthetic: $size rows ($users users x $items items)"
	rr_psql -q <<SQL
DROP TABLE IF EXISTS synth;
SELECT setseed(0.42);
CREATE UNLOGGED TABLE synth AS
SELECT u::bigint AS user_id, (floor($items * random() ^ 2))::bigint + 1 AS item_id
  FROM generate_series(1, $users) u, generate_series(1, 100) j;
ANALYZE synth;
SQL
	rr_psql -At -F ' ' <<SQL
SET client_min_messages = warning;
SELECT regexp_replace(substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmHWM:\s*\d+ kB'), '\s+', ' ', 'g') AS before \gset
CALL rerank.train_als('synth', 'synth', factors => 64, regularization => 0.05, alpha => 1,
                      iterations => 15, replace => true);
SELECT format('%s | %s | %s | %s | %s | %s | %s (%s) | %s | %s | %s -> %s', $size, $users, $items,
              m->>'rows_read', m->>'interactions', round((m->>'read_seconds')::numeric, 2),
              round((m->>'train_seconds')::numeric, 2),
              round((SELECT avg(x::float8) FROM jsonb_array_elements_text(m->'iteration_seconds') x)::numeric, 3),
              round((m->>'train_cpu_seconds')::numeric, 2),
              round((m->>'write_seconds')::numeric, 2), :'before',
              regexp_replace(substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmHWM:\s*\d+ kB'), '\s+', ' ', 'g'))
  FROM (SELECT metrics->'training' AS m FROM rerank.models WHERE name = 'synth') t;
SELECT rerank.drop_model('synth');
SQL
	case " $UKNN_SYNTH_SIZES " in
	*" $size "*)
		rr_psql -At -F ' ' <<SQL
SET client_min_messages = warning;
SELECT regexp_replace(substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmHWM:\s*\d+ kB'), '\s+', ' ', 'g') AS before \\gset
CALL rerank.train_user_knn('synth_uknn', 'synth', neighbors => 50, replace => true);
SELECT count(*) FROM rerank.similar_users(1, 5, 'synth_uknn') \\g /dev/null
VACUUM FULL rerank.user_neighbors;
SELECT format('user-kNN K = 50 on %s rows: read %s s, neighbors %s s (CPU %s s), write %s s; %s pairs; lists %s, served index %s, on disk %s + %s; %s -> %s',
              $size, round((m->>'read_seconds')::numeric, 2), round((m->>'train_seconds')::numeric, 2),
              round((m->>'train_cpu_seconds')::numeric, 2), round((m->>'write_seconds')::numeric, 2),
              m->>'neighbor_pairs', pg_size_pretty((m->>'neighbor_pairs')::bigint * 8),
              pg_size_pretty((SELECT bytes FROM rerank.model_cache_info() WHERE model = 'synth_uknn')),
              pg_size_pretty(pg_relation_size('rerank.user_neighbors')),
              pg_size_pretty(pg_relation_size('rerank.user_neighbors_neighbor_ids')), :'before',
              regexp_replace(substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmHWM:\s*\d+ kB'), '\s+', ' ', 'g'))
  FROM (SELECT metrics->'training' AS m FROM rerank.models WHERE name = 'synth_uknn') t;
SELECT rerank.drop_model('synth_uknn') \\g /dev/null
SQL
		;;
	esac
done
