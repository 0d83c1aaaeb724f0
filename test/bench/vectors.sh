#!/usr/bin/env bash
# Benchmark of the vector functions (issue 2): on 100,000 items × 64 dims,
#   floor : SELECT sum(array_length(factors, 1))      (per-row cost of reading the array)
#   dot   : SELECT sum(rerank.dot(factors, q))
#   cosine: SELECT sum(rerank.cosine_similarity(factors, q))
#   plain : the dot product in plain SQL (unnest)
# prints the median milliseconds of interleaved runs and the ratio to the
# floor measured in the same run.  Serial plans (no parallel workers), so the
# figures are per-row costs on one core.
#   bash test/bench/vectors.sh [items] [dims] [runs]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
items=${1:-100000}
dims=${2:-64}
runs=${3:-15}

rr_ensure_packages
rr_build_install
rr_cluster_start rerank-bench "max_parallel_workers_per_gather = 0" "jit = off"

rr_psql >/dev/null <<SQL
CREATE EXTENSION rerank;
CREATE TABLE items AS
SELECT i AS item_id,
       (SELECT array_agg(((hashint4(i * 131 + d) % 1000) / 1000.0)::real ORDER BY d)
          FROM generate_series(1, $dims) d) AS factors
  FROM generate_series(1, $items) i;
CREATE TABLE query AS
SELECT (SELECT array_agg(((hashint4(d * 7) % 1000) / 1000.0)::real ORDER BY d)
          FROM generate_series(1, $dims) d) AS q;
VACUUM ANALYZE items;
SQL

rr_log "timing $runs interleaved runs on $items items x $dims dims"
rr_psql -At <<SQL
CREATE TEMP TABLE timings (name text, ms float8);
DO \$\$
DECLARE
    q real[] := (SELECT q FROM query);
    t0 timestamptz;
    r float8;
    names text[] := ARRAY['floor', 'dot', 'cosine', 'plain SQL'];
    queries text[] := ARRAY[
        'SELECT sum(array_length(factors, 1)) FROM items',
        'SELECT sum(rerank.dot(factors, \$1)) FROM items',
        'SELECT sum(rerank.cosine_similarity(factors, \$1)) FROM items',
        'SELECT sum((SELECT sum(a * b) FROM unnest(factors, \$1) AS t(a, b))) FROM items'];
BEGIN
    -- warm the cache once
    FOR j IN 1 .. array_length(queries, 1) LOOP
        EXECUTE queries[j] USING q INTO r;
    END LOOP;
    FOR i IN 1 .. $runs LOOP
        FOR j IN 1 .. array_length(queries, 1) LOOP
            -- plain SQL is ~100x slower: a third of the runs is enough
            CONTINUE WHEN j = 4 AND i % 3 <> 0;
            t0 := clock_timestamp();
            EXECUTE queries[j] USING q INTO r;
            INSERT INTO timings VALUES (names[j],
                extract(epoch FROM clock_timestamp() - t0) * 1000);
        END LOOP;
    END LOOP;
END
\$\$;
\pset format aligned
\pset tuples_only off
WITH med AS (
    SELECT name, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms, count(*) AS runs
      FROM timings GROUP BY name)
SELECT m.name AS query, round(m.ms::numeric, 2) AS median_ms, m.runs,
       round((m.ms / f.ms)::numeric, 2) AS ratio_to_floor
  FROM med m, med f
 WHERE f.name = 'floor'
 ORDER BY m.ms;
SQL
