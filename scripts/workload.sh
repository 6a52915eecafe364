#!/usr/bin/env bash
# A mixed, bounded workload against the kapimon testbed (scripts/testbed.sh), for capture tests and demos.
#
#   eval "$(scripts/testbed.sh env)"; scripts/workload.sh [--ns NAME] [--scale N]
#
# Clients, each with its own User-Agent (kubectl sets its own, "kubectl/v1.x ..."):
#   curl --http2      kapimon-wl-curl-h2/1.0     every verb on configmaps, secrets, leases, deployments (+scale,
#                                                status), serviceaccounts (+token), namespaces; non-resource paths
#   curl --http1.1    kapimon-wl-curl-h1/1.0     the same verbs over HTTP/1.1 (one connection per request, plus a
#                                                batch of GETs on one kept-alive connection)
#   curl as alice     kapimon-wl-alice/1.0       403s on resources, 200 on discovery (h1 and h2)
#   curl, bad token   kapimon-wl-badtoken/1.0    401s; no token at all: kapimon-wl-anon/1.0 (401)
#   curl as alice     kapimon-wl-query-token/1.0 /version?access_token=<alice's token> (must be redacted)
#   curl watches      kapimon-wl-watch-h2/1.0, kapimon-wl-watch-h1/1.0   ?watch=1&timeoutSeconds=1|2
#   h2load            kapimon-wl-h2load/1.0      volume: list configmaps (2 connections), /healthz (1), one stream
#                                                at a time per connection (see docs/capture-testing.md, latency)
#   h2load --h1       kapimon-wl-h2load-h1/1.0   volume over HTTP/1.1
#   kubectl           (its own UA)               get/create/label/annotate/apply/scale/delete, get -w, --raw, can-i
# Statuses: 200 201 401 403 404 409. Every curl checks its status and the script fails on a surprise; h2load
# runs must be all 2xx. Secrets are written and read with output to /dev/null (never printed).
# Bounded: every client has a timeout (curl --max-time, kubectl --request-timeout, timeout(1) around each).
# Creates namespace NAME (default kapimon-wl-<random>), deletes what it created, then the namespace (which
# stays Terminating: no namespace controller runs in the testbed).
# Prints on stdout one line "workload: ns=... requests=N by_client=..." (N = requests the script sent itself;
# kubectl's own discovery requests are not counted). Exit 0 when every request got its expected status.
set -euo pipefail

NS=""
SCALE=1
while [ $# -gt 0 ]; do
	case $1 in
	--ns) NS=$2; shift 2 ;;
	--scale) SCALE=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d;s/^# \{0,1\}//'; exit 0 ;;
	*) echo "workload: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[[ $SCALE =~ ^[1-9][0-9]*$ ]] || { echo "workload: --scale needs a positive integer" >&2; exit 2; }
for v in KAPIMON_APISERVER_URL KAPIMON_TOKEN KAPIMON_USER_TOKEN KAPIMON_CA KAPIMON_KUBECONFIG; do
	[ -n "${!v:-}" ] || { echo "workload: $v is not set (eval \"\$(scripts/testbed.sh env)\")" >&2; exit 2; }
done
for c in curl h2load kubectl python3; do
	command -v $c >/dev/null || { echo "workload: $c not found (make deps)" >&2; exit 2; }
done
URL=$KAPIMON_APISERVER_URL
[ -n "$NS" ] || NS=kapimon-wl-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')

TMP=$(mktemp -d /tmp/kapimon-wl.XXXXXX)
chmod 700 "$TMP"
BG_PIDS=()
cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT
# Tokens go into header files (curl -H @file), never onto a command line curl shows in ps.
printf 'Authorization: Bearer %s\n' "$KAPIMON_TOKEN" >"$TMP/admin.hdr"
printf 'Authorization: Bearer %s\n' "$KAPIMON_USER_TOKEN" >"$TMP/alice.hdr"
printf 'Authorization: Bearer %s\n' "kapimon-wl-not-a-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')" >"$TMP/bad.hdr"
: >"$TMP/none.hdr"

declare -A SENT=()
FAILS=0
count() { SENT[$1]=$((${SENT[$1]:-0} + ${2:-1})); }

# req EXPECT WHO PROTO UA METHOD PATH [BODY [CONTENT-TYPE]]: one curl request on a new connection; WHO is
# admin|alice|bad|none. Fails the workload (at the end) when the status is not EXPECT.
req() {
	local expect=$1 who=$2 proto=$3 ua=$4 method=$5 path=$6 body=${7-} ctype=${8:-application/json} code
	local args=(-sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$KAPIMON_CA" -A "$ua" -X "$method")
	[ "$who" = none ] || args+=(-H "@$TMP/$who.hdr")
	case $proto in
	h1) args+=(--http1.1) ;;
	h2) args+=(--http2) ;;
	esac
	[ -z "$body" ] || args+=(-H "Content-Type: $ctype" --data-binary "$body")
	[ -z "${SAVE_BODY:-}" ] || args=("${args[@]/#\/dev\/null/$SAVE_BODY}")
	code=$(curl "${args[@]}" "$URL$path" 2>"$TMP/curl.err") || true
	count "$ua"
	if [ "$code" != "$expect" ]; then
		echo "workload: $method $path ($proto, $ua): status $code, expected $expect $(head -c 200 "$TMP/curl.err")" >&2
		FAILS=$((FAILS + 1))
	fi
}

# batch WHO PROTO UA N PATH...: N rounds of GETs of every PATH on one kept-alive connection; all must be 200.
batch() {
	local who=$1 proto=$2 ua=$3 n=$4 i p bad
	shift 4
	{
		for ((i = 0; i < n; i++)); do
			for p in "$@"; do printf 'url = "%s%s"\noutput = "/dev/null"\n' "$URL" "$p"; done
		done
	} >"$TMP/batch.cfg"
	curl -sS --max-time 60 --cacert "$KAPIMON_CA" -A "$ua" -H "@$TMP/$who.hdr" \
		"$([ "$proto" = h1 ] && echo --http1.1 || echo --http2)" -w '%{http_code}\n' -K "$TMP/batch.cfg" \
		>"$TMP/batch.codes" 2>"$TMP/curl.err" || true
	count "$ua" $((n * $#))
	bad=$(grep -cv '^200$' "$TMP/batch.codes" || true)
	if [ "$(wc -l <"$TMP/batch.codes")" != $((n * $#)) ] || [ "$bad" != 0 ]; then
		echo "workload: batch $proto $ua: $(wc -l <"$TMP/batch.codes") responses, $bad not 200 (want $((n * $#)) x 200)" >&2
		FAILS=$((FAILS + 1))
	fi
}

# load PROTO UA N C M PATH: h2load volume run; every response must be 2xx.
load() {
	local proto=$1 ua=$2 n=$3 c=$4 m=$5 path=$6 out ok
	local args=(-n "$n" -c "$c" -m "$m" -H "user-agent: $ua" -H "authorization: Bearer $KAPIMON_TOKEN")
	[ "$proto" = h1 ] && args+=(--h1)
	out=$(timeout 120 h2load "${args[@]}" "$URL$path" 2>&1) || true
	count "$ua" "$n"
	ok=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' <<<"$out")
	if [ "$ok" != "$n" ]; then
		echo "workload: h2load $proto $path: $ok of $n responses 2xx" >&2
		grep -E '^(requests|status codes):' <<<"$out" >&2 || true
		FAILS=$((FAILS + 1))
	fi
}

KUBECTL=(timeout 30 kubectl --kubeconfig "$KAPIMON_KUBECONFIG" --cache-dir "$TMP/kube-cache" --request-timeout=10s)
# kc EXPECT_RC ARGS...: kubectl, its output discarded; exit status must be EXPECT_RC (0 or 1).
kc() {
	local expect=$1 rc=0
	shift
	"${KUBECTL[@]}" "$@" >/dev/null 2>"$TMP/kubectl.err" || rc=$?
	count kubectl
	if [ "$rc" != "$expect" ]; then
		echo "workload: kubectl $*: exit $rc, expected $expect: $(head -c 300 "$TMP/kubectl.err")" >&2
		FAILS=$((FAILS + 1))
	fi
}

H2=kapimon-wl-curl-h2/1.0
H1=kapimon-wl-curl-h1/1.0
AL=kapimon-wl-alice/1.0
N=/api/v1/namespaces/$NS
cm() { printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s","labels":{"app":"kapimon-wl"}},"data":{"k":"%s"}}' "$1" "${2:-v}"; }

# --- namespace, non-resource paths ------------------------------------------------------------------------
req 201 admin h2 $H2 POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}"
req 409 admin h2 $H2 POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}"
req 200 admin h2 $H2 GET "$N"
req 200 admin h1 $H1 GET /api/v1/namespaces
for p in /healthz /version /apis /api /livez /readyz /apis/apps/v1; do
	req 200 admin h2 $H2 GET $p
	req 200 admin h1 $H1 GET $p
done
req 404 admin h2 $H2 GET /kapimon-no-such-path
req 404 admin h1 $H1 GET /apis/kapimon.example/v1/widgets

# --- watches running while objects change (short-lived: timeoutSeconds) ----------------------------------
curl -sS -o /dev/null --max-time 15 --cacert "$KAPIMON_CA" -H "@$TMP/admin.hdr" --http2 -A kapimon-wl-watch-h2/1.0 \
	"$URL$N/configmaps?watch=1&timeoutSeconds=2" &
BG_PIDS+=($!)
curl -sS -o /dev/null --max-time 15 --cacert "$KAPIMON_CA" -H "@$TMP/admin.hdr" --http1.1 -A kapimon-wl-watch-h1/1.0 \
	"$URL$N/configmaps?watch=true&timeoutSeconds=2&labelSelector=app%3Dkapimon-wl" &
BG_PIDS+=($!)
count kapimon-wl-watch-h2/1.0
count kapimon-wl-watch-h1/1.0

# --- configmaps: every verb, h2 and h1 ---------------------------------------------------------------------
for i in 1 2 3 4 5 6 7 8; do req 201 admin h2 $H2 POST "$N/configmaps" "$(cm cm-h2-$i)"; done
for i in 1 2 3 4; do req 201 admin h1 $H1 POST "$N/configmaps" "$(cm cm-h1-$i)"; done
req 409 admin h2 $H2 POST "$N/configmaps" "$(cm cm-h2-1)"
req 409 admin h1 $H1 POST "$N/configmaps" "$(cm cm-h1-1)"
req 200 admin h2 $H2 GET "$N/configmaps/cm-h2-1"
req 200 admin h1 $H1 GET "$N/configmaps/cm-h1-1"
req 404 admin h2 $H2 GET "$N/configmaps/cm-missing"
req 404 admin h1 $H1 GET "$N/configmaps/cm-missing"
req 200 admin h2 $H2 GET "$N/configmaps?labelSelector=app%3Dkapimon-wl&limit=5"
req 200 admin h1 $H1 GET "$N/configmaps"
req 200 admin h2 $H2 GET "/api/v1/configmaps?limit=10"
req 200 admin h2 $H2 PUT "$N/configmaps/cm-h2-1" "$(cm cm-h2-1 updated)"
req 200 admin h1 $H1 PUT "$N/configmaps/cm-h1-1" "$(cm cm-h1-1 updated)"
req 404 admin h2 $H2 PUT "$N/configmaps/cm-missing" "$(cm cm-missing)"
req 200 admin h2 $H2 PATCH "$N/configmaps/cm-h2-2" '{"data":{"patched":"merge"}}' application/merge-patch+json
req 200 admin h2 $H2 PATCH "$N/configmaps/cm-h2-3" '{"data":{"patched":"strategic"}}' application/strategic-merge-patch+json
req 200 admin h1 $H1 PATCH "$N/configmaps/cm-h1-2" '[{"op":"add","path":"/data/patched","value":"json"}]' application/json-patch+json
req 200 admin h2 $H2 DELETE "$N/configmaps/cm-h2-8"
req 200 admin h1 $H1 DELETE "$N/configmaps/cm-h1-4"
req 404 admin h2 $H2 DELETE "$N/configmaps/cm-h2-8"

# --- secrets (bodies never printed) ------------------------------------------------------------------------
sec() { printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"%s"},"stringData":{"password":"%s"}}' "$1" "$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"; }
req 201 admin h2 $H2 POST "$N/secrets" "$(sec sec-h2)"
req 201 admin h1 $H1 POST "$N/secrets" "$(sec sec-h1)"
req 409 admin h2 $H2 POST "$N/secrets" "$(sec sec-h2)"
req 200 admin h2 $H2 GET "$N/secrets/sec-h2"
req 200 admin h1 $H1 GET "$N/secrets"
req 200 admin h2 $H2 DELETE "$N/secrets/sec-h1"

# --- leases (coordination.k8s.io) ---------------------------------------------------------------------------
L=/apis/coordination.k8s.io/v1/namespaces/$NS/leases
rv() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["resourceVersion"])' "$1"; }
lease() { printf '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"%s"%s},"spec":{"holderIdentity":"%s","leaseDurationSeconds":15}}' "$1" "${3:+,\"resourceVersion\":\"$3\"}" "$2"; }
req 201 admin h2 $H2 POST "$L" "$(lease lease-a kapimon-1)"
req 201 admin h1 $H1 POST "$L" "$(lease lease-b kapimon-1)"
req 409 admin h2 $H2 POST "$L" "$(lease lease-a kapimon-1)"
SAVE_BODY=$TMP/lease.json req 200 admin h2 $H2 GET "$L/lease-a"
req 200 admin h2 $H2 PUT "$L/lease-a" "$(lease lease-a kapimon-2 "$(rv "$TMP/lease.json")")"
req 409 admin h2 $H2 PUT "$L/lease-a" "$(lease lease-a kapimon-3 "$(rv "$TMP/lease.json")")"
req 200 admin h1 $H1 PATCH "$L/lease-b" '{"spec":{"holderIdentity":"kapimon-3"}}' application/merge-patch+json
req 200 admin h1 $H1 GET "$L"
req 200 admin h2 $H2 DELETE "$L/lease-b"

# --- deployments (apps), with the scale and status subresources ---------------------------------------------
D=/apis/apps/v1/namespaces/$NS/deployments
dep() { printf '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"%s"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"%s"}},"template":{"metadata":{"labels":{"app":"%s"}},"spec":{"containers":[{"name":"c","image":"registry.invalid/kapimon-wl:1"}]}}}}' "$1" "$1" "$1"; }
req 201 admin h2 $H2 POST "$D" "$(dep dep-a)"
req 201 admin h1 $H1 POST "$D" "$(dep dep-b)"
req 200 admin h2 $H2 GET "$D/dep-a"
req 200 admin h2 $H2 GET "$D/dep-a/scale"
req 200 admin h2 $H2 PATCH "$D/dep-a/scale" '{"spec":{"replicas":2}}' application/merge-patch+json
req 200 admin h1 $H1 GET "$D/dep-b/status"
req 200 admin h2 $H2 PATCH "$D/dep-a/status" '{"status":{"observedGeneration":1}}' application/merge-patch+json
req 200 admin h1 $H1 GET "$D"
req 200 admin h2 $H2 GET "/apis/apps/v1/deployments"

# --- serviceaccounts and the token subresource (the token is discarded) -------------------------------------
req 201 admin h2 $H2 POST "$N/serviceaccounts" '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa-wl"}}'
req 201 admin h2 $H2 POST "$N/serviceaccounts/sa-wl/token" '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":600}}'
req 200 admin h1 $H1 GET "$N/serviceaccounts/sa-wl"

# --- alice (authenticated, no RBAC grants), bad and missing tokens ------------------------------------------
req 403 alice h2 $AL GET "$N/configmaps"
req 403 alice h2 $AL GET "$N/secrets/sec-h2"
req 403 alice h1 $AL POST "$N/configmaps" "$(cm alice-cm)"
req 403 alice h1 $AL DELETE "$N/configmaps/cm-h2-1"
req 403 alice h2 $AL GET "/api/v1/namespaces"
req 200 alice h2 $AL GET /version
req 200 alice h1 $AL GET /apis
# a credential in the query string (ignored by the apiserver, must be redacted by kapimon); the URL goes
# through a curl config file so the token is not on a command line
printf 'url = "%s/version?access_token=%s&watch=0"\noutput = "/dev/null"\n' "$URL" "$KAPIMON_USER_TOKEN" >"$TMP/leak.cfg"
code=$(curl -sS --max-time 10 --http2 --cacert "$KAPIMON_CA" -H "@$TMP/alice.hdr" -A kapimon-wl-query-token/1.0 \
	-w '%{http_code}' -K "$TMP/leak.cfg" 2>"$TMP/curl.err") || true
count kapimon-wl-query-token/1.0
[ "$code" = 200 ] || { echo "workload: GET /version?access_token=...: status $code, expected 200" >&2; FAILS=$((FAILS + 1)); }
req 401 bad h2 kapimon-wl-badtoken/1.0 GET "$N/configmaps"
req 401 bad h1 kapimon-wl-badtoken/1.0 POST "$N/configmaps" "$(cm bad-cm)"
req 401 bad h2 kapimon-wl-badtoken/1.0 GET /healthz
req 401 none h1 kapimon-wl-anon/1.0 GET /version
req 401 none h2 kapimon-wl-anon/1.0 GET "$N/configmaps"

# --- kept-alive batches (h1 and h2) --------------------------------------------------------------------------
batch admin h1 kapimon-wl-curl-h1-keepalive/1.0 10 /healthz "$N/configmaps/cm-h2-2" /version
batch admin h2 kapimon-wl-curl-h2-batch/1.0 10 /readyz "$N/configmaps/cm-h2-3" "$L/lease-a"

# --- kubectl (its own User-Agent; h2) -------------------------------------------------------------------------
kc 0 get namespace "$NS"
kc 0 -n "$NS" get configmaps -o name
kc 0 -n "$NS" create configmap kubectl-cm --from-literal=k=v
kc 1 -n "$NS" create configmap kubectl-cm --from-literal=k=v
kc 0 -n "$NS" label configmap kubectl-cm tier=test
kc 0 -n "$NS" annotate configmap kubectl-cm note=kapimon
kc 0 -n "$NS" get configmap kubectl-cm -o yaml
kc 1 -n "$NS" get configmap kubectl-missing
kc 0 -n "$NS" get secrets -o name
dep kubectl-dep >"$TMP/dep.json"
kc 0 -n "$NS" apply -f "$TMP/dep.json"
kc 0 -n "$NS" scale deployment kubectl-dep --replicas=3
kc 0 -n "$NS" get deployments,leases -o name
kc 0 -n "$NS" get configmaps -w --request-timeout=2s
kc 0 get --raw /healthz
kc 0 auth can-i list configmaps -n "$NS"
kc 0 -n "$NS" delete deployment kubectl-dep
kc 0 -n "$NS" delete configmap kubectl-cm

# --- volume (h2load: h2 and h1) ---------------------------------------------------------------------------------
load h2 kapimon-wl-h2load/1.0 $((300 * SCALE)) 2 1 "$N/configmaps"
load h2 kapimon-wl-h2load/1.0 $((200 * SCALE)) 1 1 /healthz
load h1 kapimon-wl-h2load-h1/1.0 $((100 * SCALE)) 2 1 "$L/lease-a"

# --- clean up: deletecollection, deletes, namespace -------------------------------------------------------------
req 200 admin h2 $H2 DELETE "$N/configmaps?labelSelector=app%3Dkapimon-wl"
req 200 admin h1 $H1 DELETE "$L"
req 200 admin h2 $H2 DELETE "$D/dep-a"
req 200 admin h1 $H1 DELETE "$D/dep-b"
req 200 admin h2 $H2 DELETE "$N/secrets/sec-h2"
req 200 admin h2 $H2 DELETE "$N/serviceaccounts/sa-wl"

# the short watches end on their own (timeoutSeconds); wait for them (bounded by curl --max-time)
for p in "${BG_PIDS[@]}"; do
	wait "$p" || { echo "workload: watch client $p failed" >&2; FAILS=$((FAILS + 1)); }
done
BG_PIDS=()
req 200 admin h2 $H2 DELETE "$N"

total=0
by=""
for k in $(printf '%s\n' "${!SENT[@]}" | sort); do
	total=$((total + SENT[$k]))
	by+="${by:+,}$k=${SENT[$k]}"
done
echo "workload: ns=$NS requests=$total by_client=$by"
if [ "$FAILS" != 0 ]; then
	echo "workload: $FAILS requests got an unexpected status" >&2
	exit 1
fi
