#!/usr/bin/env bash
# The README's "Five minutes in SQL" runs as written: its SQL block is taken
# from README.md and run with psql against a synthetic shop (shop.products
# with categories and brands, and an events.csv of 20,000 events, the last
# day's half after the training cut-off), and its results are checked,
# item statistics and co-visitation lists included.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/common.sh"

db=rerank_walkthrough
work=$(mktemp -d /tmp/rerank-walk.XXXXXX)
rr_scratch_path "$work"
rr_scratch_dbs "$db"
createdb "$db"

gcc -O2 -o "$work/gen_events" "$here/demo/gen_events.c" -lm
"$work/gen_events" --users 300 --items 2000 --categories 20 --events 20000 --seed 7 \
	--items-out "$work/items.csv" --events-out "$work/raw.csv"
# user,item,category,type,ts,dwell → user,item,type,occurred_at,dwell, spread
# over the last two days so that the README's "last day" holds the newer half
now=$(date +%s)
awk -F, -v now="$now" 'NR == FNR { if (min == "" || $5 < min) min = $5; if ($5 > max) max = $5; next }
	{ t = now - 172800 + ($5 - min) * 172000 / (max - min + 1)
	  printf "%s,%s,%s,%s,%s\n", $1, $2, $4, strftime("%Y-%m-%d %H:%M:%S+00", t, 1), $6 }' \
	"$work/raw.csv" "$work/raw.csv" > "$work/events.csv"
# the ids the README uses have history, so they have vectors
for item in 1001 1002 1003 1004 1005 1017; do
	for user in 41 42 43; do
		echo "$user,$item,view,$(date -u -d @$((now - 170000)) '+%Y-%m-%d %H:%M:%S+00'),5000"
	done
done >> "$work/events.csv"

# the SQL block under "## Five minutes in SQL"
awk '/^## Five minutes in SQL/ { on = 1 } on && /^```sql/ { code = 1; next }
	code && /^```/ { exit } code { print }' "$here/../README.md" > "$work/walkthrough.sql"
[ -s "$work/walkthrough.sql" ] || { echo "no SQL block under 'Five minutes in SQL' in README.md"; exit 1; }

rr_psql -d "$db" >/dev/null <<SQL
CREATE SCHEMA shop;
CREATE TABLE shop.products (item_id bigint PRIMARY KEY, category text, brand text);
\copy shop.products (item_id, category) FROM '$work/items.csv' (FORMAT csv)
UPDATE shop.products SET brand = 'b' || item_id % 40;
SQL
(cd "$work" && psql -X -v ON_ERROR_STOP=1 -d "$db" -f walkthrough.sql > walkthrough.out 2>&1) || {
	echo "the README walk-through failed:"
	tail -20 "$work/walkthrough.out"
	exit 1
}

# what it should have done
check=$(rr_psql -d "$db" -At <<'SQL'
SELECT (SELECT count(*) FROM shop.events) = 20019,
       (SELECT count(*) FROM rerank.user_features) > 250,
       (SELECT rerank.active_model() = 'als_v1' AND count(*) = 2 FROM rerank.models),
       (SELECT (metrics->'evaluation'->>'ndcg_at_k')::float8 > 0 FROM rerank.models WHERE name = 'als_v1'),
       (SELECT recent_items[1] = 1017 FROM rerank.user_features WHERE user_id = 42),
       (SELECT count(*) FROM rerank.user_factors f JOIN rerank.models m USING (model_id)
         WHERE m.name = 'als_v1') > 250,
       (SELECT count(*) FROM rerank.items WHERE brand IS NOT NULL) = 2000,
       (SELECT count(*) FROM rerank.item_stats) > 1000,
       (SELECT count(*) FROM rerank.item_covisits) > 100;
SQL
)
if [ "$check" != "t|t|t|t|t|t|t|t|t" ]; then
	echo "walk-through results unexpected: $check"
	cat "$work/walkthrough.out"
	exit 1
fi
# rerank()'s first row (item | score | rank 1), and explain()'s history terms
grep -Eq '^ +[0-9]+ \| +-?[0-9.e+-]+ \| +1$' "$work/walkthrough.out" &&
	grep -q "model_score: history" "$work/walkthrough.out" ||
	{ echo "rerank() or explain() printed nothing"; cat "$work/walkthrough.out"; exit 1; }
echo "README walk-through: runs as written (events, training, evaluation, rerank, explain, rollback)"
