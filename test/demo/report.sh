#!/usr/bin/env bash
# Writes the HTML report of a demo or benchmark run from the CSV files in a
# results directory; the charts are drawn by gnuplot (Debian's gnuplot-nox).
#
#   bash test/demo/report.sh RESULTS_DIR
#
# Reads whichever of these exist (each with a header line):
#   training_loss.csv  model,iteration,loss,seconds
#   models.csv         model,precision_at_10,recall_at_10,ndcg_at_10,map_at_10,hit_rate_at_10,coverage_at_10
#   replay.csv         dataset,generator,strategy,segment,events,hr_at_10,ndcg_at_10,mrr
#   replay_summary.csv dataset,generator,strategy,hr_at_10,ndcg_at_10,mrr,hr_<segment>...
#   lists.csv          dataset,generator,lists,mean_length,touched_negatives
#   segments.csv       dataset,segment,stream_events,ranked_events,share
#   latency.csv        query,p50_ms,ratio_to_select_1
#   notes.md           free text shown at the top (plain text, one paragraph per line)
# and writes RESULTS_DIR/index.html with PNG charts beside it.
set -euo pipefail
dir=${1:?usage: report.sh RESULTS_DIR}
cd "$dir"
command -v gnuplot >/dev/null || { echo "report.sh: gnuplot is missing (apt-get install gnuplot-nox)" >&2; exit 1; }

common='set terminal pngcairo size 900,480 font "DejaVu Sans,11" noenhanced
set datafile separator ","
set grid ytics lc rgb "#dddddd"
set border 3
set tics nomirror
set key outside right top'

charts=()

# bar_chart CSV COLUMN PNG TITLE YLABEL COLOR: one bar per line of CSV after
# its header, labelled by the first column.
bar_chart() {
	gnuplot <<GP
$common
set output '$3'
set title '$4'
set style data histogram
set style fill solid 0.8 border -1
set boxwidth 0.7
set yrange [0:*]
set ylabel '$5'
set key off
set xtics rotate by -20
plot '$1' skip 1 using $2:xtic(1) lc rgb '$6'
GP
}

# 1. Training loss per iteration, one line per model.
if [ -s training_loss.csv ]; then
	models=$(tail -n +2 training_loss.csv | cut -d, -f1 | awk '!seen[$0]++')
	plot=""
	i=0
	for m in $models; do
		i=$((i + 1))
		grep "^$m," training_loss.csv > "loss_$i.dat"
		plot+="${plot:+, }'loss_$i.dat' using 2:3 with linespoints lw 2 pt 7 ps 0.6 title '$m'"
	done
	gnuplot <<GP
$common
set output 'training_loss.png'
set title 'Training loss per iteration'
set xlabel 'iteration'
set xtics 1
set ylabel 'loss'
plot $plot
GP
	rm -f loss_*.dat
	charts+=("training_loss.png|Training loss per ALS iteration (rerank.train_als, loss as in the implicit library).")
fi

# 2. NDCG@10 of the models.
if [ -s models.csv ]; then
	bar_chart models.csv 4 models_ndcg.png \
		'NDCG@10 of the models (full-catalog ranking, training items excluded)' NDCG@10 '#3b75af'
	charts+=("models_ndcg.png|NDCG@10 of each model (rerank.evaluate).")
fi

# 3. Replay, per data set: HR@10 and NDCG@10 per generator and strategy,
# and HR@10 per segment under the first generator.
# pivot CSV KEYCOL VALUECOL FILTER: rows keyed by column KEYCOL, one column
# per strategy (column 3), values from column VALUECOL, lines matching FILTER
pivot() {
	awk -F, -v keycol="$2" -v col="$3" -v filter="$4" 'NR > 1 && $0 ~ filter {
			if (!($3 in s)) { s[$3] = ++ns; order[ns] = $3 }
			if (!($keycol in d)) { d[$keycol] = ++nd; dorder[nd] = $keycol }
			v[$keycol, $3] = $col
		}
		END {
			printf "key"
			for (j = 1; j <= ns; j++) printf ",%s", order[j]
			printf "\n"
			for (i = 1; i <= nd; i++) {
				printf "%s", dorder[i]
				for (j = 1; j <= ns; j++) printf ",%s", ((dorder[i], order[j]) in v) ? v[dorder[i], order[j]] : "0"
				printf "\n"
			}
		}' "$1"
}
clustered() {
	local dat=$1 png=$2 title=$3 ylabel=$4 n
	n=$(head -1 "$dat" | awk -F, '{print NF}')
	gnuplot <<GP
$common
set output '$png'
set title '$title'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set yrange [0:1]
set ylabel '$ylabel'
plot for [c=2:$n] '$dat' using c:xtic(1) title columnhead(c)
GP
}
if [ -s replay.csv ]; then
	for ds in $(tail -n +2 replay.csv | cut -d, -f1 | awk '!seen[$0]++'); do
		for metric in hr_at_10:6:HR@10 ndcg_at_10:7:NDCG@10; do
			IFS=: read -r name col label <<<"$metric"
			pivot replay.csv 2 "$col" "^$ds,[^,]*,[^,]*,all," > "replay_${ds}_$name.dat"
			clustered "replay_${ds}_$name.dat" "replay_${ds}_$name.png" \
				"$ds: $label of the touched item, per candidate generator and strategy" "$label"
			rm -f "replay_${ds}_$name.dat"
			charts+=("replay_${ds}_$name.png|$ds: $label of the item the user touched next, per candidate generator (groups) and strategy (bars); chance: a random order of the same lists.")
		done
		first=$(awk -F, -v ds="$ds" 'NR > 1 && $1 == ds { print $2; exit }' replay.csv)
		pivot replay.csv 4 6 "^$ds,$first,[^,]*,[a-z_]*,[0-9]" | grep -v '^all,' > "replay_${ds}_segments.dat"
		clustered "replay_${ds}_segments.dat" "replay_${ds}_segments.png" \
			"$ds, $first candidates: HR@10 per segment of the events" HR@10
		rm -f "replay_${ds}_segments.dat"
		charts+=("replay_${ds}_segments.png|$ds, $first candidates: HR@10 per segment (repeat: the user's previous item again; revisit: an item the user touched earlier; known: first touch of an item with a vector; no_vector: first touch of an item without one; new: an item no one touched before).")
	done
fi

# 4. rerank latency next to SELECT 1 and the plain-SQL baselines.
if [ -s latency.csv ]; then
	bar_chart latency.csv 2 latency.png \
		'Server latency per call, p50 (pgbench), 500 candidates' milliseconds '#c44e52'
	charts+=("latency.png|Latency per call, median, against SELECT 1 and the plain-SQL equivalents.")
fi

# CSV → HTML table.
table() {
	awk -F, 'NR == 1 { printf "<table><tr>"; for (i = 1; i <= NF; i++) printf "<th>%s</th>", $i; print "</tr>" }
		NR > 1 { printf "<tr>"; for (i = 1; i <= NF; i++) printf "<td>%s</td>", $i; print "</tr>" }
		END { print "</table>" }' "$1"
}

{
	cat <<'HTML'
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>rerank report</title>
<style>
body { font-family: sans-serif; max-width: 980px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
figure { margin: 2em 0; } figcaption { color: #555; font-size: 0.9em; }
</style></head><body>
<h1>rerank report</h1>
HTML
	echo "<p>Generated $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores.</p>"
	if [ -s notes.md ]; then
		sed 's/&/\&amp;/g; s/</\&lt;/g; s/^/<p>/; s/$/<\/p>/' notes.md
	fi
	for f in segments.csv lists.csv replay_summary.csv models.csv latency.csv; do
		[ -s "$f" ] || continue
		case $f in
			segments.csv) echo "<h2>Replay: the ranked events</h2>" ;;
			lists.csv) echo "<h2>Replay: the candidate lists</h2>" ;;
			replay_summary.csv) echo "<h2>Replay: every later event, every strategy</h2>" ;;
			models.csv) echo "<h2>Models</h2>" ;;
			latency.csv) echo "<h2>Latency</h2>" ;;
		esac
		table "$f"
	done
	for c in "${charts[@]}"; do
		echo "<figure><img src=\"${c%%|*}\" alt=\"${c%%|*}\"><figcaption>${c#*|}</figcaption></figure>"
	done
	echo "</body></html>"
} > index.html
echo "$dir/index.html"
