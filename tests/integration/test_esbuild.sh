#!/usr/bin/env bash
# kapimon on modern Go's net/http server (bundled HTTP/2 and HTTP/1.1), not a kube-apiserver: esbuild's
# --serve (a stripped Go binary from npm, see scripts/fetch-esbuild.sh) for each version in
# $KAPIMON_ESBUILD_VERSIONS (default "0.24.2 0.28.2": Go 1.23 and Go 1.26).
#
# Per version: esbuild --serve=127.0.0.1:PORT --servedir=DIR with a self-signed certificate (stdin kept
# open through a fifo), ./kapimon record --pid <esbuild>, await "attached", then curl requests with a
# distinct User-Agent each: h2 (one connection per request, plus a batch on one connection) and h1,
# 200s and 404s. Checks per request: exactly one record with that user agent, and its method, path,
# status (what curl saw), proto (h2/h1 as curl negotiated), latency_ns > 0, not ongoing, and the Kubernetes
# fields group/version/resource/subresource/namespace/name empty (verb "" or the lowercase method, as the
# apiserver's RequestInfo gives for a non-resource path); kapimon exits 0 on SIGINT.
# A version kapimon cannot attach to (e.g. "no struct offsets known for goX") is a FAILURE, not a skip.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAPIMON_ROOT" || exit 1
OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out/$(basename "${KAPIMON_TESTBED_DIR:-/run/kapimon-testbed}")}/esbuild
rm -rf "$OUT" && mkdir -p "$OUT"
VERSIONS=${KAPIMON_ESBUILD_VERSIONS:-0.24.2 0.28.2}
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
EPID="" KPID=""

log() { echo "test_esbuild: $*"; }
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	[ -z "$EPID" ] || kill "$EPID" 2>/dev/null || true
	exec 4>&- 2>/dev/null || true
}
trap cleanup EXIT
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q . || exited "$EPID"; }
attached() { grep -q attached "$1" || exited "$KPID"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
all_recorded() { # all_recorded RECORDS SENT: every sent (user agent, path) appears in RECORDS
	python3 - "$1" "$2" <<'PY'
import json, sys
recs = set()
for l in open(sys.argv[1]):
    try:
        o = json.loads(l)
    except ValueError:
        continue
    recs.add((o.get("user_agent"), o.get("path")))
sent = [tuple(l.split()[0:3:2]) for l in open(sys.argv[2])]
sys.exit(0 if all(s in recs for s in sent) else 1)
PY
}

# a self-signed certificate for 127.0.0.1, and a small site
check "self-signed certificate for 127.0.0.1" openssl req -x509 -newkey rsa:2048 -nodes -keyout "$OUT/key.pem" \
	-out "$OUT/cert.pem" -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1
mkdir -p "$OUT/www/data"
echo "<p>kapimon $RUN</p>" >"$OUT/www/index.html"
echo "console.log('$RUN')" >"$OUT/www/app.js"
echo "{\"run\":\"$RUN\"}" >"$OUT/www/data/x.json"

# one_version VERSION: its checks are counted; returns 1 when it could not go on
one_version() {
	local v=$1 bin port dir=$OUT/$1 rc i code proto
	mkdir -p "$dir"
	bin=$(scripts/fetch-esbuild.sh "$v")
	check_eq "[$v] scripts/fetch-esbuild.sh $v" 0 "$?"
	[ -x "$bin" ] || return 1
	port=$(free_port)
	rm -f "$dir/stdin"
	mkfifo "$dir/stdin"
	"$bin" --serve="127.0.0.1:$port" --servedir="$OUT/www" --certfile="$OUT/cert.pem" --keyfile="$OUT/key.pem" \
		<"$dir/stdin" >"$dir/esbuild.log" 2>&1 &
	EPID=$!
	exec 4>"$dir/stdin" # esbuild --serve stops when its stdin closes
	wait_for "[$v] esbuild listens on $port (or exits)" 30 listening "$port" || return 1
	if exited "$EPID"; then
		_fail "[$v] esbuild serves" "$(head -c 300 "$dir/esbuild.log")"
		EPID=""
		return 1
	fi
	log "[$v] esbuild pid $EPID on 127.0.0.1:$port"

	"$KAPIMON" record --pid "$EPID" -o "$dir/records.jsonl" --stats-interval 1 2>"$dir/kapimon.stderr" &
	KPID=$!
	wait_for "[$v] kapimon record prints 'attached' (or exits)" 60 attached "$dir/kapimon.stderr" || return 1
	if ! grep -q attached "$dir/kapimon.stderr"; then
		_fail "[$v] kapimon record attaches to esbuild $v" "$(cat "$dir/kapimon.stderr")"
		KPID=""
		return 1
	fi
	log "[$v] $(grep attached "$dir/kapimon.stderr")"

	# requests: "UA METHOD PATH" lines; curl's status and HTTP version are appended to sent.txt
	: >"$dir/sent.txt"
	send() { # send PROTO UA PATH
		local p=$1 ua=$2 path=$3 out
		out=$(curl -sk --max-time 10 "--$p" -A "$ua" -o /dev/null -w '%{http_code} %{http_version}' \
			"https://127.0.0.1:$port$path") || true
		echo "$ua GET $path $out" >>"$dir/sent.txt"
	}
	send http2 "kapimon-es-h2-index-$RUN" /index.html
	send http2 "kapimon-es-h2-js-$RUN" /app.js
	send http2 "kapimon-es-h2-404-$RUN" "/missing-$RUN.css"
	send http1.1 "kapimon-es-h1-index-$RUN" /index.html
	send http1.1 "kapimon-es-h1-json-$RUN" /data/x.json
	send http1.1 "kapimon-es-h1-404-$RUN" "/missing-$RUN/"
	# five h2 streams on one connection (one user agent, distinct query strings)
	for i in 1 2 3 4 5; do
		printf 'url = "https://127.0.0.1:%s/index.html?n=%s"\noutput = "/dev/null"\n' "$port" "$i"
	done >"$dir/batch.cfg"
	curl -sk --max-time 10 --http2 -A "kapimon-es-h2-batch-$RUN" -w '%{http_code} %{http_version}\n' -K "$dir/batch.cfg" \
		>"$dir/batch.out" || true
	i=1
	while read -r code proto; do
		echo "kapimon-es-h2-batch-$RUN GET /index.html?n=$i $code $proto" >>"$dir/sent.txt"
		i=$((i + 1))
	done <"$dir/batch.out"
	# every request must be in kapimon's output (it flushes at least every --stats-interval)
	wait_for "[$v] all $(wc -l <"$dir/sent.txt") requests in kapimon's output" 30 all_recorded "$dir/records.jsonl" "$dir/sent.txt"
	kill -INT "$KPID"
	wait_for "[$v] kapimon exits after SIGINT" 30 exited "$KPID" || return 1
	rc=0
	wait "$KPID" || rc=$?
	KPID=""
	check_eq "[$v] kapimon record exit status after SIGINT" 0 "$rc"
	exec 4>&-
	exited "$EPID" || kill "$EPID" 2>/dev/null
	wait "$EPID" 2>/dev/null
	EPID=""

	report < <(python3 - "$dir/sent.txt" "$dir/records.jsonl" "$v" <<'EOF'
import json, sys
sent_path, rec_path, v = sys.argv[1:4]
recs = [json.loads(l) for l in open(rec_path)]
recs = [r for r in recs if r.get("kind") == "request"]
bad = 0
for line in open(sent_path):
    ua, method, path, status, httpv = line.split()
    want = {"method": method, "path": path, "status": int(status), "proto": "h2" if httpv == "2" else "h1"}
    mine = [r for r in recs if r.get("user_agent") == ua]
    if ua.startswith("kapimon-es-h2-batch-"):
        mine = [r for r in mine if r.get("path") == path]
    probs = []
    if len(mine) != 1:
        probs.append("%d records with this user agent and path (want 1)" % len(mine))
    for r in mine[:1]:
        for k, w in want.items():
            if r.get(k) != w:
                probs.append("%s=%r (want %r)" % (k, r.get(k), w))
        if not r.get("latency_ns", 0) > 0 or r.get("ongoing"):
            probs.append("latency_ns=%r ongoing=%r" % (r.get("latency_ns"), r.get("ongoing")))
        for k in ("group", "version", "resource", "subresource", "namespace", "name"):
            if r.get(k, "") != "":
                probs.append("%s=%r (want empty)" % (k, r.get(k)))
        if r.get("verb", "") not in ("", method.lower()):
            probs.append("verb=%r (want '' or %r)" % (r.get("verb"), method.lower()))
    print("%s\t[%s] %s %s %s -> %s (%s)\t%s" % ("FAIL" if probs else "ok", v, want["proto"], method, path, status,
          ua.rsplit("-", 1)[0], "; ".join(probs)))
    bad += bool(probs)
n_sent = sum(1 for _ in open(sent_path))
print("%s\t[%s] exactly one request record per request sent (%d sent, %d records)\t" % (
      "ok" if len(recs) == n_sent else "FAIL", v, n_sent, len(recs)))
EOF
)
}

for v in $VERSIONS; do
	if ! one_version "$v"; then
		log "[$v] stopped early (artefacts in $OUT/$v)"
		[ -z "$KPID" ] || { kill -KILL "$KPID" 2>/dev/null; wait "$KPID" 2>/dev/null; KPID=""; }
		exec 4>&- 2>/dev/null || true
		[ -z "$EPID" ] || { kill "$EPID" 2>/dev/null; wait "$EPID" 2>/dev/null; EPID=""; }
	fi
done
finish
