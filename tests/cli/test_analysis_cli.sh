#!/usr/bin/env bash
# CLI tests for kapimon analyze / anomalies / drilldown: run the real ./kapimon on generated files and
# check the JSON contracts. Prints "N passed, M failed"; exits non-zero on failure.
set -u
cd "$(dirname "$0")/../.."
K=./kapimon
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { # name, python expression over `d` (the parsed JSON of $T/out.json)
	if python3 -c "import json,sys; d=json.load(open('$T/out.json')); sys.exit(0 if ($2) else 1)" 2>"$T/py.err"; then ok; else bad "$1"; cat "$T/py.err" >&2; fi
}
[ -x "$K" ] || { echo "0 passed, 1 failed (no ./kapimon; run make)"; exit 1; }

# --- anomalies: seasonal series with a spike and a dip, out-of-order rows, a duplicate, a gap, a missing value
python3 - "$T/series.csv" <<'PY'
import math, random, sys
random.seed(3)
rows = []
for i in range(24 * 10):
    v = 100 + 10 * math.sin(2 * math.pi * i / 24) + random.gauss(0, 1)
    if i == 150: v += 40
    if i == 200: v -= 40
    rows.append((1795000020 + 60 * i, "%.3f" % v))
rows[50] = (rows[50][0], "")          # missing value
del rows[120:122]                      # a gap of two steps
rows.append(rows[10])                  # a repeated timestamp
rows[30], rows[31] = rows[31], rows[30]  # out of order
with open(sys.argv[1], "w") as f:
    f.write("time,value\n")
    for t, v in rows: f.write("%d,%s\n" % (t, v))
PY
if $K anomalies --csv "$T/series.csv" --time time --value value --json > "$T/out.json" 2> "$T/err"; then ok; else bad "anomalies exit status"; fi
check "anomalies: one point per timestamp (the repeated one aggregated)" "len(d['points']) == 238 and sum(1 for p in d['points'] if p.get('rows') == 2) == 1"
check "anomalies: index is the series point (the gap's two missing steps skipped)" "[p['index'] for p in d['points']] == list(range(0, 120)) + list(range(122, 240))"
check "anomalies: spike flagged +1" "[p['flag'] for p in d['points'] if p['time'] == str(1795000020 + 60 * 150)] == [1]"
check "anomalies: dip flagged -1" "[p['flag'] for p in d['points'] if p['time'] == str(1795000020 + 60 * 200)] == [-1]"
check "anomalies: only those two" "sum(1 for p in d['points'] if p['flag']) == 2"
check "anomalies: two intervals" "len(d['intervals']) == 2 and d['intervals'][0]['score'] > d['threshold'] and d['intervals'][1]['score'] < -d['threshold']"
check "anomalies: stream method by default" "d['method'] == 'stream'"
check "anomalies: period 24" "d['period'] == 24"
check "anomalies: missing value is null, not flagged" "any(p['value'] is None and p['flag'] == 0 for p in d['points'])"
check "anomalies: notes say what was done" "any('sorted' in n for n in d['notes']) and any('repeat' in n for n in d['notes']) and any('missing time steps' in n for n in d['notes']) and any('missing values' in n for n in d['notes'])"
if $K -j anomalies --csv "$T/series.csv" > "$T/out.json" 2>/dev/null; then check "global -j before the subcommand" "len(d['points']) == 238"; else bad "global -j"; fi
if $K anomalies --csv "$T/series.csv" > "$T/out.txt" 2>/dev/null && grep -q "interval" "$T/out.txt" && ! grep -q '^{' "$T/out.txt"; then ok; else bad "anomalies text table"; fi

# --- anomalies: the offline method on the same series; the threshold governs every flag
if $K anomalies --csv "$T/series.csv" --method offline --json > "$T/out.json" 2>/dev/null; then
	check "anomalies --method offline: spike and dip" "[p['flag'] for p in d['points'] if p['time'] in (str(1795000020 + 60 * 150), str(1795000020 + 60 * 200))] == [1, -1] and d['method'] == 'offline'"
else bad "anomalies --method offline"; fi
for m in stream offline; do
	if $K anomalies --csv "$T/series.csv" --method $m --threshold 1e9 --json > "$T/out.json" 2>/dev/null; then
		check "anomalies --method $m --threshold 1e9: nothing flagged" "sum(1 for p in d['points'] if p['flag']) == 0 and not d['intervals']"
	else bad "anomalies --threshold 1e9 ($m)"; fi
done

# --- anomalies: duplicate timestamps are one point; extreme values stay finite
python3 - "$T/dup.csv" "$T/extreme.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("time,value\n")
    for i in range(60):
        f.write("%d,%d\n" % (1000 + i, 5 + (i % 3)))
    f.write("1100,5\n1100,7\n")
with open(sys.argv[2], "w") as f:
    f.write("time,value\n")
    for i in range(200):
        f.write("%d,%r\n" % (1000 + i, (1e307 if i % 2 else -1e307) * (1 + (i % 5) * 0.1)))
    f.write("1200,1.7976931348623157e308\n1201,-1.7976931348623157e308\n")
PY
for m in stream offline; do
	if $K anomalies --csv "$T/dup.csv" --method $m --json > "$T/out.json" 2>/dev/null; then
		check "anomalies ($m): rows with one timestamp are one point (value 6, finite score)" "[(p['value'], p['rows']) for p in d['points'] if p['time'] == '1100'] == [(6.0, 2)] and all(isinstance(p['score'], float) or isinstance(p['score'], int) for p in d['points'])"
	else bad "anomalies duplicate timestamps ($m)"; fi
	if $K anomalies --csv "$T/extreme.csv" --method $m --json > "$T/out.json" 2>/dev/null; then
		check "anomalies ($m): values near +-1e308 give finite baselines and scores" "all(p['score'] is not None and p['baseline'] is not None for p in d['points'])"
	else bad "anomalies extreme values ($m)"; fi
done

# --- anomalies: bad input gives a clear error, exit 1, no crash
printf 'time,value\n"2026-01-01,1\n' > "$T/broken.csv"
$K anomalies --csv "$T/broken.csv" --json > /dev/null 2> "$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "line 2" "$T/err" && grep -q "unterminated" "$T/err"; then ok; else bad "broken CSV error (rc $rc): $(cat "$T/err")"; fi
printf 'time,value\nnot-a-date,1\n' > "$T/badtime.csv"
$K anomalies --csv "$T/badtime.csv" > /dev/null 2> "$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "line 2" "$T/err"; then ok; else bad "bad time error (rc $rc)"; fi
head -c 3000 /dev/urandom > "$T/garbage"
$K anomalies --csv "$T/garbage" > /dev/null 2>&1; rc=$?
if [ $rc -eq 1 ]; then ok; else bad "garbage input rc $rc"; fi
$K anomalies --season banana --csv x > /dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok; else bad "usage error rc $rc"; fi

# --- drilldown: leaf table with two injected causes
python3 scripts/gen-analysis-data.py leaves "$T/leaves.csv" --agents 20 --resources 30 --verbs 10 --causes 2 --seed 4 2> "$T/truth.json"
if $K drilldown --csv "$T/leaves.csv" --dims a,b,c --real real --predict predict --json > "$T/out.json" 2> "$T/err"; then ok; else bad "drilldown exit status"; fi
check "drilldown: causes match the truth" "sorted(json.dumps(c['attrs'], sort_keys=True) for c in d['root_causes']) == sorted(json.dumps(t, sort_keys=True) for t in json.load(open('$T/truth.json')))"
check "drilldown: statistics shape" "all(set(c['statistics']) == {'relative_ratio','relative_unexpected_difference','difference','predict','real','support'} for c in d['root_causes'])"
check "drilldown: difference = predict - real" "all(abs(c['statistics']['difference'] - (c['statistics']['predict'] - c['statistics']['real'])) < 1e-6 * (1 + abs(c['statistics']['real'])) for c in d['root_causes'])"
printf 'a,b,real,predict\nx,y,1,\nx,z,abc,2\n' > "$T/noval.csv"
$K drilldown --csv "$T/noval.csv" --json > "$T/out.json" 2> "$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "no usable row" "$T/err" && grep -q "skipped 2 rows" "$T/err"; then ok; else bad "drilldown without values (rc $rc): $(cat "$T/err")"; fi
$K drilldown --csv "$T/leaves.csv" --dims a,nope > /dev/null 2> "$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "nope" "$T/err"; then ok; else bad "drilldown unknown dim (rc $rc)"; fi

# --- analyze: flows with a burst, --step 60 and --step 1, audit log
python3 scripts/gen-analysis-data.py flows 60000 "$T/flows.jsonl" --agents 20 --resources 30 --verbs 5 2> "$T/truth.json"
if $K analyze "$T/flows.jsonl" --json > "$T/out.json" 2> "$T/err"; then ok; else bad "analyze exit status: $(cat "$T/err")"; fi
check "analyze: one anomaly at the burst" "len(d['anomalies']) >= 1 and any(a['start'].startswith('2026-11-21T00:4') for a in d['anomalies'])"
check "analyze: first cause is the burst" "(lambda t: any(a['root_causes'] and a['root_causes'][0]['attrs'] == t['burst'] for a in d['anomalies']))(json.load(open('$T/truth.json')))"
check "analyze: other kinds counted" "any('etcd' in n for n in d['notes'])"
if $K -j analyze "$T/flows.jsonl" --step 1 > "$T/out.json" 2>/dev/null; then check "analyze --step 1" "d['summary']['points'] >= 3500 and isinstance(d['anomalies'], list)"; else bad "analyze --step 1"; fi
# --- drilldown: a table where most leaves are real = predict = 0 (one cause a=a3): not over-split
python3 - "$T/zeros.csv" <<'PY'
import random, sys
random.seed(1)
with open(sys.argv[1], "w") as f:
    f.write("a,b,c,real,predict\n")
    for a in range(10):
        for b in range(10):
            for c in range(10):
                if random.random() < 0.55:
                    r = p = 0
                else:
                    p = random.uniform(5, 100)
                    r = p * random.gauss(1, 0.05) * (2 if a == 3 else 1)
                f.write("a%d,b%d,c%d,%.3f,%.3f\n" % (a, b, c, r, p))
PY
if $K drilldown --csv "$T/zeros.csv" --dims a,b,c --json > "$T/out.json" 2>/dev/null; then
	check "drilldown: zero-zero leaves are no evidence (a=a3, not its children)" "[c['attrs'] for c in d['root_causes']] == [{'a': 'a3'}]"
else bad "drilldown zero leaves"; fi

python3 scripts/gen-analysis-data.py audit 20000 "$T/audit.log"
if $K analyze "$T/audit.log" --input audit --step 10 --json > "$T/out.json" 2> "$T/err"; then ok; else bad "analyze audit: $(cat "$T/err")"; fi
check "analyze audit: RequestReceived skipped and said" "any('RequestReceived' in n for n in d['notes']) and d['summary']['records'] == 20000"
check "analyze audit: burst found" "any(c['attrs'].get('user_agent') == 'burst-controller/v0.1' for a in d['anomalies'] for c in a['root_causes'])"
printf '{"kind":"request","ts":\n{oops}\n' > "$T/bad.jsonl"
# --- analyze: a flood spread thinly (one request each from 20,000 distinct agents) is named by what its
# requests share
python3 scripts/gen-analysis-data.py audit 40000 "$T/thin.log" --thin
if $K analyze "$T/thin.log" --input audit --step 1 --json > "$T/out.json" 2>/dev/null; then
	check "analyze: thin flood found and named verb=get, resource=configmaps" "len(d['anomalies']) == 1 and [c['attrs'] for c in d['anomalies'][0]['root_causes']] == [{'verb': 'get', 'resource': 'configmaps'}]"
else bad "analyze thin flood"; fi
$K analyze "$T/bad.jsonl" > /dev/null 2> "$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "line 1 column" "$T/err"; then ok; else bad "analyze broken JSON (rc $rc): $(cat "$T/err")"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
