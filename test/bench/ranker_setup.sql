-- The data of the learned ranker's serving benchmarks (ranker_activation.sh,
-- ranker_workspace.sh): a factor model of :items items x :dims dimensions
-- with biases, :users users with vectors and features (20 history items with
-- counts, times and kinds, a session), categories and brands, item signals
-- and co-visitation lists from an event log made of the users' recent items,
-- and two rankers trained on that log: r100 (100 trees) and r300 (300 trees),
-- depth 6.  psql -v dims=... -v items=... -v users=... -f ranker_setup.sql
CREATE EXTENSION rerank;
SELECT rerank.create_model('bench', :dims) AS model_id \gset
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias)
SELECT :model_id, i,
       (SELECT array_agg((((hashint4(i * 131 + d) % 1000) / 1000.0) * 0.3)::real ORDER BY d)
          FROM generate_series(1, :dims) d),
       ((hashint4(i) % 100) / 1000.0)::real
  FROM generate_series(1, :items) i;
INSERT INTO rerank.user_factors (model_id, user_id, factors)
SELECT :model_id, u,
       (SELECT array_agg((((hashint4(u * 7 + d) % 1000) / 1000.0) * 0.3)::real ORDER BY d)
          FROM generate_series(1, :dims) d)
  FROM generate_series(1, :users) u;
INSERT INTO rerank.items (item_id, category, brand)
SELECT i, 'c' || (hashint4(i * 3) & 63), 'b' || (hashint4(i * 5) & 255)
  FROM generate_series(1, :items) i;
INSERT INTO rerank.user_features (user_id, recent_items, recent_weights, recent_counts,
                                  recent_last_at, recent_kinds, first_event_at, last_event_at,
                                  session_started_at)
SELECT u,
       (SELECT array_agg(1 + (hashint4(u * 1000 + j) & 2147483647) % :items ORDER BY j)
          FROM generate_series(1, 20) j),
       (SELECT array_agg((1 + j % 4)::real ORDER BY j) FROM generate_series(1, 20) j),
       (SELECT array_agg(1 + j % 3 ORDER BY j) FROM generate_series(1, 20) j),
       (SELECT array_agg(now() - j * interval '7 minutes' ORDER BY j) FROM generate_series(1, 20) j),
       (SELECT array_agg((1 << (j % 4))::smallint ORDER BY j) FROM generate_series(1, 20) j),
       now() - interval '3 hours', now() - interval '7 minutes', now() - interval '40 minutes'
  FROM generate_series(1, :users) u;
SELECT rerank.activate_model('bench');
CREATE TABLE bench_log AS
SELECT f.user_id, h.item_id,
       (ARRAY['view', 'view', 'click', 'cart'])[1 + (hashint8(f.user_id * 31 + h.item_id) & 3)] AS event_type,
       timestamptz '2026-01-01 00:00+00'
           + ((hashint8(f.user_id * 7 + h.item_id) & 2147483647) % (14 * 86400)) * interval '1 second' AS at
  FROM rerank.user_features f, unnest(f.recent_items) h(item_id);
SET client_min_messages = warning;
SELECT rerank.refresh_item_stats('bench_log', 'item_id', 'at', as_of => '2026-01-15 00:00+00');
CALL rerank.build_covisitation('bench_log', 'user_id', 'item_id', 'at');
CALL rerank.train_ranker('r100', 'bench_log', time_column => 'at', max_groups => 5000,
                         trees => 100, max_depth => 6, options => '{"warm_up": 0}');
CALL rerank.train_ranker('r300', 'bench_log', time_column => 'at', max_groups => 5000,
                         trees => 300, max_depth => 6, options => '{"warm_up": 0}');
RESET client_min_messages;
