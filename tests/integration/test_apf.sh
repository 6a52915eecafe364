#!/usr/bin/env bash
# API Priority and Fairness per request (issue 13): kapimon agent (--flows + --metrics) and kapimon top
# --by priority-level against the testbed (APF is on by default in 1.20: flowcontrol v1beta1).
#
#  1. served requests: admin GETs over h2 and h1 with their own user agents; the response headers curl
#     sees (X-Kubernetes-PF-PriorityLevel-UID, -FlowSchema-UID) equal each record's priority_level_uid
#     and flow_schema_uid.
#  2. a PriorityLevelConfiguration with 1 concurrency share and a queue of 1 (1 queue, hand 1) and a
#     FlowSchema sending the unprivileged user's requests to it (names with a per-run suffix; deleted
#     at the end); applied once the user's responses carry the new FlowSchema's UID.
#  3. h2load saturates it (the user's list requests; 403 when served: the user has no RBAC grants).
#     The apiserver's apiserver_flowcontrol_rejected_requests_total{priority_level,flow_schema,reason}
#     is read from /metrics before and after; kapimon's 429s for that priority level and flow schema
#     equal its increase, in total and per reason, in the records (priority_level, flow_schema,
#     apf_reject_reason) and in the agent's kapimon_requests_by_priority_level_total{code="429"}; the
#     served ones carry the new objects' UIDs, and their names (learned from the APF config digest that
#     creating them caused) in the records and the {code="403"} series; every request h2load finished is
#     recorded once.
#  4. top --batch -j --by priority-level during the saturation: a snapshot shows the priority level
#     with 429s (waited for before top is stopped: on a fast host the flood fits in one interval).
# Needs root, ./kapimon, curl, h2load, kubectl, python3 and the testbed env. Artefacts in
# $KAPIMON_TEST_OUT/apf (default build/test-out/<testbed>/apf).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAPIMON_ROOT" || exit 1
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out/$(basename "${KAPIMON_TESTBED_DIR:-/run/kapimon-testbed}")}/apf
rm -rf "$OUT" && mkdir -p "$OUT/flows"
RUN=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
PL=kapimon-test-tiny-$RUN
FS=kapimon-test-user-$RUN
UA_H2=kapimon-apf-h2-$RUN
UA_H1=kapimon-apf-h1-$RUN
UA_FLOOD=kapimon-apf-flood-$RUN
FLOOD_N=${KAPIMON_APF_FLOOD:-1500}
APID="" TPID="" CREATED=""

log() { echo "test_apf: $*"; }
cleanup() {
	[ -z "$APID" ] || kill -KILL "$APID" 2>/dev/null || true
	[ -z "$TPID" ] || kill -KILL "$TPID" 2>/dev/null || true
	[ -z "$CREATED" ] || kctl delete "flowschema/$FS" "prioritylevelconfiguration/$PL" --ignore-not-found >/dev/null 2>&1
	rm -f "$OUT/admin.hdr" "$OUT/user.hdr"
}
trap cleanup EXIT
command -v h2load >/dev/null || abort "h2load is installed" "not found"
printf 'Authorization: Bearer %s\n' "$KAPIMON_TOKEN" >"$OUT/admin.hdr" && chmod 600 "$OUT/admin.hdr"
printf 'Authorization: Bearer %s\n' "$KAPIMON_USER_TOKEN" >"$OUT/user.hdr" && chmod 600 "$OUT/user.hdr"

# apiserver /metrics: rejected requests of our priority level and flow schema, {"reason": n}
rejected() {
	curl -sS --max-time 10 --cacert "$KAPIMON_CA" -H "@$OUT/admin.hdr" "$KAPIMON_APISERVER_URL/metrics" |
		python3 -c '
import json, re, sys
pl, fs = sys.argv[1], sys.argv[2]
out = {}
for line in sys.stdin:
    if not line.startswith("apiserver_flowcontrol_rejected_requests_total{"):
        continue
    labels = dict(re.findall(r"(\w+)=\"((?:[^\"\\\\]|\\\\.)*)\"", line[line.index("{"):line.rindex("}")]))
    if labels.get("priority_level") == pl and labels.get("flow_schema") == fs:
        out[labels["reason"]] = out.get(labels["reason"], 0) + float(line.split()[-1])
print(json.dumps(out))' "$PL" "$FS"
}
# header NAME FILE: a response header's value from curl -D output (case-insensitive name)
header() { tr -d '\r' <"$2" | awk -v n="$1" -F': ' 'tolower($1) == tolower(n) { print $2 }' | tail -1; }

# --- agent (records + metrics) and top ----------------------------------------------------------------------
"$KAPIMON" agent --pid "$KAPIMON_APISERVER_PID" --flows "$OUT/flows" --metrics 127.0.0.1:0 2>"$OUT/agent.err" &
APID=$!
agent_up() { (grep -q attached "$OUT/agent.err" && grep -q 'metrics at' "$OUT/agent.err") || exited "$APID"; }
wait_for "agent attached and serving metrics (or exited)" 90 agent_up || abort
exited "$APID" && abort "agent runs" "$(cat "$OUT/agent.err")"
MPORT=$(sed -n 's/.*metrics at .*(port \([0-9]*\)).*/\1/p' "$OUT/agent.err")
[ -n "$MPORT" ] || abort "metrics port" "$(cat "$OUT/agent.err")"
"$KAPIMON" doctor --pid "$KAPIMON_APISERVER_PID" >"$OUT/doctor.txt" 2>&1
check "doctor: the apf group attaches" grep -qE '^ +apf +attach +3 sites' "$OUT/doctor.txt"
check "doctor: served requests are classified from the response headers" \
	grep -q 'apf classification of served requests (response headers): h2-xnet, h2-bundled, http1' "$OUT/doctor.txt"
log "$(grep attached "$OUT/agent.err")"

# --- 1. served requests: records vs the headers curl sees ---------------------------------------------------
served() { # served PROTO UA CURL-FLAG: an admin list; its status; headers in $OUT/PROTO.hdr
	curl -sS -o /dev/null -D "$OUT/$1.hdr" -w '%{http_code}' --max-time 10 "$3" --cacert "$KAPIMON_CA" \
		-H "@$OUT/admin.hdr" -A "$2" "$KAPIMON_APISERVER_URL/api/v1/namespaces/default/configmaps"
}
check_eq "h2 admin list served" 200 "$(served h2 "$UA_H2" --http2)"
check_eq "h1 admin list served" 200 "$(served h1 "$UA_H1" --http1.1)"
PLUID_h2=$(header X-Kubernetes-PF-PriorityLevel-UID "$OUT/h2.hdr")
FSUID_h2=$(header X-Kubernetes-PF-FlowSchema-UID "$OUT/h2.hdr")
PLUID_h1=$(header X-Kubernetes-PF-PriorityLevel-UID "$OUT/h1.hdr")
FSUID_h1=$(header X-Kubernetes-PF-FlowSchema-UID "$OUT/h1.hdr")
if [ -z "$PLUID_h2" ] || [ -z "$FSUID_h2" ]; then
	abort "the apiserver sends the APF headers (APF on)" "$(cat "$OUT/h2.hdr")"
fi

# --- 2. a tiny priority level for the unprivileged user -----------------------------------------------------
cat >"$OUT/apf.yaml" <<YAML
apiVersion: flowcontrol.apiserver.k8s.io/v1beta1
kind: PriorityLevelConfiguration
metadata:
  name: $PL
spec:
  type: Limited
  limited:
    assuredConcurrencyShares: 1
    limitResponse:
      type: Queue
      queuing: {queues: 1, handSize: 1, queueLengthLimit: 1}
---
apiVersion: flowcontrol.apiserver.k8s.io/v1beta1
kind: FlowSchema
metadata:
  name: $FS
spec:
  priorityLevelConfiguration: {name: $PL}
  matchingPrecedence: 300
  distinguisherMethod: {type: ByUser}
  rules:
  - subjects:
    - kind: User
      user: {name: alice}
    resourceRules:
    - {verbs: ["*"], apiGroups: ["*"], resources: ["*"], namespaces: ["*"], clusterScope: true}
YAML
kctl apply -f "$OUT/apf.yaml" >"$OUT/apply.out" 2>&1 || abort "create the PriorityLevelConfiguration and FlowSchema" "$(cat "$OUT/apply.out")"
CREATED=1
PL_UID=$(kctl get prioritylevelconfiguration "$PL" -o jsonpath='{.metadata.uid}')
FS_UID=$(kctl get flowschema "$FS" -o jsonpath='{.metadata.uid}')
user_in_fs() {
	curl -sS -o /dev/null -D "$OUT/user.hdrs" --max-time 10 --cacert "$KAPIMON_CA" -H "@$OUT/user.hdr" \
		-A kapimon-apf-probe "$KAPIMON_APISERVER_URL/api/v1/namespaces/default/configmaps" &&
		[ "$(header X-Kubernetes-PF-FlowSchema-UID "$OUT/user.hdrs")" = "$FS_UID" ]
}
wait_for "the user's requests are classified into the new FlowSchema" 60 user_in_fs || abort

# --- 3. saturate it -------------------------------------------------------------------------------------------
"$KAPIMON" -j top --pid "$KAPIMON_APISERVER_PID" --batch --interval 1 --by priority-level >"$OUT/top.jsonl" \
	2>"$OUT/top.err" &
TPID=$!
top_up() { grep -q attached "$OUT/top.err" || exited "$TPID"; }
wait_for "top attached (or exited)" 90 top_up || abort
BEFORE=$(rejected)
h2load -n "$FLOOD_N" -c 40 -m 8 -H "authorization: Bearer $KAPIMON_USER_TOKEN" -H "user-agent: $UA_FLOOD" \
	"$KAPIMON_APISERVER_URL/api/v1/namespaces/default/configmaps" >"$OUT/h2load.out" 2>&1
AFTER=$(rejected)
DONE=$(sed -n 's/^requests: .* \([0-9]*\) done.*/\1/p' "$OUT/h2load.out")
log "h2load: $(grep -E '^status codes' "$OUT/h2load.out"); apiserver rejected before $BEFORE after $AFTER"
# the agent has counted every finished flood request (its metric family holds them all)
scrape() { curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics" >"$OUT/metrics.txt"; }
flood_counted() {
	scrape && python3 - "$OUT/metrics.txt" "$PL" "$FS" "$PL_UID" "$FS_UID" "$DONE" <<'PY'
import re, sys
f, pl, fs, pluid, fsuid, done = sys.argv[1:7]
n = 0
for line in open(f):
    if line.startswith("kapimon_requests_by_priority_level_total{"):
        l = dict(re.findall(r'(\w+)="([^"]*)"', line))
        if (l["priority_level"], l["flow_schema"]) in ((pl, fs), (pluid, fsuid)):
            n += float(line.split()[-1])
sys.exit(0 if n >= int(done) else 1)
PY
}
wait_for "the agent's metrics hold the $DONE finished flood requests" 60 flood_counted
# 4. a snapshot of top's after the flood (a fast host floods within one of its 1-s intervals)
top_shows_429() {
	python3 - "$OUT/top.jsonl" "$PL" <<'PY'
import json, sys
seen = 0
for line in open(sys.argv[1]):
    try:
        snap = json.loads(line)
    except ValueError:
        continue
    if snap.get("by") == "priority-level":
        seen += any(r.get("priority_level") == sys.argv[2] and r.get("e429_per_s", 0) > 0 for r in snap.get("rows", []))
sys.exit(0 if seen else 1)
PY
}
wait_for "top --by priority-level shows the priority level with 429/s" 30 top_shows_429
kill -INT "$TPID" 2>/dev/null
wait "$TPID" 2>/dev/null
TPID=""
kill -TERM "$APID" 2>/dev/null
wait "$APID"
check_eq "agent exit status after SIGTERM" 0 "$?"
APID=""
cat "$OUT"/flows/flows.jsonl* >"$OUT/records.jsonl" 2>/dev/null

python3 - "$OUT/records.jsonl" "$OUT/metrics.txt" "$PL" "$FS" "$PL_UID" "$FS_UID" "$BEFORE" "$AFTER" \
	"$DONE" "$UA_H2" "$UA_H1" "$UA_FLOOD" "$PLUID_h2" "$FSUID_h2" "$PLUID_h1" "$FSUID_h1" >"$OUT/checks.txt" <<'PY'
import json, re, sys
(recf, metf, pl, fs, pluid, fsuid, before, after, done, ua_h2, ua_h1, ua_flood,
 pluid_h2, fsuid_h2, pluid_h1, fsuid_h1) = sys.argv[1:17]
before, after, done = json.loads(before), json.loads(after), int(done)
def check(cond, desc, detail=""):
    print(("ok\t%s" % desc) if cond else ("FAIL\t%s\t%s" % (desc, detail)))
recs = []
for line in open(recf):
    d = json.loads(line)
    if d.get("kind") == "request":
        recs.append(d)
by_ua = {}
for r in recs:
    by_ua.setdefault(r.get("user_agent"), []).append(r)
# 1. served: the UIDs curl saw
for ua, plu, fsu, proto in ((ua_h2, pluid_h2, fsuid_h2, "h2"), (ua_h1, pluid_h1, fsuid_h1, "h1")):
    rs = by_ua.get(ua, [])
    check(len(rs) == 1 and rs[0].get("proto") == proto, "%s request recorded once" % proto, str(rs)[:300])
    if rs:
        got = (rs[0].get("priority_level_uid"), rs[0].get("flow_schema_uid"))
        check(got == (plu, fsu) and plu, "%s record's UIDs equal the response headers" % proto,
              "record %s, headers %s" % (got, (plu, fsu)))
# 3. the flood
fl = by_ua.get(ua_flood, [])
check(len(fl) == done, "every finished flood request recorded once (%d)" % done, "%d records" % len(fl))
rej = [r for r in fl if r["status"] == 429]
srv = [r for r in fl if r["status"] != 429]
want = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
want_total = sum(want.values())
check(want_total > 0, "the saturation made APF reject requests (%d)" % want_total, json.dumps(want))
check(len(rej) == want_total, "429 records == increase of apiserver_flowcontrol_rejected_requests_total (%d)" % want_total,
      "kapimon %d, apiserver %s" % (len(rej), json.dumps(want)))
bad = [r for r in rej if r.get("priority_level") != pl or r.get("flow_schema") != fs]
check(not bad, "every 429 record names the priority level and flow schema", str(bad[:2])[:300])
per = {}
for r in rej:
    per[r.get("apf_reject_reason")] = per.get(r.get("apf_reject_reason"), 0) + 1
check(per == {k: v for k, v in want.items() if v}, "429 records per reason == the apiserver's per reason",
      "kapimon %s, apiserver %s" % (per, want))
bad = [r for r in srv if (r.get("priority_level_uid"), r.get("flow_schema_uid")) != (pluid, fsuid)]
check(srv and not bad, "served flood requests (%d) carry the new objects' UIDs" % len(srv), str(bad[:2])[:300])
bad = [r for r in srv if (r.get("priority_level"), r.get("flow_schema")) != (pl, fs)]
check(srv and not bad, "... and their names (learned from the config digest)", str(bad[:2])[:300])
# the agent's metric family
m = {}
for line in open(metf):
    if line.startswith("kapimon_requests_by_priority_level_total{"):
        l = dict(re.findall(r'(\w+)="([^"]*)"', line))
        m[(l["priority_level"], l["flow_schema"], l["code"])] = float(line.split()[-1])
check(m.get((pl, fs, "429"), 0) == want_total,
      "kapimon_requests_by_priority_level_total{code=\"429\"} == the apiserver's increase (%d)" % want_total,
      "metric %s" % m.get((pl, fs, "429")))
# every record of the new priority level and flow schema (the flood's, the classification probes') is in
# the family, per code
codes = {}
for r in recs:
    if (r.get("priority_level"), r.get("flow_schema")) == (pl, fs):
        codes[str(r["status"])] = codes.get(str(r["status"]), 0) + 1
fam = {c: v for (p_, f_, c), v in m.items() if (p_, f_) == (pl, fs)}
check(codes.get("403", 0) >= len(srv) and fam == codes,
      "the family's series of the new names == the records per code (served under the names)",
      "records %s, family %s" % (codes, fam))
PY
report <"$OUT/checks.txt"
finish
