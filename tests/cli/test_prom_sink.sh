#!/usr/bin/env bash
# The Prometheus sink's exposition checked by a format checker, no root: build/tools/prom_sink_dump
# renders synthetic records (hostile user agents, overflow rows, every health family); `promtool check
# metrics` checks it when promtool is installed, tests/cli/prom_check.py (strict 0.0.4 parser + lint)
# always. The checker is first shown to reject broken expositions, so a clean verdict means something.
set -u
# promtool: installed, or Debian's unpacked by scripts/fetch-prometheus.sh (make test fetches it)
PROMTOOL=$(command -v promtool || echo "${KAPIMON_CACHE:-/var/cache/kapimon}/prometheus/usr/bin/promtool")
cd "$(dirname "$0")/../.."
pass=0 fail=0
ok() { echo "  ok    $1"; pass=$((pass + 1)); }
bad() { echo "  FAIL  $1"; fail=$((fail + 1)); }
[ -x build/tools/prom_sink_dump ] || make --no-print-directory build/tools/prom_sink_dump >/dev/null || {
	echo "0 passed, 1 failed (cannot build build/tools/prom_sink_dump)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CHECK="python3 tests/cli/prom_check.py"

# the checker rejects what it must
while IFS='|' read -r what text; do
	printf '%b' "$text" >"$tmp/broken"
	if $CHECK "$tmp/broken" >/dev/null; then bad "checker accepts $what"; else ok "checker rejects $what"; fi
done <<'EOF'
a sample before its TYPE|x_total 1\n
TYPE before HELP|# TYPE x_total counter\n# HELP x_total h\nx_total 1\n
a counter without _total|# HELP x h\n# TYPE x counter\nx 1\n
an unescaped quote|# HELP x_total h\n# TYPE x_total counter\nx_total{a="b"c"} 1\n
a bad escape|# HELP x_total h\n# TYPE x_total counter\nx_total{a="\\t"} 1\n
a reopened family|# HELP a_total h\n# TYPE a_total counter\na_total 1\n# HELP b h\n# TYPE b gauge\nb 1\na_total{x="1"} 2\n
a series twice|# HELP x_total h\n# TYPE x_total counter\nx_total{a="1"} 1\nx_total{a="1"} 2\n
non-cumulative buckets|# HELP h_seconds h\n# TYPE h_seconds histogram\nh_seconds_bucket{le="1"} 2\nh_seconds_bucket{le="+Inf"} 1\nh_seconds_sum 1\nh_seconds_count 1\n
_count unlike +Inf|# HELP h_seconds h\n# TYPE h_seconds histogram\nh_seconds_bucket{le="1"} 1\nh_seconds_bucket{le="+Inf"} 2\nh_seconds_sum 1\nh_seconds_count 3\n
invalid UTF-8|# HELP x_total h\n# TYPE x_total counter\nx_total{a="\xff"} 1\n
a bad label name|# HELP x_total h\n# TYPE x_total counter\nx_total{1a="b"} 1\n
EOF
printf '# HELP x_total h\n# TYPE x_total counter\nx_total{a="q\\"\\\\\\n"} 1\n' >"$tmp/good"
if $CHECK "$tmp/good" >/dev/null; then ok "checker accepts a valid escaped sample"; else bad "checker rejects a valid sample"; fi

for mode in "" --small; do
	name="prom_sink_dump ${mode:-(default tables)}"
	if ! build/tools/prom_sink_dump $mode >"$tmp/out" 2>"$tmp/err"; then
		bad "$name exits non-zero: $(cat "$tmp/err")"; continue
	fi
	if out=$($CHECK "$tmp/out" 2>&1); then ok "$name: prom_check.py clean ($(grep -vc '^#' "$tmp/out") samples)"
	else bad "$name: prom_check.py: $(echo "$out" | head -5)"; fi
	if [ -x "$PROMTOOL" ]; then
		if out=$("$PROMTOOL" check metrics <"$tmp/out" 2>&1); then ok "$name: promtool check metrics clean"
		else bad "$name: promtool: $(echo "$out" | head -5)"; fi
	else
		echo "  SKIP  $name: promtool check metrics (promtool not installed)"
	fi
	if [ "$mode" = --small ]; then
		if grep -q '^kapimon_requests_total{verb="other",group="other",resource="other",subresource="other",code="other"} ' "$tmp/out" &&
			grep -q '^kapimon_requests_by_client_total{user_agent="other",' "$tmp/out"; then
			ok "$name: overflow and user_agent=\"other\" rows present"
		else bad "$name: overflow rows missing"; fi
	fi
	if grep -q '^x_total\|^# TYPE x ' "$tmp/out"; then bad "$name: injected line from a user agent"
	else ok "$name: user agents cannot inject lines"; fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
