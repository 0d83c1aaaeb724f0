# test/demo/pipeline.sh: the steps of the demo and of the replay evaluation,
# as bash functions over a server reached through PGHOST/PGPORT/PGUSER/
# PGDATABASE (a throwaway cluster of test/lib/common.sh, or any server).
#
#   rr_load SCHEMA KIND ARGS...      test/demo/load.sh: SCHEMA.items, .events (history), .stream
#   rr_train SCHEMA MODEL [OPTIONS]  ALS on the history (weights from rerank.event_weights)
#   rr_tracked_shop DB MODEL USERS ITEMS EVENTS SEED [OPTIONS]
#                                    a new database DB (made PGDATABASE) with a synthetic
#                                    shop, MODEL trained and active, the trigger attached
#   rr_prepare_replay SCHEMA MODEL   stale copy of the model, features seeded from the
#                                    history, the trigger attached to SCHEMA.events
#   rr_replay SCHEMA MODEL LABEL MAX_EVENTS OUT_CSV
#                                    streams SCHEMA.stream through the trigger in time
#                                    order, ranking before each first touch; appends
#                                    the metrics per strategy to OUT_CSV
#
# The replay, for each event of the stream in time order: if the user has not
# touched the item before (a repeat touch would reward mere recall of the
# last page), it builds the candidate list the upstream stage would send:
# the item plus 99 negatives drawn from the history's popularity
# distribution among items the user never touches (deterministic hash
# sampling), sorted by popularity, and ranks it under each strategy:
#   upstream        the list as it comes (popularity order)
#   stale           the model as trained: user vectors from training, no trigger
#   realtime_model  trigger-updated user vectors, model score only
#   realtime        trigger-updated vectors and rerank()'s real-time blend
#   realtime_mmr    the same with diversity => 0.3
# then inserts the event into SCHEMA.events, where the trigger updates the
# user's features and vector.  Metrics: HR@10, NDCG@10, MRR of the touched
# item, and of each top 10 the intra-list diversity (mean pairwise 1 − cosine
# of the item vectors) and category coverage (distinct categories / 10).

RR_DEMO_DIR=${RR_DEMO_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}

rr_load() {
	bash "$RR_DEMO_DIR/load.sh" "$@"
}

# rr_train SCHEMA MODEL [extra named arguments of train_als, as SQL]
rr_train() {
	local schema=$1 model=$2 extra=${3:-}
	psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE OR REPLACE VIEW $schema.training AS
SELECT e.user_id, e.item_id, w.weight
  FROM $schema.events e JOIN rerank.event_weights w USING (event_type)
 WHERE w.weight > 0;
CALL rerank.train_als('$model', '$schema.training', weight_column => 'weight',
                      replace => true $extra);
SQL
}

# rr_tracked_shop DB MODEL USERS ITEMS EVENTS SEED [extra named arguments of
# train_als]: a deployment to test against, in a new database DB that later
# psql calls use: the extension, a synthetic shop (rr_load), ALS model MODEL
# trained on its history and active, the users' features rebuilt from
# shop.events and the trigger attached to it.  Prints only warnings and
# errors.
rr_tracked_shop() {
	local db=$1 model=$2 extra=${7:-}
	createdb "$db"
	export PGDATABASE=$db
	rr_psql -c "CREATE EXTENSION rerank"
	rr_load shop synthetic "$3" "$4" "$5" "$6" >/dev/null
	PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" rr_train shop "$model" "$extra"
	PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" rr_psql >/dev/null <<SQL
SELECT rerank.activate_model('$model');
SELECT rerank.rebuild_user_features('shop.events', 'user_id', 'item_id', 'event_type',
                                    'occurred_at', 'dwell_ms');
SELECT rerank.attach('shop.events', 'user_id', 'item_id', 'event_type', 'occurred_at', 'dwell_ms');
SQL
}

# rr_evaluate SCHEMA MODEL: NDCG@10 etc. of the model on the stream's first
# touches, excluding the history (prints one CSV line without header)
rr_evaluate() {
	local schema=$1 model=$2
	psql -X -q -v ON_ERROR_STOP=1 -At -F, <<SQL
CREATE OR REPLACE VIEW $schema.held_out AS
SELECT DISTINCT s.user_id, s.item_id FROM $schema.stream s
 WHERE NOT EXISTS (SELECT FROM $schema.events e
                    WHERE e.user_id = s.user_id AND e.item_id = s.item_id);
SELECT '$model', round(precision_at_k::numeric, 4), round(recall_at_k::numeric, 4),
       round(ndcg_at_k::numeric, 4), round(map_at_k::numeric, 4),
       round(hit_rate::numeric, 4), round(coverage::numeric, 4)
  FROM rerank.evaluate('$model', '$schema.held_out', k => 10, train => '$schema.training');
SQL
}

rr_prepare_replay() {
	local schema=$1 model=$2
	psql -X -q -v ON_ERROR_STOP=1 <<SQL
-- the model as trained, frozen: same item vectors, the trained user vectors
SELECT rerank.drop_model(name, force => true) FROM rerank.models WHERE name = '${model}_stale';
SELECT rerank.create_model('${model}_stale', m.dimensions, 'imported', m.params,
                           'frozen copy of ${model} at training time')
  FROM rerank.models m WHERE m.name = '$model';
INSERT INTO rerank.item_factors (model_id, item_id, factors, bias)
SELECT rerank.model_id('${model}_stale'), item_id, factors, bias
  FROM rerank.item_factors WHERE model_id = rerank.model_id('$model');
INSERT INTO rerank.user_factors (model_id, user_id, factors)
SELECT rerank.model_id('${model}_stale'), user_id, factors
  FROM rerank.user_factors WHERE model_id = rerank.model_id('$model');
SELECT rerank.activate_model('$model')
 WHERE rerank.active_model() IS DISTINCT FROM '$model';

-- what the triggers would have recorded for the history
SELECT rerank.rebuild_user_features('$schema.events', 'user_id', 'item_id',
                                    'event_type', 'occurred_at', 'dwell_ms',
                                    fold_in => true) AS users_seeded;
SELECT rerank.detach('$schema.events');
SELECT rerank.attach('$schema.events', 'user_id', 'item_id', 'event_type',
                     'occurred_at', 'dwell_ms');
SQL
}

rr_replay() {
	local schema=$1 model=$2 label=$3 max_events=$4 out=$5
	psql -X -q -v ON_ERROR_STOP=1 <<SQL
-- the candidate lists: the touched item and 99 popularity-sampled negatives
CREATE TABLE $schema.popularity AS
SELECT item_id, count(*) AS n, row_number() OVER (ORDER BY count(*) DESC, item_id) AS pop_rank
  FROM $schema.events GROUP BY item_id;
CREATE TABLE $schema.cumulative AS
SELECT array_agg(item_id ORDER BY pop_rank) AS items,
       array_agg((cum - n)::float8 / total ORDER BY pop_rank) AS lower_bounds
  FROM (SELECT item_id, n, pop_rank, sum(n) OVER (ORDER BY pop_rank) AS cum,
               sum(n) OVER () AS total
          FROM $schema.popularity) p;
CREATE TABLE $schema.user_items AS
SELECT DISTINCT user_id, item_id FROM $schema.events
UNION SELECT DISTINCT user_id, item_id FROM $schema.stream;
CREATE INDEX ON $schema.user_items (user_id, item_id);
-- first touches, at most $max_events, spread over the whole stream
CREATE TABLE $schema.targets AS
SELECT s.event_id, s.user_id, s.item_id FROM (
    SELECT s.*, row_number() OVER (PARTITION BY s.user_id, s.item_id ORDER BY s.event_id) AS nth
      FROM $schema.stream s) s
 WHERE s.nth = 1
   AND NOT EXISTS (SELECT FROM $schema.events e WHERE e.user_id = s.user_id AND e.item_id = s.item_id)
   AND s.item_id IN (SELECT item_id FROM $schema.popularity);
DELETE FROM $schema.targets t
 WHERE (SELECT count(*) FROM $schema.targets) > $max_events
   AND hashint8(t.event_id) % ((SELECT count(*) FROM $schema.targets) / $max_events + 1) <> 0;
CREATE TABLE $schema.candidates AS
SELECT t.event_id, t.user_id, t.item_id AS target,
       (SELECT array_agg(item_id ORDER BY pop_rank, item_id)
          FROM (SELECT t.item_id
                UNION
                (SELECT DISTINCT c.items[width_bucket(
                            ((hashint8extended(t.event_id * 1000 + j, 42) & 281474976710655)::float8
                             / 281474976710656.0), c.lower_bounds)]
                   FROM $schema.cumulative c, generate_series(1, 300) j
                  WHERE NOT EXISTS (SELECT FROM $schema.user_items ui
                                     WHERE ui.user_id = t.user_id
                                       AND ui.item_id = c.items[width_bucket(
                            ((hashint8extended(t.event_id * 1000 + j, 42) & 281474976710655)::float8
                             / 281474976710656.0), c.lower_bounds)])
                  LIMIT 99)) picked
          JOIN $schema.popularity USING (item_id)) AS items
  FROM $schema.targets t;
CREATE UNIQUE INDEX ON $schema.candidates (event_id);
CREATE TABLE $schema.ranked (event_id bigint, strategy text, rank integer, top10 bigint[]);

CREATE PROCEDURE $schema.replay() LANGUAGE plpgsql AS \$proc\$
DECLARE
    ev record;
    cands bigint[];
    ranked bigint[];
    n integer := 0;
BEGIN
    FOR ev IN SELECT * FROM $schema.stream ORDER BY event_id LOOP
        SELECT c.items INTO cands FROM $schema.candidates c WHERE c.event_id = ev.event_id;
        IF cands IS NOT NULL THEN
            INSERT INTO $schema.ranked VALUES
                (ev.event_id, 'upstream', array_position(cands, ev.item_id), cands[1:10]);
            ranked := rerank.rerank_ids(ev.user_id, cands, model => '${model}_stale',
                                        recent_weight => 0, position_weight => 0,
                                        category_weight => 0);
            INSERT INTO $schema.ranked VALUES
                (ev.event_id, 'stale', array_position(ranked, ev.item_id), ranked[1:10]);
            ranked := rerank.rerank_ids(ev.user_id, cands, recent_weight => 0,
                                        position_weight => 0, category_weight => 0);
            INSERT INTO $schema.ranked VALUES
                (ev.event_id, 'realtime_model', array_position(ranked, ev.item_id), ranked[1:10]);
            ranked := rerank.rerank_ids(ev.user_id, cands);
            INSERT INTO $schema.ranked VALUES
                (ev.event_id, 'realtime', array_position(ranked, ev.item_id), ranked[1:10]);
            ranked := rerank.rerank_ids(ev.user_id, cands, diversity => 0.3);
            INSERT INTO $schema.ranked VALUES
                (ev.event_id, 'realtime_mmr', array_position(ranked, ev.item_id), ranked[1:10]);
        END IF;
        INSERT INTO $schema.events (user_id, item_id, event_type, occurred_at, dwell_ms)
        VALUES (ev.user_id, ev.item_id, ev.event_type, ev.occurred_at, ev.dwell_ms);
        n := n + 1;
        IF n % 2000 = 0 THEN
            COMMIT;
            RAISE NOTICE '% events replayed', n;
        END IF;
    END LOOP;
    COMMIT;
END
\$proc\$;
SET client_min_messages = warning;
CALL $schema.replay();
SQL
	# metrics per strategy
	psql -X -q -v ON_ERROR_STOP=1 -At -F, <<SQL >> "$out"
WITH pairs AS (
    SELECT r.event_id, r.strategy,
           avg(1 - rerank.cosine_similarity(rerank.item_vector(a.id, '$model'),
                                            rerank.item_vector(b.id, '$model'))) AS ild
      FROM $schema.ranked r,
           unnest(r.top10) WITH ORDINALITY a(id, i),
           unnest(r.top10) WITH ORDINALITY b(id, j)
     WHERE a.i < b.j
       AND rerank.item_vector(a.id, '$model') IS NOT NULL
       AND rerank.item_vector(b.id, '$model') IS NOT NULL
     GROUP BY r.event_id, r.strategy),
cov AS (
    SELECT r.event_id, r.strategy,
           count(DISTINCT i.category)::float8 / greatest(cardinality(r.top10), 1) AS coverage
      FROM $schema.ranked r, unnest(r.top10) t(id) JOIN $schema.items i ON i.item_id = t.id
     GROUP BY r.event_id, r.strategy, r.top10)
SELECT '$label', r.strategy, count(*),
       round(avg((r.rank <= 10)::int)::numeric, 4),
       round(avg(CASE WHEN r.rank <= 10 THEN 1 / log(2, r.rank + 1) ELSE 0 END)::numeric, 4),
       round(avg(1.0 / r.rank)::numeric, 4),
       round(avg(p.ild)::numeric, 4),
       round(avg(c.coverage)::numeric, 4)
  FROM $schema.ranked r
  LEFT JOIN pairs p USING (event_id, strategy)
  LEFT JOIN cov c USING (event_id, strategy)
 GROUP BY r.strategy
 ORDER BY array_position(ARRAY['upstream', 'stale', 'realtime_model', 'realtime', 'realtime_mmr'], r.strategy);
SQL
}

# rr_latency SCHEMA MODEL OUT_CSV [SECONDS]: p50 latency per call, one
# pgbench client, prepared statements, variants interleaved in one run:
# SELECT 1, the plain-SQL equivalent (join + ORDER BY rerank.dot), the
# primary-key fetch of the same rows, rerank() and rerank() with MMR, each
# over 500 candidates (or the whole catalog if smaller) for users with
# features.  Writes query,p50_ms,ratio_to_select_1.
rr_latency() {
	local schema=$1 model=$2 out=$3 seconds=${4:-10}
	local work lists=8 model_id l v n=0 f
	local variants=(select1 plain_sql pk_fetch rerank rerank_mmr)
	local labels=("SELECT 1" "plain SQL (join + ORDER BY dot)" "PK fetch of the rows" "rerank()" "rerank() + MMR")
	local defs=() args=()
	work=$(mktemp -d /tmp/rerank-latency.XXXXXX)
	chmod 777 "$work"
	model_id=$(psql -X -At -c "SELECT rerank.model_id('$model')")
	l=0
	while IFS='|' read -r u c; do
		[ -n "$u" ] || continue
		l=$((l + 1))
		defs+=(-D "u$l=$u" -D "c$l=$c")
	done < <(psql -X -At <<SQL
SELECT u.user_id, (SELECT array_agg(item_id ORDER BY hashint8(item_id * 31 + l))
                     FROM (SELECT item_id FROM rerank.item_factors
                            WHERE model_id = $model_id
                            ORDER BY hashint8(item_id + l * 7919) LIMIT 500) c)::text
  FROM generate_series(1, $lists) l,
       LATERAL (SELECT user_id FROM rerank.user_features
                 ORDER BY hashint8(user_id + l) LIMIT 1) u;
SQL
)
	for v in "${variants[@]}"; do
		for ((l = 1; l <= lists; l++)); do
			f="$work/$(printf '%03d' "$n")_$v.sql"
			case $v in
			select1) echo "SELECT 1;" ;;
			plain_sql) echo "SELECT f.item_id, rerank.dot(f.factors, u.factors) + f.bias AS score" \
					"FROM rerank.item_factors f, rerank.user_factors u" \
					"WHERE u.model_id = $model_id AND u.user_id = :u$l AND f.model_id = $model_id" \
					"AND f.item_id = ANY (:c$l::bigint[]) ORDER BY score DESC LIMIT 20;" ;;
			pk_fetch) echo "SELECT count(*), sum(bias), sum(array_length(factors, 1))" \
					"FROM rerank.item_factors WHERE model_id = $model_id AND item_id = ANY (:c$l::bigint[]);" ;;
			rerank) echo "SELECT item_id, score, rank FROM rerank.rerank(:u$l, :c$l::bigint[], k => 20);" ;;
			rerank_mmr) echo "SELECT item_id, score, rank FROM rerank.rerank(:u$l, :c$l::bigint[], k => 20, diversity => 0.3);" ;;
			esac >"$f"
			args+=(-f "$f")
			n=$((n + 1))
		done
	done
	pgbench -n -M prepared -c 1 -j 1 -t $((n * 3)) "${defs[@]}" "${args[@]}" >/dev/null
	(cd "$work" && pgbench -n -M prepared -c 1 -j 1 -T "$seconds" -l --log-prefix="$work/log" \
		"${defs[@]}" "${args[@]}" >/dev/null)
	{
		echo "query,p50_ms,ratio_to_select_1"
		rr_pgbench_latency "$work" "$lists" "${#variants[@]}" |
			awk -v names="$(IFS='|'; echo "${labels[*]}")" '
			BEGIN { split(names, name, "|") }
			{ p50[NR] = $2 }
			END { for (v = 1; v <= NR; v++) printf "%s,%.3f,%.2f\n", name[v], p50[v], p50[v] / p50[1] }'
	} >"$out"
	rm -rf "$work"
}
