#!/usr/bin/env bash
# The userspace pipeline end to end without root: the committed ring-buffer corpus
# (tests/bench/list-400rps.raw.gz: 1,000 list requests at 400 req/s, each with one etcd Range) replayed
# through record's path (build/bench/replay, the code the benchmark measures) gives every request and
# etcd call exactly once, valid JSON lines, every call linked to its request; top's path counts them
# all. Prints "N passed, M failed"; exits non-zero on failure.
set -u
cd "$(dirname "$0")/../.."
R=build/bench/replay
EV=tests/bench/list-400rps.raw.gz
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
[ -x "$R" ] || { echo "0 passed, 1 failed (no $R; run make build/bench/replay)"; exit 1; }

if $R record -o "$T/out.jsonl" "$EV" >"$T/summary"; then ok; else bad "replay record exit status"; fi
grep -q '^requests 1000$' "$T/summary" && ok || bad "record: 1000 requests replayed ($(head -n 1 "$T/summary"))"
if python3 - "$T/out.jsonl" <<'PY'; then ok; else bad "record: JSON lines contract"; fi
import json, sys
reqs, etcd = {}, []
for line in open(sys.argv[1]):
    r = json.loads(line)                      # every line is one valid JSON object
    if r["kind"] == "request":
        assert r["id"] not in reqs, "duplicate request id"
        reqs[r["id"]] = r
    elif r["kind"] == "etcd":
        etcd.append(r)
    elif r["kind"] == "conn":                 # the corpus's connection events (before byte counters)
        assert r["event"] in ("open", "close") and r["dir"] == "client", r
    else:
        raise AssertionError("kind %r" % r["kind"])
bench = [r for r in reqs.values() if r["user_agent"] == "kapimon-bench/1.0"]
assert len(bench) == 1000, len(bench)
assert all(r["verb"] == "list" and r["resource"] == "configmaps" and r["namespace"] == "kapimon-bench"
           and r["status"] == 200 and r["proto"] == "h2" and r["latency_ns"] > 0 and not r.get("ongoing")
           and r["local_port"] > 0 for r in bench)
ranges = [e for e in etcd if e["key"].startswith("/registry/configmaps/kapimon-bench")]
assert len(ranges) == 1000, len(ranges)
# every call linked to a request of the benchmark, each request to exactly one call
linked = [e["request_id"] for e in ranges]
assert sorted(linked) == sorted(r["id"] for r in bench)
assert all(e["op"] == "range" and e["resource"] == "configmaps" and e["grpc_status"] == 0 for e in ranges)
PY
for m in top "top --no-etcd" "record --no-etcd"; do
	# shellcheck disable=SC2086
	if $R $m "$EV" >"$T/summary"; then ok; else bad "replay $m exit status"; fi
	grep -q '^requests 1000$' "$T/summary" && ok || bad "$m: 1000 requests ($(head -n 1 "$T/summary"))"
done
grep -q '(0 bad)' "$T/summary" && ok || bad "no bad events in the corpus"

# The etcd cost join, on the second corpus (tests/bench/list-400rps-etcdcost.raw.gz: 2,000 lists of 10
# configmaps at 400 req/s, recorded with the etcd cost fields): replayed pass by pass as the live loop
# reads the rings, every request carries exactly its one Range's cost, equal to that call's record.
EV2=tests/bench/list-400rps-etcdcost.raw.gz
if $R record -o "$T/cost.jsonl" "$EV2" >"$T/summary2"; then ok; else bad "replay record $EV2 exit status"; fi
if python3 - "$T/cost.jsonl" <<'PY'; then ok; else bad "record: etcd cost of each request = its linked call"; fi
import json, sys
reqs, calls = {}, {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["kind"] == "request":
        reqs[r["id"]] = r
    elif r["kind"] == "etcd" and r.get("request_id"):
        calls.setdefault(r["request_id"], []).append(r)
bench = [r for r in reqs.values() if r["user_agent"] == "kapimon-bench/1.0"]
assert len(bench) == 2000, len(bench)
for r in bench:
    c = calls.get(r["id"], [])
    assert len(c) == 1 and c[0]["op"] == "range", (r["id"], c)
    assert r["etcd_calls"] == 1 and r["etcd_kvs"] == c[0]["kvs"] == 10, r
    assert r["etcd_resp_bytes"] == c[0]["resp_size"] > 0, (r, c[0])
PY
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
