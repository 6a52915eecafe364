#!/usr/bin/env bash
# Benchmarks of the analysis commands with the real ./kapimon:
#   analyze   over N flow records (default 1,000,000; target < 5 s)
#   drilldown on a 50,000-leaf table (50 agents x 100 resources x 10 verbs; target < 1 s)
# Data comes from scripts/gen-analysis-data.py (deterministic). Reports wall seconds and max RSS.
# Usage: scripts/bench-analysis.sh [N]      (KEEP=1 keeps the generated files in $BENCH_DIR)
set -eu
cd "$(dirname "$0")/.."
N=${1:-1000000}
D=${BENCH_DIR:-$(mktemp -d)}
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$D"' EXIT
[ -x ./kapimon ] || { echo "build ./kapimon first (make)" >&2; exit 1; }

echo "generating $N flow records and a 50,000-leaf table in $D ..."
[ -s "$D/flows.jsonl" ] || python3 scripts/gen-analysis-data.py flows "$N" "$D/flows.jsonl" 2> "$D/flows.truth"
[ -s "$D/leaves.csv" ] || python3 scripts/gen-analysis-data.py leaves "$D/leaves.csv" --causes 3 2> "$D/leaves.truth"
printf 'flows: %s lines, %s MB\n' "$(wc -l < "$D/flows.jsonl")" "$(( $(stat -c %s "$D/flows.jsonl") / 1048576 ))"

measure() { # label, target seconds, command...
	local label=$1 target=$2
	shift 2
	local t0 t1 rss secs
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -v "$@" > "$D/out.json" 2> "$D/time.txt" || { cat "$D/time.txt" >&2; exit 1; }
		rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$D/time.txt")
		secs=$(awk -F': ' '/Elapsed \(wall/ {n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' "$D/time.txt")
	else
		t0=$(date +%s.%N)
		"$@" > "$D/out.json"
		t1=$(date +%s.%N)
		secs=$(echo "$t1 - $t0" | bc)
		rss="?"
	fi
	printf '%-34s %8.2f s  (target < %s s)  max RSS %s kB\n' "$label" "$secs" "$target" "$rss"
}

measure "analyze ($N flow records)" 5 ./kapimon analyze "$D/flows.jsonl" --json
python3 -c "
import json; d = json.load(open('$D/out.json')); t = json.load(open('$D/flows.truth'))
hit = any(a['root_causes'] and a['root_causes'][0]['attrs'] == t['burst'] for a in d['anomalies'])
print('  anomalies: %d, series: %d, burst found as first cause: %s' % (len(d['anomalies']), d['summary']['series'], hit))"
measure "drilldown (50,000 leaves)" 1 ./kapimon drilldown --csv "$D/leaves.csv" --dims a,b,c --json
python3 -c "
import json; d = json.load(open('$D/out.json')); t = json.load(open('$D/leaves.truth'))
got = sorted(json.dumps(c['attrs'], sort_keys=True) for c in d['root_causes'])
want = sorted(json.dumps(x, sort_keys=True) for x in t)
print('  causes: %s; truth: %s; exact: %s' % (got, want, got == want))"
