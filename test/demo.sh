#!/usr/bin/env bash
# The README's main command: the whole rerank story on a throwaway cluster.
#
#   sudo bash test/demo.sh [options]
#
# Installs what is missing, builds and installs the extension, starts a
# throwaway cluster (or uses the server of --connection), and runs:
#   1. a shop schema (items with categories, events) filled by the built-in
#      synthetic e-commerce generator, or by real data files;
#   2. ALS training on the history before a cut-off, evaluation, activation;
#   3. the behavior trigger attached to the events table, and the events
#      after the cut-off streamed through it in time order, while
#   4. a replay ranks, before each event (at most --replay-events of them),
#      the item the user is about to touch among the candidates of three
#      generators (uniform, popularity-sampled, same category), by each
#      strategy: upstream order, popularity, the repeat-then-category
#      heuristic, the model as trained, rerank()'s real-time blend
#      (docs/benchmarks.md, "The replay protocol");
#   5. for a few users, the upstream list and the re-ranked list side by side,
#      with rerank.explain() for the top items;
#   6. rerank latency next to SELECT 1 and the plain-SQL equivalents;
#   7. an HTML report with charts (gnuplot).
# Nothing is left running unless --keep is given.
#
# Options:
#   --data synthetic|movielens|taobao   data set (default synthetic)
#   --users N --items N --events N --seed S
#                           size of the synthetic data (2000, 5000, 200000, 42);
#                           up to 10 million events for scale runs
#   --movielens TRAIN [TEST]  u.data-format files (TEST: the events to stream;
#                           without it the last 20% of the time span)
#   --taobao FILE...        Taobao UserBehavior CSV files (user,item,category,
#                           behavior,timestamp); each user's last 20% is streamed
#                           (default: the per-user files, with the time-slice
#                           file's items in the catalog)
#   --replay-events N       at most N events ranked in the replay (2000)
#   --connection CONNINFO   use this server instead of a throwaway cluster
#                           (rerank must be installed there; the demo writes
#                           the schemas shop and replay (both dropped first) and
#                           rerank's tables in that database;
#                           a password comes from PGPASSWORD or ~/.pgpass)
#   --report DIR            where the report goes (default: ./report)
#   --keep                  leave the throwaway cluster running
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/common.sh"
source "$here/demo/pipeline.sh"

data=synthetic
users=2000
items=5000
events=200000
seed=42
movielens=()
taobao=()
replay_events=2000
connection=
report=$(pwd)/report
keep=0
while [ $# -gt 0 ]; do
	case $1 in
		--data) data=$2; shift 2 ;;
		--users) users=$2; shift 2 ;;
		--items) items=$2; shift 2 ;;
		--events) events=$2; shift 2 ;;
		--seed) seed=$2; shift 2 ;;
		--movielens)
			data=movielens
			shift
			while [ $# -gt 0 ] && [[ $1 != --* ]]; do movielens+=("$1"); shift; done ;;
		--taobao)
			data=taobao
			shift
			while [ $# -gt 0 ] && [[ $1 != --* ]]; do taobao+=("$1"); shift; done ;;
		--replay-events) replay_events=$2; shift 2 ;;
		--connection) connection=$2; shift 2 ;;
		--report) report=$2; shift 2 ;;
		--keep) keep=1; shift ;;
		-h|--help) sed -n '2,43p' "$0"; exit 0 ;;
		*) rr_die "unknown option $1 (see --help)" ;;
	esac
done
case $data in
	synthetic) ;;
	movielens)
		if [ ${#movielens[@]} -eq 0 ]; then
			movielens=("$RR_DATA/movielens-100k/splits/temporal_train.tsv"
				"$RR_DATA/movielens-100k/splits/temporal_test.tsv")
		fi
		for f in "${movielens[@]}"; do [ -r "$f" ] || rr_die "cannot read $f"; done ;;
	taobao)
		if [ ${#taobao[@]} -eq 0 ]; then
			taobao=("$RR_DATA/taobao-userbehavior/UserBehavior_users_head.csv"
				"$RR_DATA/taobao-userbehavior/UserBehavior_users_tail.csv"
				--catalog "$RR_DATA/taobao-userbehavior/UserBehavior_timeslice_20171126.csv")
		fi
		for f in "${taobao[@]}"; do [ "$f" = --catalog ] || [ -r "$f" ] || rr_die "cannot read $f"; done ;;
	*) rr_die "--data must be synthetic, movielens or taobao" ;;
esac

if [ -n "$connection" ]; then
	rr_ensure_packages gnuplot-nox
	# every later psql and pgbench connects through these (a password comes
	# from PGPASSWORD or ~/.pgpass)
	read -r PGHOST PGPORT PGDATABASE PGUSER < <(psql -X -At "$connection" \
		-c '\echo :HOST :PORT :DBNAME :USER') ||
		rr_die "cannot connect with \"$connection\""
	export PGHOST PGPORT PGDATABASE PGUSER
	rr_log "using $PGDATABASE on $PGHOST:$PGPORT as $PGUSER"
	psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION IF NOT EXISTS rerank" ||
		rr_die "cannot create the extension there (install it with make install on that server)"
else
	rr_ensure_packages gnuplot-nox
	rr_build_install
	if [ "$keep" = 1 ]; then RR_KEEP_CLUSTER=1; fi
	rr_cluster_start rerank-demo
	rr_psql -c "CREATE EXTENSION rerank"
fi
mkdir -p "$report"
rm -f "$report"/*.csv "$report"/*.png "$report"/index.html "$report"/notes.md
started=$SECONDS
model=shop_als

rr_log "1. the shop: schema shop (items, events) with $data data"
case $data in
	synthetic) rr_load shop synthetic "$users" "$items" "$events" "$seed" ;;
	movielens) rr_load shop movielens "${movielens[@]}" ;;
	taobao) rr_load shop taobao "${taobao[@]}" ;;
esac

rr_log "2. training ALS, item-kNN and user-kNN on the history before the cut-off (CALL rerank.train_als, …)"
rr_train shop "$model" 2>&1 | grep -E 'NOTICE: .*(iteration (1|5|10|15|20|25|30) of|trained in)|ERROR:' |
	sed 's/^NOTICE:  /   /'
rr_psql -c "SET client_min_messages = warning" \
	-c "CALL rerank.train_item_knn('shop_knn', 'shop.training', weight_column => 'weight', replace => true)" \
	-c "CALL rerank.train_user_knn('shop_uknn', 'shop.training', weight_column => 'weight', replace => true)"
echo "model,precision_at_10,recall_at_10,ndcg_at_10,map_at_10,hit_rate_at_10,coverage_at_10" > "$report/models.csv"
rr_evaluate shop "$model" >> "$report/models.csv"
rr_evaluate shop shop_knn >> "$report/models.csv"
rr_evaluate shop shop_uknn >> "$report/models.csv"
echo "   evaluation on the first touches after the cut-off (full catalog, history excluded):"
column -t -s, "$report/models.csv" | sed 's/^/   /'
psql -X -At -F, -v ON_ERROR_STOP=1 -c "SELECT m.name, l.i, l.loss, s.seconds
                      FROM rerank.models m,
                           jsonb_array_elements_text(m.metrics->'training'->'loss') WITH ORDINALITY l(loss, i),
                           jsonb_array_elements_text(m.metrics->'training'->'iteration_seconds') WITH ORDINALITY s(seconds, i)
                     WHERE m.name = '$model' AND s.i = l.i ORDER BY l.i" |
	{ echo "model,iteration,loss,seconds"; cat; } > "$report/training_loss.csv"
rr_psql -c "SELECT rerank.activate_model('$model')" >/dev/null
echo "   active model: $(psql -X -At -c 'SELECT rerank.active_model()')"

rr_log "3. the trigger on shop.events, features seeded from the history"
rr_prepare_replay shop "$model" >/dev/null
psql -X -At -c "SELECT '   ' || tgname || ' on shop.events: ' || pg_get_triggerdef(oid)
                  FROM pg_trigger WHERE tgrelid = 'shop.events'::regclass AND NOT tgisinternal"

rr_log "4. streaming $(psql -X -At -c 'SELECT count(*) FROM shop.stream') events through the trigger, ranking before each (at most $replay_events)"
rr_replay shop "$model" "$data" "$replay_events" "$report"
rr_replay_table "$report" | sed 's/^/   /'

rr_log "5. three users: the upstream list and rerank()'s order, with explanations"
psql -X -q -v ON_ERROR_STOP=1 <<SQL
\pset footer off
-- the last list (of the first generator, uniform by default) of the three
-- replayed users with the longest histories
CREATE TEMP TABLE shown AS
SELECT user_id, upstream FROM (
    SELECT DISTINCT ON (l.user_id) l.user_id, c.items[1:20] AS upstream,
           cardinality(f.recent_items) AS history
      FROM replay.lists c JOIN replay.log l USING (seq)
      JOIN rerank.user_features f USING (user_id)
     WHERE c.generator = (SELECT generators[1] FROM replay.settings)
     ORDER BY l.user_id, c.seq DESC) last
 ORDER BY history DESC, user_id
 LIMIT 3;
SELECT s.user_id, u.position, u.item_id AS upstream_item, ui.category AS upstream_category,
       r.item_id AS reranked_item, ri.category AS reranked_category, round(r.score::numeric, 3) AS score
  FROM shown s
  CROSS JOIN LATERAL unnest(s.upstream) WITH ORDINALITY u(item_id, position)
  JOIN LATERAL rerank.rerank(s.user_id, s.upstream, k => 8) r ON r.rank = u.position
  LEFT JOIN shop.items ui ON ui.item_id = u.item_id
  LEFT JOIN shop.items ri ON ri.item_id = r.item_id
 ORDER BY s.user_id, u.position;
-- why the first item came first
SELECT s.user_id, r.item_id, e.term, e.history_item_id,
       round(e.value::numeric, 4) AS value, round(e.contribution::numeric, 4) AS contribution
  FROM shown s
  CROSS JOIN LATERAL rerank.rerank(s.user_id, s.upstream, k => 1) r
  CROSS JOIN LATERAL rerank.explain(s.user_id, r.item_id, n => 3,
                                    upstream_position => array_position(s.upstream, r.item_id)) e;
SQL

rr_log "6. latency of rerank() next to SELECT 1 and the plain-SQL equivalents"
rr_latency shop "$model" "$report/latency.csv"
column -t -s, "$report/latency.csv" | sed 's/^/   /'

rr_log "7. the report"
{
	echo "Demo run with $data data; model $model ($(psql -X -At -c "SELECT params::text FROM rerank.models WHERE name = '$model'"))."
	echo "Replay (docs/benchmarks.md, \"The replay protocol\"): before each event after the cut-off (at most $replay_events ranked, a deterministic sample), the touched item is ranked among the candidates of each generator (up to 100: uniform over the catalog, popularity-sampled, same category) by each strategy; every event counts: re-visits, items without a vector, items never seen."
} > "$report/notes.md"
bash "$here/demo/report.sh" "$report" >/dev/null
rr_log "demo finished in $((SECONDS - started)) s; report: $report/index.html"
if [ -z "$connection" ] && [ "$keep" = 1 ]; then
	trap - EXIT
	rr_log "cluster left running: PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER psql"
fi
