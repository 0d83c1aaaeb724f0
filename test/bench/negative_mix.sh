#!/usr/bin/env bash
# The selection of train_ranker's default negative mix (docs/ranker.md, "The
# negatives' mix"): on the history of each of the replay's data sets (never
# the stream), trains the ranker as the replay's training step does
# (test/demo/replay_strategies.sql, replay.train_ranker(): train_als on the
# first half of the history by time, train_ranker with groups from the
# second half, depth 4, seed 42) once per mix of the grid, and prints the
# held-out metrics, among them holdout_uniform (each held-out positive among
# 99 items drawn uniformly from the catalog as of the event: candidates the
# mix does not shape), holdout_popularity and holdout_category (the same
# positives among 99 items drawn as the replay's popularity and category
# generators draw them), and each mix's selection score per data set: the
# mean of the ranker's NDCG@10 over the three (docs/ranker.md, "The second
# selection").
#   bash test/bench/negative_mix.sh [out.csv = ./report/negative_mix.csv]
# Environment: REPLAY_DATASETS (movielens,taobao,synthetic); data sets missing
# under ../shared/data (RR_DATA) are skipped with a message.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/common.sh"
source "$here/demo/pipeline.sh"
out=${1:-$(pwd)/report/negative_mix.csv}
datasets=,${REPLAY_DATASETS:-movielens,taobao,synthetic},
# name:popular/category/uniform, the grid declared in docs/ranker.md
grid=(${NEGMIX_GRID:-"D:0/0/1" "A:0.25/0.25/0.5" "C:0/0.5/0.5" "E:0/1/0"})

rr_build_install
rr_cluster_start rerank-negmix
rr_psql -c "CREATE EXTENSION rerank"
mkdir -p "$(dirname "$out")"
echo "dataset,mix,popular,category,uniform,groups,uniform_groups,ranker_ndcg,blend_ndcg,ranker_uniform_ndcg,ranker_uniform_hr,blend_uniform_ndcg,blend_uniform_hr,ranker_popularity_ndcg,ranker_category_ndcg,blend_popularity_ndcg,blend_category_ndcg,score" > "$out"
started=$SECONDS

select_mix() {
	local schema=$1 label=$2 t0=$SECONDS
	shift 2
	rr_log "$label: loading"
	rr_load "$schema" "$@"
	psql -X -q -v ON_ERROR_STOP=1 <<SQL 2>&1 | { grep -E 'ERROR|trained in' || true; }
SELECT rerank.attach('$schema.events', 'user_id', 'item_id', 'event_type', 'occurred_at', 'dwell_ms');
CREATE TABLE IF NOT EXISTS public.negmix_cut (schema_name text PRIMARY KEY, cut timestamptz);
INSERT INTO public.negmix_cut
SELECT '$schema', percentile_disc(0.5) WITHIN GROUP (ORDER BY occurred_at) FROM $schema.events;
CREATE VIEW $schema.ranker_history AS
SELECT e.user_id, e.item_id, w.weight
  FROM $schema.events e JOIN rerank.event_weights w USING (event_type)
 WHERE w.weight > 0 AND e.occurred_at < (SELECT cut FROM public.negmix_cut WHERE schema_name = '$schema');
CALL rerank.train_als('negmix_als', '$schema.ranker_history', weight_column => 'weight', replace => true);
SQL
	for entry in "${grid[@]}"; do
		local mix=${entry%%:*} shares=${entry#*:}
		local p=${shares%%/*} rest=${shares#*/}
		local c=${rest%%/*} u=${rest#*/}
		psql -X -q -v ON_ERROR_STOP=1 <<SQL 2>&1 | { grep -E 'held-out|ERROR' || true; } | sed "s/^NOTICE:  /   $label $mix: /"
SELECT cut FROM public.negmix_cut WHERE schema_name = '$schema' \gset
CALL rerank.train_ranker('negmix_$mix', replace => true, max_depth => 4,
     options => jsonb_build_object('factor_model', 'negmix_als', 'groups_since', :'cut'::timestamptz, 'holdout_lists', 'all',
                                   'negative_mix', jsonb_build_object('popular', $p, 'category', $c, 'uniform', $u)));
SQL
		psql -X -At -F, -v ON_ERROR_STOP=1 >> "$out" <<SQL
SELECT '$label', '$mix', $p, $c, $u,
       metrics->'training'->>'groups', metrics->'evaluation'->'holdout_uniform'->>'groups',
       round((metrics->'evaluation'->'ranker'->>'ndcg_at_10')::numeric, 4),
       round((metrics->'evaluation'->'blend'->>'ndcg_at_10')::numeric, 4),
       round((metrics->'evaluation'->'holdout_uniform'->'ranker'->>'ndcg_at_10')::numeric, 4),
       round((metrics->'evaluation'->'holdout_uniform'->'ranker'->>'hit_rate_at_10')::numeric, 4),
       round((metrics->'evaluation'->'holdout_uniform'->'blend'->>'ndcg_at_10')::numeric, 4),
       round((metrics->'evaluation'->'holdout_uniform'->'blend'->>'hit_rate_at_10')::numeric, 4),
       round((metrics->'evaluation'->'holdout_popularity'->'ranker'->>'ndcg_at_10')::numeric, 4),
       round((metrics->'evaluation'->'holdout_category'->'ranker'->>'ndcg_at_10')::numeric, 4),
       round((metrics->'evaluation'->'holdout_popularity'->'blend'->>'ndcg_at_10')::numeric, 4),
       round((metrics->'evaluation'->'holdout_category'->'blend'->>'ndcg_at_10')::numeric, 4),
       round(((metrics->'evaluation'->'holdout_uniform'->'ranker'->>'ndcg_at_10')::numeric
              + (metrics->'evaluation'->'holdout_popularity'->'ranker'->>'ndcg_at_10')::numeric
              + (metrics->'evaluation'->'holdout_category'->'ranker'->>'ndcg_at_10')::numeric) / 3, 4)
  FROM rerank.models WHERE name = 'negmix_$mix';
SQL
	done
	rr_psql -c "SELECT rerank.detach('$schema.events')" >/dev/null
	rr_log "$label: $((SECONDS - t0)) s in all"
}

ml=$RR_DATA/movielens-100k/splits
tb=$RR_DATA/taobao-userbehavior
if [[ $datasets != *,movielens,* ]]; then
	:
elif [ -r "$ml/temporal_train.tsv" ] && [ -r "$ml/temporal_test.tsv" ]; then
	select_mix ml movielens movielens "$ml/temporal_train.tsv" "$ml/temporal_test.tsv"
else
	rr_log "skipping MovieLens: $ml/temporal_{train,test}.tsv not found"
fi
if [[ $datasets != *,taobao,* ]]; then
	:
elif [ -r "$tb/UserBehavior_users_head.csv" ] && [ -r "$tb/UserBehavior_users_tail.csv" ]; then
	catalog=()
	if [ -r "$tb/UserBehavior_timeslice_20171126.csv" ]; then
		catalog=(--catalog "$tb/UserBehavior_timeslice_20171126.csv")
	fi
	select_mix tb taobao taobao "$tb/UserBehavior_users_head.csv" "$tb/UserBehavior_users_tail.csv" "${catalog[@]}"
else
	rr_log "skipping Taobao: $tb/UserBehavior_users_{head,tail}.csv not found"
fi
if [[ $datasets == *,synthetic,* ]]; then
	select_mix sy synthetic synthetic 2000 5000 200000 42
fi
echo
column -s, -t < "$out"
rr_log "selection in $((SECONDS - started)) s; $out"
