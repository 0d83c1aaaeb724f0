#!/usr/bin/env bash
# Loads a data set into a shop schema, split at a cut-off into the history
# (shop.events, what training sees) and the stream (shop.stream, replayed
# later in time order through the trigger).
#
#   bash test/demo/load.sh SCHEMA synthetic [users items events seed]
#   bash test/demo/load.sh SCHEMA movielens TRAIN.tsv [TEST.tsv]   (u.data format;
#        genres from the u.item found beside the files)
#   bash test/demo/load.sh SCHEMA taobao FILE.csv [FILE.csv ...] [--catalog FILE.csv ...]
#        (the files after --catalog add only their items and categories)
#
# Runs psql against the server in PGHOST/PGPORT/PGUSER/PGDATABASE.  Creates
# SCHEMA.items (item_id, category, listed_at), SCHEMA.events and
# SCHEMA.stream (user_id, item_id, event_type, occurred_at, dwell_ms) and
# fills rerank.items with the categories.  Cut-offs: synthetic data at 80% of
# its time span; MovieLens by its temporal split files (or at the 80% time
# quantile of u.data); Taobao per user, the last 20% of each user's events.
# listed_at is when the item entered the catalog (NULL: from the start):
# the generator's listing times for synthetic data, the earlier of the
# release date and the first rating for MovieLens, NULL for Taobao.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
schema=${1:?schema}
kind=${2:?synthetic, movielens or taobao}
shift 2
psql_() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$@"; }

psql_ <<SQL
DROP SCHEMA IF EXISTS $schema CASCADE;
CREATE SCHEMA $schema;
CREATE TABLE $schema.items (item_id bigint PRIMARY KEY, category text, listed_at timestamptz);
CREATE TABLE $schema.events (
    event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL,
    item_id bigint NOT NULL,
    event_type text NOT NULL,
    occurred_at timestamptz NOT NULL,
    dwell_ms integer);
CREATE TABLE $schema.stream (LIKE $schema.events INCLUDING DEFAULTS);
ALTER TABLE $schema.stream ADD PRIMARY KEY (event_id);
CREATE TABLE $schema.raw (user_id bigint, item_id bigint, category text,
                          event_type text, ts bigint, dwell_ms integer);
SQL

case $kind in
synthetic)
	users=${1:-2000}
	items=${2:-5000}
	events=${3:-200000}
	seed=${4:-42}
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	gcc -O2 -o "$tmp/gen_events" "$here/gen_events.c" -lm
	"$tmp/gen_events" --users "$users" --items "$items" --categories 40 \
		--events "$events" --days 30 --seed "$seed" \
		--items-out "$tmp/items.csv" --listed-out "$tmp/listed.csv" --events-out "$tmp/events.csv"
	psql_ -c "\\copy $schema.items (item_id, category) FROM '$tmp/items.csv' (FORMAT csv)"
	psql_ <<SQL
CREATE TEMP TABLE listed (item_id bigint, ts bigint);
\\copy listed FROM '$tmp/listed.csv' (FORMAT csv)
UPDATE $schema.items i SET listed_at = to_timestamp(l.ts) FROM listed l WHERE l.item_id = i.item_id;
SQL
	psql_ -c "\\copy $schema.raw (user_id, item_id, category, event_type, ts, dwell_ms) FROM '$tmp/events.csv' (FORMAT csv)"
	psql_ <<SQL
WITH span AS (SELECT min(ts) + (max(ts) - min(ts)) * 0.8 AS cut FROM $schema.raw)
INSERT INTO $schema.events (user_id, item_id, event_type, occurred_at, dwell_ms)
SELECT user_id, item_id, event_type, to_timestamp(ts), dwell_ms
  FROM $schema.raw, span WHERE ts < cut ORDER BY ts;
WITH span AS (SELECT min(ts) + (max(ts) - min(ts)) * 0.8 AS cut FROM $schema.raw)
INSERT INTO $schema.stream (event_id, user_id, item_id, event_type, occurred_at, dwell_ms)
SELECT row_number() OVER (ORDER BY ts, user_id, item_id, event_type), user_id, item_id, event_type,
       to_timestamp(ts), dwell_ms
  FROM $schema.raw, span WHERE ts >= cut;
SQL
	;;
movielens)
	# every rating is a positive event of type 'rating' (weight 1)
	psql_ -c "INSERT INTO rerank.event_weights (event_type, weight, description)
	          SELECT 'rating', 1, 'a MovieLens rating, any value'
	           WHERE NOT EXISTS (SELECT FROM rerank.event_weights WHERE event_type = 'rating')"
	train=$1
	test=${2:-}
	genres=$(dirname "$train")/u.item
	[ -f "$genres" ] || genres=$(dirname "$train")/../u.item
	load_ratings() {
		psql_ <<SQL
CREATE TEMP TABLE r (user_id bigint, item_id bigint, rating int, ts bigint);
\\copy r FROM '$1' (FORMAT text)
INSERT INTO $schema.raw (user_id, item_id, event_type, ts)
SELECT user_id, item_id, '$2', ts FROM r;
SQL
	}
	load_ratings "$train" train
	if [ -n "$test" ]; then load_ratings "$test" test; fi
	if [ -f "$genres" ]; then
		# u.item is latin-1: the first genre flag set is the category
		# the release date (dd-Mon-yyyy) as listing time
		iconv -f latin1 -t utf-8 "$genres" | awk -F'|' '{
				g = "unknown"
				split("unknown Action Adventure Animation Childrens Comedy Crime Documentary Drama Fantasy Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western", names, " ")
				for (i = 7; i <= 24; i++) if ($i == 1) { g = names[i - 5]; break }
				d = ""
				if (split($3, p, "-") == 3)
					d = sprintf("%s-%02d-%s 00:00:00+00", p[3], index("JanFebMarAprMayJunJulAugSepOctNovDec", p[2]) / 3 + 1, p[1])
				print $1 "," g "," d
			}' | psql_ -c "\\copy $schema.items FROM stdin (FORMAT csv)"
	fi
	psql_ <<SQL
INSERT INTO $schema.items (item_id, category)
SELECT DISTINCT item_id, NULL FROM $schema.raw
ON CONFLICT DO NOTHING;
-- a movie is in the catalog from its release date, or its first rating if earlier
UPDATE $schema.items i SET listed_at = least(i.listed_at, f.first)
  FROM (SELECT item_id, to_timestamp(min(ts)) AS first FROM $schema.raw GROUP BY item_id) f
 WHERE f.item_id = i.item_id AND i.listed_at IS NOT NULL;
-- without a test file, cut at the 80% time quantile
UPDATE $schema.raw SET event_type = CASE WHEN ts < (SELECT percentile_disc(0.8) WITHIN GROUP (ORDER BY ts) FROM $schema.raw) THEN 'train' ELSE 'test' END
 WHERE NOT EXISTS (SELECT FROM $schema.raw WHERE event_type = 'test');
INSERT INTO $schema.events (user_id, item_id, event_type, occurred_at)
SELECT user_id, item_id, 'rating', to_timestamp(ts) FROM $schema.raw
 WHERE event_type = 'train' ORDER BY ts;
INSERT INTO $schema.stream (event_id, user_id, item_id, event_type, occurred_at)
SELECT row_number() OVER (ORDER BY ts, user_id, item_id), user_id, item_id, 'rating', to_timestamp(ts)
  FROM $schema.raw WHERE event_type = 'test';
SQL
	;;
taobao)
	catalog=0
	psql_ -c "CREATE TABLE $schema.catalog_raw (LIKE $schema.raw)"
	for f in "$@"; do
		if [ "$f" = --catalog ]; then
			catalog=1
		elif [ "$catalog" = 1 ]; then
			psql_ -c "\\copy $schema.catalog_raw (user_id, item_id, category, event_type, ts) FROM '$f' (FORMAT csv)"
		else
			psql_ -c "\\copy $schema.raw (user_id, item_id, category, event_type, ts) FROM '$f' (FORMAT csv)"
		fi
	done
	psql_ <<SQL
UPDATE $schema.raw SET event_type = CASE event_type
    WHEN 'pv' THEN 'view' WHEN 'fav' THEN 'favorite' WHEN 'buy' THEN 'purchase'
    ELSE event_type END;
INSERT INTO $schema.items (item_id, category)
SELECT item_id, min(category) FROM $schema.raw GROUP BY item_id;
-- catalog-only files: their items and categories, never their events
INSERT INTO $schema.items (item_id, category)
SELECT item_id, min(category) FROM $schema.catalog_raw GROUP BY item_id
ON CONFLICT DO NOTHING;
DROP TABLE $schema.catalog_raw;
-- each user's history is cut by time: the last 20% of its events are the stream
CREATE TEMP TABLE ranked AS
SELECT r.*, row_number() OVER w AS n, count(*) OVER (PARTITION BY user_id) AS total
  FROM $schema.raw r WINDOW w AS (PARTITION BY user_id ORDER BY ts, item_id);
INSERT INTO $schema.events (user_id, item_id, event_type, occurred_at)
SELECT user_id, item_id, event_type, to_timestamp(ts) FROM ranked
 WHERE n <= ceil(total * 0.8) ORDER BY ts;
INSERT INTO $schema.stream (event_id, user_id, item_id, event_type, occurred_at)
SELECT row_number() OVER (ORDER BY ts, user_id, item_id, event_type), user_id, item_id, event_type, to_timestamp(ts)
  FROM ranked WHERE n > ceil(total * 0.8);
SQL
	;;
*)
	echo "load.sh: unknown data set $kind" >&2
	exit 2
	;;
esac

psql_ <<SQL
DROP TABLE $schema.raw;
INSERT INTO rerank.items (item_id, category)
SELECT item_id, category FROM $schema.items
ON CONFLICT (item_id) DO UPDATE SET category = excluded.category;
CREATE INDEX ON $schema.events (user_id, occurred_at);
ANALYZE $schema.items, $schema.events, $schema.stream;
SQL
psql -X -At -c "SELECT format('%s: %s items, %s history events of %s users, %s stream events of %s users',
    '$schema', (SELECT count(*) FROM $schema.items),
    (SELECT count(*) FROM $schema.events), (SELECT count(DISTINCT user_id) FROM $schema.events),
    (SELECT count(*) FROM $schema.stream), (SELECT count(DISTINCT user_id) FROM $schema.stream))"
