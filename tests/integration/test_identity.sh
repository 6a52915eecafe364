#!/usr/bin/env bash
# Who made each request (issue 13): "user" and "groups" of kapimon's records against the audit log.
#
#   kapimon record --pid -> "attached" -> a mixed workload from every testbed identity (static tokens
#   admin, alice, bob, carol with their groups; the ServiceAccount token; the client certificate of dave,
#   O = groups), over HTTP/2 and HTTP/1.1, with 200s, 201s, 403s (alice, bob, the ServiceAccount have no
#   grants), 404s, admin impersonating alice (the audit log's user is the authenticated admin), and 401s
#   (a bad token) -> end marker awaited in the audit log and the records -> SIGINT ->
#   compare_identity.py: >= 99% of the audit requests joined on (user agent, path, verb, start time ==
#   requestReceivedTimestamp), user == user.username and groups == user.groups for >= 99%, 401s
#   without user; a control with every 25th user changed must fail; hits_per_request <= 2.5; no token
#   of any identity in the records.
# Artefacts in $KAPIMON_TEST_OUT/identity (default build/test-out/<testbed dir name>/identity).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAPIMON_ROOT" || exit 1
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out/$(basename "${KAPIMON_TESTBED_DIR:-/run/kapimon-testbed}")}/identity
rm -rf "$OUT" && mkdir -p "$OUT" && chmod 700 "$OUT"
REC=$OUT/records.jsonl
ERR=$OUT/kapimon.stderr
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
UA=kapimon-identity-$RUN
KPID=""
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	rm -f "$OUT"/*.hdr
}
trap cleanup EXIT

for v in KAPIMON_TOKEN KAPIMON_USER_TOKEN KAPIMON_BOB_TOKEN KAPIMON_CAROL_TOKEN KAPIMON_SA_TOKEN KAPIMON_CERT_USER; do
	if [ -z "${!v:-}" ]; then
		# every testbed this tree starts has the identities: a missing one is a failure, not a skip
		abort "$v not set" "the testbed could not make it (see \$KAPIMON_TESTBED_DIR/*.err), or it is a testbed of an older tree (scripts/testbed.sh down && up)"
	fi
done
hdr() { printf 'Authorization: Bearer %s\n' "$2" >"$OUT/$1.hdr"; }
hdr admin "$KAPIMON_TOKEN"
hdr alice "$KAPIMON_USER_TOKEN"
hdr bob "$KAPIMON_BOB_TOKEN"
hdr carol "$KAPIMON_CAROL_TOKEN"
hdr sa "$KAPIMON_SA_TOKEN"
hdr bad "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
: >"$OUT/dave.hdr"
chmod 600 "$OUT"/*.hdr
attached_or_exited() { grep -q attached "$ERR" || exited "$KPID"; }
audit_complete() { grep -F "\"userAgent\":\"$1\"" "$KAPIMON_AUDIT_LOG" 2>/dev/null | grep -q '"stage":"ResponseComplete"'; }
recorded() { grep -qF "\"user_agent\":\"$1\"" "$REC" 2>/dev/null; }

# who PROTO UA-SUFFIX [curl args...]: requests as one identity (one curl: one connection, reused), the
# statuses on stdout, one per line
who() {
	local id=$1 proto=$2 sfx=$3 auth=()
	shift 3
	if [ "$id" = dave ]; then
		auth=(--cert "$KAPIMON_CERT_USER.crt" --key "$KAPIMON_CERT_USER.key")
	else
		auth=(-H "@$OUT/$id.hdr")
	fi
	curl -sS --max-time 30 "--$proto" --cacert "$KAPIMON_CA" "${auth[@]}" -A "$UA-$sfx" \
		-o /dev/null -w '%{http_code}\n' "$@"
}
urls() { # N PATH...: each path N times, as URLs
	local n=$1 p i
	shift
	for i in $(seq "$n"); do for p in "$@"; do echo "$KAPIMON_APISERVER_URL$p"; done; done
}

"$KAPIMON" record --pid "$KAPIMON_APISERVER_PID" -o "$REC" --stats-interval 1 2>"$ERR" &
KPID=$!
wait_for "kapimon record prints 'attached' (or exits)" 60 attached_or_exited || abort
grep -q attached "$ERR" || abort "kapimon record attaches" "$(cat "$ERR")"
check_contains "the plan takes request starts after authentication" "starts after authn" "$(grep attached "$ERR")"
echo "test_identity: $(grep attached "$ERR")"

N=8
R="/api/v1/namespaces/default/configmaps /version /api /api/v1/namespaces/default/pods/nope"
: >"$OUT/statuses"
for id in admin alice bob carol sa dave; do
	# shellcheck disable=SC2046
	who "$id" http2 "$id-h2" $(urls "$N" $R) >>"$OUT/statuses"
	# shellcheck disable=SC2046
	who "$id" http1.1 "$id-h1" $(urls 2 $R) >>"$OUT/statuses"
done
# writes by the identities with grants (201 create, 200 delete)
for id in admin carol dave; do
	for i in 1 2 3; do
		who "$id" http2 "$id-write" -X POST -H 'Content-Type: application/json' \
			-d "{\"metadata\":{\"name\":\"kp-id-$RUN-$id-$i\"}}" \
			"$KAPIMON_APISERVER_URL/api/v1/namespaces/default/configmaps" >>"$OUT/statuses"
		who "$id" http2 "$id-write" -X DELETE \
			"$KAPIMON_APISERVER_URL/api/v1/namespaces/default/configmaps/kp-id-$RUN-$id-$i" >>"$OUT/statuses"
	done
done
# admin impersonating alice: the audit log's user is admin (impersonatedUser alice), as is kapimon's
# shellcheck disable=SC2046
who admin http2 admin-as-alice -H 'Impersonate-User: alice' $(urls 4 /api/v1/namespaces/default/configmaps) \
	>>"$OUT/statuses"
# failed authentication: 401, no user
# shellcheck disable=SC2046
who bad http2 bad-h2 $(urls "$N" /version /api/v1/namespaces/default/configmaps) >>"$OUT/statuses"
# shellcheck disable=SC2046
who bad http1.1 bad-h1 $(urls 3 /version) >>"$OUT/statuses"
for s in 200 201 401 403 404; do
	check_ge "workload statuses $s" 3 "$(grep -c "^$s\$" "$OUT/statuses")"
done

check_eq "end marker request" 200 "$(who admin http2 end "$KAPIMON_APISERVER_URL/version")"
wait_for "end marker in the audit log (ResponseComplete)" 30 audit_complete "$UA-end" || abort
wait_for "end marker in kapimon's output" 30 recorded "$UA-end" || abort
kill -INT "$KPID"
wait_for "kapimon exits after SIGINT" 30 exited "$KPID" || abort
rc=0
wait "$KPID" || rc=$?
KPID=""
check_eq "kapimon record exit status after SIGINT" 0 "$rc"
echo "test_identity: $(tail -n 1 "$ERR")"
cp "$KAPIMON_AUDIT_LOG" "$OUT/audit.log"

python3 tests/integration/compare_identity.py --audit "$OUT/audit.log" --records "$REC" --ua-prefix "$UA" \
	--json "$OUT/compare.json" >"$OUT/compare.txt" 2>&1
rc=$?
report <"$OUT/compare.txt"
check_eq "compare_identity.py passes" 0 "$rc"
# control: a wrong user in every 25th record must be noticed
awk -v ua="$UA" 'index($0, ua) && /"user":"/ && ++n % 25 == 0 {sub(/"user":"[^"]*"/, "\"user\":\"mallory\"")} {print}' \
	"$REC" >"$OUT/control-user.jsonl"
python3 tests/integration/compare_identity.py --audit "$OUT/audit.log" --records "$OUT/control-user.jsonl" \
	--ua-prefix "$UA" >"$OUT/control-user.txt" 2>&1
check_eq "control: compare_identity.py fails with every 25th user replaced" 1 "$?"

# the cost: at most 2.5 uprobe hits per request (2 expected: a start after authentication, an end)
last=$(grep '"kind":"stats"' "$REC" | tail -n 1)
hpr=$(json_get "$last" 'd["hits_per_request"]')
echo "test_identity: hits_per_request $hpr, probe_hits $(json_get "$last" 'd["probe_hits"]')"
check "hits_per_request <= 2.5 ($hpr)" python3 -c "import sys; sys.exit(not 0 < $hpr <= 2.5)"
check_eq "no authn start without the received timestamp" 0 "$(json_get "$last" 'd["authn"]["no_received_ts"]')"
check_eq "no authenticated start without a user" 0 "$(json_get "$last" 'd["authn"]["no_user"]')"
check_ge "authn_fail probe hits (the 401s)" 19 "$(json_get "$last" 'd["probe_hits"]["authn_fail"]')"

# no credential of any identity in the records
tokens() { printf '%s\n' "$KAPIMON_TOKEN" "$KAPIMON_USER_TOKEN" "$KAPIMON_BOB_TOKEN" "$KAPIMON_CAROL_TOKEN" \
	"$KAPIMON_SA_TOKEN" "$(cut -d' ' -f3 "$OUT/bad.hdr")"; }
if grep -qF -f <(tokens) "$REC" "$ERR"; then
	_fail "no record contains a token" "$(grep -c -F -f <(tokens) "$REC") lines do"
else
	_ok "no record contains a token (6 tokens, the ServiceAccount's JWT included)"
fi
finish
