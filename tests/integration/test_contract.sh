#!/usr/bin/env bash
# The BPF<->record contract on the real apiserver: what the capture cuts is marked (a 599-byte request
# target becomes a 511-byte path ending in "...[truncated]", "truncated" names the cut fields, over
# h2 and h1), and every counter and probe the BPF programs keep reaches the stats record (the
# tracepoint's conn_state hits cover at least the state changes of the connections it reported).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAPIMON_ROOT" || exit 1
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out/$(basename "${KAPIMON_TESTBED_DIR:-/run/kapimon-testbed}")}/contract
rm -rf "$OUT" && mkdir -p "$OUT"
REC=$OUT/records.jsonl
ERR=$OUT/kapimon.stderr
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
KPID=""
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	rm -f "$OUT/admin.hdr"
}
trap cleanup EXIT
printf 'Authorization: Bearer %s\n' "$KAPIMON_TOKEN" >"$OUT/admin.hdr" && chmod 600 "$OUT/admin.hdr"
req() { # req h2|h1.1 UA PATH: one admin GET; prints the status
	curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "--http${1#h}" --cacert "$KAPIMON_CA" -H "@$OUT/admin.hdr" \
		-A "$2" "$KAPIMON_APISERVER_URL$3"
}
attached_or_exited() { grep -q attached "$ERR" || exited "$KPID"; }
recorded() { grep -qF "\"user_agent\":\"$1" "$REC" 2>/dev/null; }

"$KAPIMON" record --pid "$KAPIMON_APISERVER_PID" -o "$REC" --stats-interval 1 2>"$ERR" &
KPID=$!
wait_for "kapimon record prints 'attached' (or exits)" 60 attached_or_exited || abort
grep -q attached "$ERR" || abort "kapimon record attaches" "$(cat "$ERR")"

prefix=/api/v1/namespaces/default/configmaps/
name=$(printf 'a%.0s' $(seq $((599 - ${#prefix}))))
long=$prefix$name # 599 bytes: the capture keeps 511
check_eq "oracle: the long request target is 599 bytes" 599 "${#long}"
pad=$(printf 'u%.0s' $(seq 300))
for proto in h2 h1.1; do
	ua_long=kapimon-contract-$RUN-$proto-long-$pad # > 255 bytes: the capture keeps 255
	ua_short=kapimon-contract-$RUN-$proto-short
	check_eq "$proto: a 599-byte GET gets an answer (404: no such configmap)" 404 "$(req $proto "$ua_long" "$long")"
	check_eq "$proto: control request" 200 "$(req $proto "$ua_short" /version)"
done
for proto in h2 h1.1; do
	wait_for "$proto: records of both requests written" 30 recorded "kapimon-contract-$RUN-$proto-short" || abort
	wait_for "$proto: long record written" 30 recorded "kapimon-contract-$RUN-$proto-long-" || abort
done
kill -INT "$KPID"
wait_for "kapimon exits after SIGINT" 30 exited "$KPID" || abort
wait "$KPID"
check_eq "kapimon record exit status after SIGINT" 0 "$?"
KPID=""

res=$(python3 - "$REC" "$RUN" "${#long}" <<'PY'
import json, sys
path, run, full = sys.argv[1], sys.argv[2], int(sys.argv[3])
recs = [json.loads(l) for l in open(path)]
out = []
for proto, want_proto in (("h2", "h2"), ("h1.1", "h1")):
    lng = [r for r in recs if r["kind"] == "request" and r["user_agent"].startswith("kapimon-contract-%s-%s-long-" % (run, proto))]
    sht = [r for r in recs if r["kind"] == "request" and r["user_agent"] == "kapimon-contract-%s-%s-short" % (run, proto)]
    if len(lng) != 1 or len(sht) != 1:
        out.append("%s: %d long, %d short records" % (proto, len(lng), len(sht)))
        continue
    l, s = lng[0], sht[0]
    p = l["path"].encode()
    checks = [
        (l.get("proto") == want_proto, "proto %s" % l.get("proto")),
        (len(p) == 511, "path %d bytes, not 511 (497 captured + the marker)" % len(p)),
        (p.endswith(b"...[truncated]"), "path does not end in the marker: ...%s" % p[-20:]),
        (p.startswith(b"/api/v1/namespaces/default/configmaps/aaaa"), "path prefix lost"),
        (l.get("truncated") == ["path", "user_agent"], "truncated = %s" % l.get("truncated")),
        (len(l["user_agent"].encode()) == 255, "user_agent %d bytes" % len(l["user_agent"].encode())),
        (l["resource"] == "configmaps" and l["verb"] == "get", "classified %s %s" % (l["verb"], l["resource"])),
        (l["status"] == 404, "status %s" % l["status"]),
        ("truncated" not in s, "control record has truncated = %s" % s.get("truncated")),
        (s["path"] == "/version", "control path %s" % s["path"]),
    ]
    out += ["%s: %s" % (proto, why) for ok, why in checks if not ok]
stats = [r for r in recs if r["kind"] == "stats"]
if not stats:
    out.append("no stats line")
else:
    st = stats[-1]
    names = ["h2_process_headers", "h2_handler_done", "h1_request_start", "h1_finish_request", "grpc_transport_write",
             "grpc_call_finish", "calibrate", "etcd_watch_dispatch", "conn_state", "tcp_retransmit", "tcp_reset",
             "etcd_range_resp", "authn_ok", "authn_fail", "apf_add_reject", "apf_too_many", "apf_digest"]
    missing = [n for n in names if not isinstance(st["probe_hits"].get(n), int)]
    if missing or len(st["probe_hits"]) != len(names):
        out.append("probe_hits keys %s (missing %s)" % (sorted(st["probe_hits"]), missing))
    for k in ("ringbuf_drops", "read_errors", "h2_headers_no_method"):
        if not isinstance(st.get(k), int):
            out.append("stats has no integer %s" % k)
    for k in ("watch_keys_truncated", "no_resp_size", "range_no_kvs", "cost_early"):
        if not isinstance(st.get("etcd", {}).get(k), int):
            out.append("stats etcd has no %s" % k)
    # the testbed's apiserver starts requests after authentication: the authn counters are written
    for k in ("starts", "no_user", "no_received_ts"):
        if not isinstance(st.get("authn", {}).get(k), int):
            out.append("stats authn has no integer %s" % k)
    c = st.get("connections")
    if c is None:
        out.append("no connections object")
    elif c["opened"] < 4 or st["probe_hits"].get("conn_state", 0) < c["opened"] + c["closed"]:
        out.append("conn_state %s < opened %d + closed %d (or < 4 connections seen)" % (st["probe_hits"].get("conn_state"), c["opened"], c["closed"]))
print("; ".join(out))
PY
)
check_eq "records: cut path marked (511 bytes, '...[truncated]', truncated=[path, user_agent]) over h2 and h1; controls unmarked; stats carry every counter and probe" "" "$res"
finish
