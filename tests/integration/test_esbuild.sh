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
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
OUT=${KAPIMON_TEST_OUT:-$ROOT/build/test-out}/esbuild
rm -rf "$OUT" && mkdir -p "$OUT"
VERSIONS=${KAPIMON_ESBUILD_VERSIONS:-0.24.2 0.28.2}
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
EPID="" KPID=""
FAILED=()

log() { echo "test_esbuild: $*"; }
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	[ -z "$EPID" ] || kill "$EPID" 2>/dev/null || true
	exec 4>&- 2>/dev/null || true
}
trap cleanup EXIT
# wait_for DESC SECONDS CMD...: poll; returns 1 (with a message) after SECONDS
wait_for() {
	local desc=$1 secs=$2 t
	shift 2
	t=$(($(date +%s%N) + secs * 1000000000))
	until "$@"; do
		if (($(date +%s%N) >= t)); then
			log "timed out after ${secs}s waiting for $desc"
			return 1
		fi
		sleep 0.1
	done
}
exited() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q . || exited "$EPID"; }
attached() { grep -q attached "$1" || exited "$KPID"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# a self-signed certificate for 127.0.0.1, and a small site
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$OUT/key.pem" -out "$OUT/cert.pem" -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null || { log "FAIL: openssl"; exit 1; }
mkdir -p "$OUT/www/data"
echo "<p>kapimon $RUN</p>" >"$OUT/www/index.html"
echo "console.log('$RUN')" >"$OUT/www/app.js"
echo "{\"run\":\"$RUN\"}" >"$OUT/www/data/x.json"

# one_version VERSION: returns 0 when every check passed
one_version() {
	local v=$1 bin port dir=$OUT/$1 rc i code proto
	mkdir -p "$dir"
	bin=$(scripts/fetch-esbuild.sh "$v") || { log "FAIL [$v]: scripts/fetch-esbuild.sh $v failed"; return 1; }
	port=$(free_port)
	rm -f "$dir/stdin"
	mkfifo "$dir/stdin"
	"$bin" --serve="127.0.0.1:$port" --servedir="$OUT/www" --certfile="$OUT/cert.pem" --keyfile="$OUT/key.pem" \
		<"$dir/stdin" >"$dir/esbuild.log" 2>&1 &
	EPID=$!
	exec 4>"$dir/stdin" # esbuild --serve stops when its stdin closes
	wait_for "esbuild $v to listen on $port" 30 listening "$port" || return 1
	if exited "$EPID"; then
		log "FAIL [$v]: esbuild exited: $(head -c 300 "$dir/esbuild.log")"
		EPID=""
		return 1
	fi
	log "[$v] esbuild pid $EPID ($(go version "$bin" 2>/dev/null | awk '{print $2}' || true)) on 127.0.0.1:$port"

	./kapimon record --pid "$EPID" -o "$dir/records.jsonl" --stats-interval 1 2>"$dir/kapimon.stderr" &
	KPID=$!
	wait_for "kapimon's 'attached' line" 60 attached "$dir/kapimon.stderr" || return 1
	if ! grep -q attached "$dir/kapimon.stderr"; then
		log "FAIL [$v]: kapimon did not attach to esbuild $v: $(cat "$dir/kapimon.stderr")"
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
	wait_for "all $(wc -l <"$dir/sent.txt") requests in kapimon's output" 30 \
		python3 -c 'import sys; r = open(sys.argv[1]).read(); sys.exit(0 if sum(1 for l in open(sys.argv[2]) if "\"user_agent\":\"%s\"" % l.split()[0] in r and "\"path\":\"%s\"" % l.split()[2] in r) == sum(1 for _ in open(sys.argv[2])) else 1)' \
		"$dir/records.jsonl" "$dir/sent.txt" || true
	kill -INT "$KPID"
	wait_for "kapimon to exit after SIGINT" 30 exited "$KPID" || return 1
	rc=0
	wait "$KPID" || rc=$?
	KPID=""
	exec 4>&-
	wait_for "esbuild to exit when its stdin closes" 10 exited "$EPID" || kill "$EPID" 2>/dev/null
	wait "$EPID" 2>/dev/null || true
	EPID=""
	[ "$rc" = 0 ] || { log "FAIL [$v]: kapimon record exited $rc after SIGINT"; return 1; }

	python3 - "$dir/sent.txt" "$dir/records.jsonl" "$v" <<'EOF'
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
    print("test_esbuild: [%s] %-4s %-28s %s %s %-4s %s" % (v, want["proto"], path[:28], status, ua.rsplit("-", 1)[0][:24],
          "ok" if not probs else "FAIL", "; ".join(probs)))
    bad += bool(probs)
extra = len(recs) - sum(1 for _ in open(sent_path))
print("test_esbuild: [%s] %d requests sent, %d request records, %d mismatching" % (v, sum(1 for _ in open(sent_path)), len(recs), bad))
sys.exit(1 if bad else 0)
EOF
}

for v in $VERSIONS; do
	if ! one_version "$v"; then
		FAILED+=("$v")
		[ -z "$KPID" ] || { kill -KILL "$KPID" 2>/dev/null; wait "$KPID" 2>/dev/null; KPID=""; }
		exec 4>&- 2>/dev/null || true
		[ -z "$EPID" ] || { kill "$EPID" 2>/dev/null; wait "$EPID" 2>/dev/null; EPID=""; }
	fi
done
if [ ${#FAILED[@]} -gt 0 ]; then
	log "FAIL: esbuild ${FAILED[*]} (artefacts in $OUT)"
	exit 1
fi
log PASS
