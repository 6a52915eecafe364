#!/usr/bin/env bash
# What etcd returned, per call and per request (issue 13): ConfigMaps in three fresh namespaces
# (NA, NB, NC of them, values of varied size), counted and sized independently with etcdctl before
# kapimon attaches; then LISTs through the apiserver while `kapimon record --pid` runs:
#   - an unpaged LIST per namespace, and of all namespaces;
#   - a paged LIST of namespace A (limit 25, following the continue tokens);
#   - a LIST of namespace B with limit=500 (as kubectl get asks);
#   - a LIST with resourceVersion=0 (served by the watch cache: no etcd call) and a GET of one object.
# Checks, per LIST request (found by its own user agent):
#   - the key-values of the Ranges linked to it (etcd records "kvs") sum to etcdctl's count of the
#     listed prefix, and each Range's "count" is etcd's count of the rest of the range;
#   - the request record's etcd_calls / etcd_kvs / etcd_resp_bytes equal the sums over its linked calls;
#   - an unpaged LIST's resp_size equals the size of etcdctl's RangeResponse for the same prefix
#     (`etcdctl get --prefix -w protobuf | wc -c`) within 8 bytes (the response headers' revision and
#     raft term varints may differ), and is >= the sum of the key and value bytes (etcdctl -w json);
#   - the pages' resp_size sum to the unpaged size plus at most 64 bytes per page (a header each).
# No value is ever printed: etcdctl's output goes to wc/python only.
set -uo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out/$(basename "${KAPIMON_TESTBED_DIR:-testbed}")/etcd-cost}
rm -rf "$OUT" && mkdir -p "$OUT"
NA=${KAPIMON_ETCD_COST_NA:-120}
NB=${KAPIMON_ETCD_COST_NB:-60}
NC=${KAPIMON_ETCD_COST_NC:-30}
run="kec$$"
nss=("$run-a" "$run-b" "$run-c")
kp=
cleanup() {
	[ -z "$kp" ] || kill "$kp" 2>/dev/null
	# the testbed runs no namespace controller: delete the configmaps themselves, then the namespaces
	for ns in "${nss[@]}"; do
		kctl -n "$ns" delete configmaps --all --wait=false >/dev/null 2>&1
		kctl delete namespace "$ns" --wait=false >/dev/null 2>&1
	done
}
trap cleanup EXIT

command -v etcdctl >/dev/null || abort "etcdctl present" "no etcdctl (apt-get install etcd-client)"
ectl() {
	ETCDCTL_API=3 etcdctl --endpoints "$KAPIMON_ETCD_URL" --cacert "$KAPIMON_ETCD_CA" --cert "$KAPIMON_ETCD_CERT" \
		--key "$KAPIMON_ETCD_KEY" "$@"
}

# ---- objects: NA, NB, NC configmaps, values of 10 .. ~1000 bytes ----
python3 - "$OUT/objects.json" "$NA" "$NB" "$NC" "${nss[@]}" <<'PY' || abort "generate objects"
import json, sys
out, counts, nss = sys.argv[1], [int(x) for x in sys.argv[2:5]], sys.argv[5:8]
items = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in nss]
for ns, n in zip(nss, counts):
    for i in range(n):
        items.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-%04d" % i, "namespace": ns},
                      "data": {"v": "x" * (10 + (i * 37) % 1000)}})
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(out, "w"))
PY
check "create 3 namespaces and $((NA + NB + NC)) configmaps" kctl create -f "$OUT/objects.json" -o name
counts=("$NA" "$NB" "$NC")
for i in 0 1 2; do
	want=${counts[$i]}
	got=$(kctl -n "${nss[$i]}" get configmaps -o name | grep -c '^configmap/cm-')
	check_eq "namespace ${nss[$i]} holds $want configmaps" "$want" "$got"
done

# ---- etcd's own view of each listed prefix (before kapimon: the window has the apiserver alone) ----
truth() { # PREFIX NAME: count (Range with limit 1 reports the count of the whole range), RangeResponse bytes,
	# sum of key + value bytes; values never leave the pipe
	local pfx=$1 name=$2
	ectl get --prefix --limit 1 -w json "$pfx" >"$OUT/$name.count.json" || return 1
	ectl get --prefix -w protobuf "$pfx" | wc -c >"$OUT/$name.pb_bytes" || return 1
	ectl get --prefix -w json "$pfx" | python3 -c '
import base64, json, sys
d = json.load(sys.stdin)
print(sum(len(base64.b64decode(kv["key"])) + len(base64.b64decode(kv.get("value", ""))) for kv in d.get("kvs", [])))
' >"$OUT/$name.kv_bytes" || return 1
}
for i in 0 1 2; do
	check "etcdctl: the prefix of ${nss[$i]}" truth "/registry/configmaps/${nss[$i]}/" "ns$i"
done
check "etcdctl: every configmap (/registry/configmaps/)" truth "/registry/configmaps/" all

# ---- record the LISTs ----
"$KAPIMON" record --pid "$KAPIMON_APISERVER_PID" --stats-interval 0 -o "$OUT/rec.jsonl" 2>"$OUT/err" &
kp=$!
wait_for "record attached" 60 grep -q attached "$OUT/err" || abort "record attached" "$(cat "$OUT/err")"
code() { api "$1" -A "$2" -o "$OUT/body.json" -w '%{http_code}'; }
for i in 0 1 2; do
	check_eq "LIST ${nss[$i]} (unpaged)" 200 "$(code "/api/v1/namespaces/${nss[$i]}/configmaps" "$run-list-$i")"
done
check_eq "LIST every namespace" 200 "$(code "/api/v1/configmaps" "$run-list-all")"
# paged: follow the continue tokens
cont='' pages=0
while :; do
	c=$(code "/api/v1/namespaces/${nss[0]}/configmaps?limit=25${cont:+&continue=$cont}" "$run-paged")
	[ "$c" = 200 ] || break
	pages=$((pages + 1))
	cont=$(python3 -c 'import json,sys,urllib.parse; print(urllib.parse.quote(json.load(open(sys.argv[1]))["metadata"].get("continue", ""), safe=""))' "$OUT/body.json")
	if [ -z "$cont" ] || [ $pages -ge 100 ]; then break; fi
done
check_eq "paged LIST of ${nss[0]}: $(((NA + 24) / 25)) pages of 25" $(((NA + 24) / 25)) "$pages"
# as kubectl lists (chunks of 500)
check_eq "LIST ${nss[1]} limit=500 (as kubectl get)" 200 "$(code "/api/v1/namespaces/${nss[1]}/configmaps?limit=500" "$run-kubectl")"
check_eq "LIST ${nss[2]} resourceVersion=0 (watch cache)" 200 "$(code "/api/v1/namespaces/${nss[2]}/configmaps?resourceVersion=0" "$run-cache")"
check_eq "GET one configmap" 200 "$(code "/api/v1/namespaces/${nss[2]}/configmaps/cm-0001" "$run-get")"
# a later marker: once it is written, every earlier request (and its calls) has been read
marker_seen() { grep -q "\"user_agent\":\"$run-marker\"" "$OUT/rec.jsonl"; }
api /version -A "$run-marker" -o /dev/null
wait_for "a later marker request is recorded" 30 marker_seen
kill -INT "$kp"
wait "$kp"
check_eq "record exits 0" 0 "$?"
kp=

python3 - "$OUT" "$run" "$pages" "${nss[@]}" >"$OUT/checks.tsv" 2>&1 <<'PY' 
import json, sys
out, run, pages, nss = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:7]
reqs, calls, stats = {}, {}, None
for line in open(out + "/rec.jsonl"):
    r = json.loads(line)
    if r["kind"] == "request":
        reqs[r["id"]] = r
    elif r["kind"] == "etcd" and r.get("request_id"):
        calls.setdefault(r["request_id"], []).append(r)
    elif r["kind"] == "stats":
        stats = r
def truth(name):
    c = json.load(open("%s/%s.count.json" % (out, name)))
    return int(c.get("count", 0)), int(open("%s/%s.pb_bytes" % (out, name)).read()), int(open("%s/%s.kv_bytes" % (out, name)).read())
def ok(desc, cond, detail=""):
    print("%s\t%s\t%s" % ("ok" if cond else "FAIL", desc, "" if cond else detail))
def by_agent(ua):
    return sorted((r for r in reqs.values() if r.get("user_agent", "").startswith(ua)), key=lambda r: r["ts"])
def ranges(r):
    return [c for c in calls.get(r["id"], []) if c["op"] == "range"]
def sums_ok(desc, r):
    cs = calls.get(r["id"], [])
    want = (len(cs), sum(c.get("resp_size", 0) for c in cs), sum(c.get("kvs", 0) for c in cs))
    got = (r.get("etcd_calls"), r.get("etcd_resp_bytes"), r.get("etcd_kvs"))
    ok("%s: the request's etcd_calls/etcd_resp_bytes/etcd_kvs %s are the sums over its calls" % (desc, got), want == got,
       "sums over the linked calls: %s" % (want,))
    print("  %s: request etcd_calls %s etcd_resp_bytes %s etcd_kvs %s" % (desc, *got))
results = {}
for i, name in enumerate(["ns0", "ns1", "ns2", "all"]):
    ua = "%s-list-%s" % (run, i if i < 3 else "all")
    rs = by_agent(ua)
    cnt, pb, kvb = truth(name)
    ok("%s: one LIST request recorded" % ua, len(rs) == 1, "found %d" % len(rs))
    if len(rs) != 1:
        continue
    r = rs[0]
    rg = ranges(r)
    ok("%s: one Range linked" % ua, len(rg) == 1, json.dumps(rg)[:300])
    if not rg:
        continue
    c = rg[0]
    print("  %s: etcd kvs %s count %s resp_size %s; etcdctl count %d, RangeResponse %d bytes, keys+values %d bytes"
          % (ua, c.get("kvs"), c.get("count"), c.get("resp_size"), cnt, pb, kvb))
    ok("%s: kvs = etcdctl's count %d" % (ua, cnt), c.get("kvs") == cnt, "kvs %s" % c.get("kvs"))
    ok("%s: count = %d, more absent" % (ua, cnt), c.get("count") == cnt and "more" not in c, json.dumps(c))
    ok("%s: resp_size %s = etcdctl's RangeResponse %d bytes +-8" % (ua, c.get("resp_size"), pb),
       abs(c.get("resp_size", -100) - pb) <= 8)
    ok("%s: resp_size >= keys+values %d" % (ua, kvb), c.get("resp_size", 0) >= kvb)
    sums_ok(ua, r)
    results[ua] = {"kvs": c.get("kvs"), "resp_size": c.get("resp_size"), "etcdctl_count": cnt, "etcdctl_pb": pb, "kv_bytes": kvb}
# paged
cnt, pb, kvb = truth("ns0")
rs = by_agent(run + "-paged")
ok("paged: %d page requests recorded" % pages, len(rs) == pages, "found %d" % len(rs))
kvs = tot = 0
seen = 0
for k, r in enumerate(rs):
    rg = ranges(r)
    ok("paged: page %d has one Range, limit 25" % k, len(rg) == 1 and rg[0].get("limit") == 25, json.dumps(rg)[:300])
    if len(rg) != 1:
        continue
    c = rg[0]
    # etcd's count is the number of keys from the page's start key to the end of the range
    ok("paged: page %d count %s = keys left %d" % (k, c.get("count"), cnt - seen), c.get("count") == cnt - seen)
    last = k == len(rs) - 1
    ok("paged: page %d more %s" % (k, not last), bool(c.get("more")) == (not last), json.dumps(c)[:300])
    seen += c.get("kvs", 0)
    tot += c.get("resp_size", 0)
    sums_ok("paged page %d" % k, r)
ok("paged: kvs over the pages %d = etcdctl's count %d" % (seen, cnt), seen == cnt)
ok("paged: resp_size over the pages %d in [unpaged %d, +64 per page]" % (tot, pb), pb - 8 <= tot <= pb + 64 * max(1, len(rs)))
print("  paged: %d pages, kvs %d, resp_size sum %d (unpaged RangeResponse %d bytes)" % (len(rs), seen, tot, pb))
# kubectl (limit=500 chunks): one Range
cnt, pb, kvb = truth("ns1")
rs = [r for r in by_agent(run + "-kubectl") if r.get("verb") == "list"]
ok("kubectl: one LIST", len(rs) == 1, "found %d" % len(rs))
if rs:
    rg = ranges(rs[0])
    ok("kubectl: one Range (limit 500), kvs = %d" % cnt, len(rg) == 1 and rg[0].get("limit") == 500 and rg[0].get("kvs") == cnt,
       json.dumps(rg)[:300])
    sums_ok("kubectl", rs[0])
# watch cache: no etcd call, and the record says so
rs = by_agent(run + "-cache")
ok("resourceVersion=0: no etcd call, etcd_calls 0", len(rs) == 1 and rs[0].get("etcd_calls") == 0 and rs[0].get("etcd_kvs") == 0
   and not calls.get(rs[0]["id"]), json.dumps(rs)[:300])
rs = by_agent(run + "-get")
ok("GET: one Range, kvs 1, count 1", len(rs) == 1 and len(ranges(rs[0])) == 1 and ranges(rs[0])[0].get("kvs") == 1
   and ranges(rs[0])[0].get("count") == 1, json.dumps([rs, [calls.get(r["id"]) for r in rs]])[:400])
if rs:
    sums_ok("GET", rs[0])
# every successful call got a size, every successful Range its key-values
e = (stats or {}).get("etcd", {})
ok("stats: no_resp_size 0, range_no_kvs 0, cost_early 0 (%s)" % {k: e.get(k) for k in ("no_resp_size", "range_no_kvs", "cost_early")},
   e.get("no_resp_size") == 0 and e.get("range_no_kvs") == 0 and e.get("cost_early") == 0)
# the join indexed calls under their request's context alone when it knew the request (most of them:
# authenticated requests are known from their start; the sums above check the links either way)
ok("stats: held calls indexed under their request's context (held_narrow %s of %s linked)" % (e.get("held_narrow"), e.get("linked")),
   (e.get("held_narrow") or 0) > 0)
h = (stats or {}).get("probe_hits", {})
print("  probe hits: grpc_transport_write %s grpc_call_finish %s etcd_range_resp %s; etcd calls %s, hits_per_call %s, hits_per_request %s"
      % (h.get("grpc_transport_write"), h.get("grpc_call_finish"), h.get("etcd_range_resp"), e.get("calls"), e.get("hits_per_call"),
         stats.get("hits_per_request") if stats else None))
json.dump(results, open(out + "/results.json", "w"))
PY
rc=$?
report <"$OUT/checks.tsv"
check_eq "the checker ran to its end" 0 "$rc"
finish
