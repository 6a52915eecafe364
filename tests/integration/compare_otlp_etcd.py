#!/usr/bin/env python3
"""The agent's etcd CLIENT spans (as an OTLP receiver decoded them) vs. etcd's own count of the calls it
served (python3, stdlib only).

  compare_otlp_etcd.py scrape OUT.json
        one snapshot of etcd's grpc_server_handled_total{grpc_type="unary"} (KAPIMON_ETCD_METRICS_URL) per
        (/service/method, grpc_code), with the wall-clock time (ns) just before and just after the HTTP GET.

  compare_otlp_etcd.py compare --spans SPANS.jsonl --before B1.json,B2.json,... --after A1.json,... \\
          --pid PID --ua UA --ns NS [--audit-count N] [--margin-ms M] [--json OUT.json]
        Prints "ok<TAB>desc" / "FAIL<TAB>desc<TAB>detail" lines (tests/integration/lib.sh `report`).

The window. etcd counts a unary call when its handler returns, which is after the request reached etcd and
before the answer left it: inside the CLIENT span's [start, end] (kapimon's span runs from the gRPC
transport write to the return of Invoke). A scrape reads the counters somewhere in [t0, t1]. A span that
ends before t0 was counted before the scrape, one that starts after t1 after it; only a span overlapping
[t0, t1] is ambiguous. Of several scrapes taken before and after the workload, the earliest "before" and
the latest "after" that no CLIENT span overlaps (each widened by --margin-ms for the two clocks) bound the
window; the CLIENT spans inside it must then equal etcd's increase exactly, per (method, code). Stream
RPCs (Watch, LeaseKeepAlive: grpc_type bidi_stream) are not unary calls: etcd counts them when the stream
ends, the agent makes no span for their messages; both sides leave them out.

Also checked, over every span of the run: each linked CLIENT span (with a parent_span_id) has a SERVER
span as parent, in the same trace, with the same kapimon.request.id, and lies inside it in time; an
unlinked one has no kapimon.request.id and a trace id of its own; every etcd call on a key of the
workload's namespace is linked to a request of the workload's user agent; one SERVER span per audited
request of that user agent.
"""
import argparse
import collections
import json
import os
import re
import sys
import time
import urllib.request

GRPC_CODES = ["OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
              "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
              "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"]
SAMPLE_RE = re.compile(r'^grpc_server_handled_total\{([^}]*)\}\s+(\S+)', re.M)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
KIND_SERVER, KIND_CLIENT = 2, 3


def cmd_scrape(a):
    t0 = time.time_ns()
    with urllib.request.urlopen(os.environ["KAPIMON_ETCD_METRICS_URL"], timeout=10) as r:
        text = r.read().decode("utf-8", "replace")
    t1 = time.time_ns()
    counts = {}
    for m in SAMPLE_RE.finditer(text):
        lab = dict(LABEL_RE.findall(m.group(1)))
        if lab.get("grpc_type") != "unary":
            continue
        k = "/%s/%s %s" % (lab.get("grpc_service", ""), lab.get("grpc_method", ""), lab.get("grpc_code", ""))
        counts[k] = counts.get(k, 0) + float(m.group(2))
    if not counts:
        print("compare_otlp_etcd: no unary grpc_server_handled_total series at %s" %
              os.environ["KAPIMON_ETCD_METRICS_URL"], file=sys.stderr)
        return 1
    with open(a.out, "w") as f:
        json.dump({"t": [t0, t1], "etcd": counts}, f)
    return 0


def span_key(s):
    at = s["attributes"]
    code = at.get("rpc.grpc.status_code")
    name = GRPC_CODES[code] if isinstance(code, int) and 0 <= code < len(GRPC_CODES) else "?%r" % (code,)
    return "/%s/%s %s" % (at.get("rpc.service", "?"), at.get("rpc.method", "?"), name)


def cmd_compare(a):
    out = []

    def res(ok, desc, detail=""):
        out.append(ok)
        print("%s\t%s\t%s" % ("ok" if ok else "FAIL", desc, str(detail).replace("\n", " ")[:900]))

    spans = []
    for line in open(a.spans):
        o = json.loads(line)
        if o.get("type") == "span" and str(o.get("resource", {}).get("process.pid")) == a.pid:
            spans.append(o)
    server = [s for s in spans if s["kind"] == KIND_SERVER]
    client = [s for s in spans if s["kind"] == KIND_CLIENT]
    res(len(server) + len(client) == len(spans), "every span of the apiserver is SERVER or CLIENT (%d, %d)" %
        (len(server), len(client)), collections.Counter(s["kind"] for s in spans))
    res(all(s["attributes"].get("db.system.name") == "etcd" and s["attributes"].get("rpc.system") == "grpc"
            for s in client), "every CLIENT span is an etcd gRPC call (db.system.name, rpc.system)")
    streams = [s for s in client if s["attributes"].get("rpc.method") in ("Watch", "LeaseKeepAlive")]
    res(not streams, "no span for stream messages (Watch, LeaseKeepAlive)", streams[:1])

    # ---- the window --------------------------------------------------------------------------------------
    m = int(a.margin_ms * 1e6)
    busy = sorted((s["start"], s["end"]) for s in client)

    def clean(snap):
        t0, t1 = snap["t"][0] - m, snap["t"][1] + m
        return not any(st <= t1 and en >= t0 for st, en in busy)

    before = [json.load(open(p)) for p in a.before.split(",")]
    after = [json.load(open(p)) for p in a.after.split(",")]
    cb = [i for i, b in enumerate(before) if clean(b)]
    ca = [i for i, x in enumerate(after) if clean(x)]
    print("compare_otlp_etcd: scrapes with no etcd call in flight (+-%g ms): before %s of %d, after %s of %d" %
          (a.margin_ms, cb, len(before), ca, len(after)))
    if not cb or not ca:
        res(False, "a clean scrape before and after the workload", "before %s, after %s" % (cb, ca))
        return 1
    b, x = before[cb[0]], after[ca[-1]]
    w0, w1 = b["t"][1], x["t"][0]
    inwin = [s for s in client if s["start"] > w0 and s["end"] < w1]
    kap = collections.Counter(span_key(s) for s in inwin)
    etcd = {k: int(round(x["etcd"].get(k, 0) - b["etcd"].get(k, 0))) for k in set(x["etcd"]) | set(b["etcd"])}
    etcd = {k: v for k, v in etcd.items() if v}
    ops = collections.defaultdict(collections.Counter)
    for s in inwin:
        ops[span_key(s)][s["attributes"].get("db.operation.name", "?")] += 1
    print("compare_otlp_etcd: window %.3f s; unary etcd calls: etcd %d, CLIENT spans %d" %
          ((w1 - w0) / 1e9, sum(etcd.values()), len(inwin)))
    print("compare_otlp_etcd: %-44s %8s %8s   %s" % ("method code", "etcd", "spans", "db.operation.name"))
    table = {}
    for k in sorted(set(kap) | set(etcd)):
        table[k] = {"etcd": etcd.get(k, 0), "spans": kap.get(k, 0), "ops": dict(ops[k])}
        print("compare_otlp_etcd: %-44s %8d %8d   %s" % (k, etcd.get(k, 0), kap.get(k, 0), json.dumps(dict(ops[k]))))
    diff = {k: v for k, v in table.items() if v["etcd"] != v["spans"]}
    res(not diff, "CLIENT spans per (gRPC method, code) equal etcd's grpc_server_handled_total increase "
        "(%d calls, %d methods)" % (sum(etcd.values()), len({k.split()[0] for k in table})), json.dumps(diff))
    res(sum(etcd.values()) >= a.min_calls, "etcd served at least %d unary calls in the window (%d)" %
        (a.min_calls, sum(etcd.values())))

    # ---- links -------------------------------------------------------------------------------------------
    by_span = {s["span_id"]: s for s in server}
    linked = [s for s in client if s["parent_span_id"]]
    unlinked = [s for s in client if not s["parent_span_id"]]
    bad = []
    for c in linked:
        p = by_span.get(c["parent_span_id"])
        why = None
        if p is None:
            why = "no SERVER span with that id"
        elif c["trace_id"] != p["trace_id"]:
            why = "trace id differs from the parent's"
        elif c["attributes"].get("kapimon.request.id") != p["attributes"].get("kapimon.request.id"):
            why = "kapimon.request.id differs from the parent's"
        elif not (p["start"] <= c["start"] <= c["end"] <= p["end"]):
            why = "not inside the parent in time (parent %d..%d)" % (p["start"], p["end"])
        if why:
            bad.append("%s %s %d..%d: %s" % (c["name"], c["attributes"].get("etcd.key_prefix", ""), c["start"],
                                             c["end"], why))
    res(linked and not bad, "each of the %d linked CLIENT spans has its SERVER parent, the parent's trace id and "
        "kapimon.request.id, and lies inside it in time" % len(linked), "; ".join(bad[:5]))
    traces = {s["trace_id"] for s in server}
    bad_u = [s["name"] for s in unlinked if "kapimon.request.id" in s["attributes"] or s["trace_id"] in traces]
    res(not bad_u, "the %d unlinked CLIENT spans (the apiserver's own work) have no request id and a trace of "
        "their own" % len(unlinked), bad_u[:5])
    print("compare_otlp_etcd: unlinked CLIENT spans by name: %s" %
          json.dumps(collections.Counter(s["name"] for s in unlinked).most_common(12)))
    res(len(traces) == len(server), "every SERVER span has its own trace id (%d)" % len(server))

    # keys under the namespace (/registry/configmaps/NS/...); the namespace object's own key has the prefix
    # /registry/namespaces/, shared with every namespace, and is left out
    wl = [s for s in client if "/%s/" % a.ns in s["attributes"].get("etcd.key_prefix", "")]
    # linked to a request of the workload, or of the apiserver's own loopback client acting for one (the
    # ResourceQuota admission plugin lists the namespace's resourcequotas through it when its cache is cold)
    parent_ua = collections.Counter()
    nl = []
    for s in wl:
        ua = by_span.get(s["parent_span_id"], {}).get("attributes", {}).get("user_agent.original", "")
        own = ua.startswith("kube-apiserver") and s["attributes"].get("db.collection.name") == "resourcequotas"
        parent_ua["workload" if ua == a.ua else "kube-apiserver (loopback)" if own else ua or "(none)"] += 1
        if not s["parent_span_id"] or not (ua == a.ua or own):
            nl.append(s)
    res(wl and not nl, "all %d etcd calls on keys of the workload's namespace are linked to its requests "
        "(by the parent's user agent: %s)" % (len(wl), json.dumps(parent_ua, sort_keys=True)),
        [(s["name"], s["attributes"].get("etcd.key_prefix")) for s in nl[:5]])
    ua_server = [s for s in server if s["attributes"].get("user_agent.original") == a.ua]
    if a.audit_count is not None:
        res(len(ua_server) == a.audit_count, "one SERVER span per audited request of the workload (%d spans, "
            "%d audited)" % (len(ua_server), a.audit_count))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"window_s": (w1 - w0) / 1e9, "methods": table, "linked": len(linked),
                       "unlinked": len(unlinked), "server": len(server), "workload_etcd": len(wl)}, f, indent=1)
    return 0 if all(out) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scrape")
    s.add_argument("out")
    c = sub.add_parser("compare")
    c.add_argument("--spans", required=True)
    c.add_argument("--before", required=True)
    c.add_argument("--after", required=True)
    c.add_argument("--pid", required=True)
    c.add_argument("--ua", required=True)
    c.add_argument("--ns", required=True)
    c.add_argument("--audit-count", type=int)
    c.add_argument("--margin-ms", type=float, default=20.0)
    c.add_argument("--min-calls", type=int, default=200)
    c.add_argument("--json")
    a = ap.parse_args()
    return cmd_scrape(a) if a.cmd == "scrape" else cmd_compare(a)


if __name__ == "__main__":
    sys.exit(main())
