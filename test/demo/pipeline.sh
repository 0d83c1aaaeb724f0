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
#   rr_replay SCHEMA MODEL LABEL MAX_EVENTS OUT_DIR
#                                    the replay of docs/benchmarks.md, "The replay protocol":
#                                    streams SCHEMA.stream through the trigger in time
#                                    order, ranking before each event (at most
#                                    MAX_EVENTS ranked) under every generator and
#                                    strategy; appends to OUT_DIR/replay.csv,
#                                    lists.csv and segments.csv
#   rr_replay_table DIR              prints those CSV files as tables
#
# The replay's SQL is in test/demo/replay.sql (log, catalog, segments,
# candidate lists), replay_strategies.sql (the strategies: add one there) and
# replay_run.sql (the procedure that streams and ranks, the metrics).
# REPLAY_GENERATORS (uniform,popularity,category; legacy for the harness
# check) and REPLAY_STRATEGIES (all of replay_strategies.sql) select subsets.

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
	local generators=${REPLAY_GENERATORS:-uniform,popularity,category}
	local strategies=${REPLAY_STRATEGIES:-} started=$SECONDS
	local psql_=(psql -X -q -v ON_ERROR_STOP=1 -v "schema=$schema" -v "model=$model"
		-v "stale=${model}_stale" -v "cap=$max_events" -v "generators=$generators"
		-v "strategies=$strategies")
	mkdir -p "$out"
	"${psql_[@]}" -f "$RR_DEMO_DIR/replay.sql"
	"${psql_[@]}" -f "$RR_DEMO_DIR/replay_strategies.sql"
	rr_log "$label: candidate lists ready ($((SECONDS - started)) s); streaming and ranking"
	"${psql_[@]}" -f "$RR_DEMO_DIR/replay_run.sql"
	[ -s "$out/replay.csv" ] ||
		echo "dataset,generator,strategy,segment,events,hr_at_10,ndcg_at_10,mrr" > "$out/replay.csv"
	[ -s "$out/replay_summary.csv" ] ||
		echo "dataset,generator,strategy,hr_at_10,ndcg_at_10,mrr,hr_repeat,hr_revisit,hr_known,hr_no_vector,hr_new" > "$out/replay_summary.csv"
	[ -s "$out/lists.csv" ] ||
		echo "dataset,generator,lists,mean_length,touched_negatives" > "$out/lists.csv"
	[ -s "$out/segments.csv" ] ||
		echo "dataset,segment,stream_events,ranked_events,share" > "$out/segments.csv"
	psql -X -At -F, -c "SELECT '$label', * FROM replay.results" >> "$out/replay.csv"
	psql -X -At -F, -c "SELECT '$label', * FROM replay.summary" >> "$out/replay_summary.csv"
	psql -X -At -F, -c "SELECT '$label', * FROM replay.list_stats" >> "$out/lists.csv"
	psql -X -At -F, -c "SELECT '$label', * FROM replay.segment_stats" >> "$out/segments.csv"
	rr_log "$label: replay done in $((SECONDS - started)) s"
}

# rr_replay_table DIR [--markdown]: the replay's CSV files in DIR as one
# table per data set: a line with the ranked events and their segments, then
# per generator (its mean list length, negatives the user touched before)
# and strategy: HR@10, NDCG@10, MRR, and HR@10 per segment.  --markdown
# prints Markdown tables (for docs/benchmarks.md or a closing note).
rr_replay_table() {
	local dir=$1 markdown=0
	[ "${2:-}" = --markdown ] && markdown=1
	awk -F, '
		FILENAME ~ /segments.csv$/ && FNR > 1 {
			if (!($1 in stream)) sets[++nsets] = $1
			stream[$1] += $3; ranked[$1] += $4
			segs[$1] = segs[$1] sprintf(", %s %.1f%%", $2, 100 * $5)
		}
		FILENAME ~ /lists.csv$/ && FNR > 1 { len[$1, $2] = $4; touched[$1, $2] = $5 }
		FILENAME ~ /replay_summary.csv$/ && FNR > 1 { rows[$1] = rows[$1] $0 "\n" }
		END {
			for (d = 1; d <= nsets; d++) {
				s = sets[d]
				printf "%s: %d of %d later events ranked%s\n", s, ranked[s], stream[s], segs[s]
				print "generator|length|touched|strategy|HR@10|NDCG@10|MRR|HR@10 repeat|revisit|known|no_vector|new"
				n = split(rows[s], lines, "\n")
				last = ""
				for (k = 1; k < n; k++) {
					m = split(lines[k], f, ",")
					g = f[2]
					line = (g == last) ? "||" : g "|" len[s, g] "|" touched[s, g]
					for (j = 3; j <= m; j++) line = line "|" (f[j] == "" ? "-" : f[j])
					print line
					last = g
				}
				print ""
			}
		}' "$dir/segments.csv" "$dir/lists.csv" "$dir/replay_summary.csv" |
		awk -F'|' -v markdown="$markdown" '
			function flush(   i, j, m, f, line) {
				if (markdown) {
					for (i = 1; i <= n; i++) {
						gsub(/\|/, " | ", buf[i])
						print "| " buf[i] " |"
						if (i == 1) {
							m = split(buf[1], f, " \\| ")
							line = "|"
							for (j = 1; j <= m; j++) line = line (j == 1 || j == 4 ? "---|" : "---:|")
							print line
						}
					}
					n = 0
					return
				}
				for (i = 1; i <= n; i++) {
					m = split(buf[i], f, "|")
					line = ""
					for (j = 1; j <= m; j++)
						line = line sprintf((j == 1 || j == 4 ? "%-" : "%") w[j] "s  ", f[j])
					sub(/ +$/, "", line)
					print line
				}
				n = 0
				split("", w)
			}
			/\|/ { buf[++n] = $0; for (j = 1; j <= NF; j++) if (length($j) > w[j]) w[j] = length($j); next }
			{ if (n) flush(); print; if (markdown && $0 != "") print "" }
			END { if (n) flush() }'
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
