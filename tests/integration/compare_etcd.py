#!/usr/bin/env python3
"""kapimon's etcd records vs. etcd's and the apiserver's own metrics (python3, stdlib only).

Subcommands (the environment of scripts/testbed.sh env is read for URLs, CA and the admin token, so the
token never appears on a command line):

  compare_etcd.py scrape OUT.json
        one snapshot: etcd's grpc_server_handled_total (KAPIMON_ETCD_METRICS_URL) and the apiserver's
        etcd_request_duration_seconds_{count,sum} (KAPIMON_APISERVER_URL/metrics), with the wall-clock time
        (ns) just before the first and just after the last HTTP request.

  compare_etcd.py workload --ns NS --ua UA [--scale N] [--json OUT.json]
        a bounded, mixed workload over one kept-alive HTTPS connection (HTTP/1.1, user agent UA):
        namespaces, configmaps, secrets, leases (coordination.k8s.io), deployments (apps): create, get,
        list (paged), update (PUT), merge patch, delete; deliberate 404s and 409s. Every request's status is
        checked against the expected one (exit 1 on a surprise). Secret data is never printed.

  compare_etcd.py compare --records R.jsonl --before B.json --after A.json [--ns NS] [--json OUT.json]
        the checks of issue 4 (see docs/etcd-capture-testing.md); prints one "ok"/"FAIL" line per check
        and a final "compare_etcd: N passed, M failed"; exit 1 when a check failed.
"""
import argparse
import collections
import http.client
import json
import os
import re
import ssl
import sys
import time
import urllib.parse
import urllib.request

# --------------------------------------------------------------------------------------------------------
# metrics scraping

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+(\S+)')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prom(text, names):
    """[(name, {labels}, value)] for the samples of the metric names given."""
    out = []
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        m = SAMPLE_RE.match(line)
        if not m or m.group(1) not in names:
            continue
        out.append((m.group(1), dict(LABEL_RE.findall(m.group(2))), float(m.group(3))))
    return out


def http_get(url, token=None, ca=None, timeout=10):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    ctx = ssl.create_default_context(cafile=ca) if url.startswith("https") else None
    with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
        return r.read().decode("utf-8", "replace")


def cmd_scrape(args):
    env = os.environ
    snap = {"etcd": {}, "api_count": {}, "api_sum": {}}
    t0 = time.time_ns()
    etcd_text = http_get(env["KAPIMON_ETCD_METRICS_URL"])
    t1 = time.time_ns()
    api_text = http_get(env["KAPIMON_APISERVER_URL"] + "/metrics", env["KAPIMON_TOKEN"], env["KAPIMON_CA"])
    t2 = time.time_ns()
    snap["etcd_t"], snap["api_t"] = [t0, t1], [t1, t2]
    for _, lab, v in parse_prom(etcd_text, {"grpc_server_handled_total"}):
        if lab.get("grpc_type") != "unary":
            continue
        k = "/%s/%s" % (lab.get("grpc_service", ""), lab.get("grpc_method", ""))
        snap["etcd"][k] = snap["etcd"].get(k, 0) + v
    for name, lab, v in parse_prom(api_text, {"etcd_request_duration_seconds_count",
                                              "etcd_request_duration_seconds_sum"}):
        key = "%s|%s" % (lab.get("operation", ""), lab.get("type", ""))
        snap["api_count" if name.endswith("_count") else "api_sum"][key] = v
    if not snap["etcd"] or not snap["api_count"]:
        print("compare_etcd: scrape: metrics missing (etcd %d, apiserver %d series)" %
              (len(snap["etcd"]), len(snap["api_count"])), file=sys.stderr)
        return 1
    with open(args.out, "w") as f:
        json.dump(snap, f)
    return 0


# --------------------------------------------------------------------------------------------------------
# workload


class Client:
    def __init__(self, ua):
        env = os.environ
        u = urllib.parse.urlparse(env["KAPIMON_APISERVER_URL"])
        self.host, self.port = u.hostname, u.port
        self.ctx = ssl.create_default_context(cafile=env["KAPIMON_CA"])
        self.hdr = {"Authorization": "Bearer " + env["KAPIMON_TOKEN"], "User-Agent": ua,
                    "Accept": "application/json"}
        self.conn = None
        self.counts = collections.Counter()  # (method, kind, status)
        self.surprises = []

    def req(self, method, path, body=None, want=200, kind="", ctype="application/json"):
        hdr = dict(self.hdr)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdr["Content-Type"] = ctype
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=hdr)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, OSError):
                # the server closed the kept-alive connection before we sent: reconnect once
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        self.counts[(method, kind, r.status)] += 1
        if r.status != want:
            # never echo a body (it may hold secret data): status and reason only
            self.surprises.append("%s %s: status %d, want %d" % (method, path, r.status, want))
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None


def cmd_workload(args):
    c = Client(args.ua)
    ns = args.ns
    n = 10 * args.scale
    api, apps, coord = "/api/v1", "/apis/apps/v1", "/apis/coordination.k8s.io/v1"
    merge = "application/merge-patch+json"

    c.req("POST", api + "/namespaces", {"metadata": {"name": ns}}, 201, "namespaces")
    c.req("POST", api + "/namespaces", {"metadata": {"name": ns}}, 409, "namespaces")
    c.req("GET", api + "/namespaces/" + ns, None, 200, "namespaces")

    # configmaps: the bulk of the load
    cm = api + "/namespaces/%s/configmaps" % ns
    for i in range(2 * n):
        c.req("POST", cm, {"metadata": {"name": "cm-%d" % i}, "data": {"k": "v%d" % i}}, 201, "configmaps")
    for i in range(3):
        c.req("POST", cm, {"metadata": {"name": "cm-%d" % i}, "data": {"k": "dup"}}, 409, "configmaps")
    for i in range(2 * n):
        c.req("GET", cm + "/cm-%d" % i, None, 200, "configmaps")
    for i in range(5):
        c.req("GET", cm + "/absent-%d" % i, None, 404, "configmaps")
    # paged list straight from etcd (no resourceVersion): ceil(2n / 7) Range calls
    cont = ""
    while True:
        q = "?limit=7" + ("&continue=" + urllib.parse.quote(cont) if cont else "")
        lst = c.req("GET", cm + q, None, 200, "configmaps") or {}
        cont = (lst.get("metadata") or {}).get("continue") or ""
        if not cont:
            break
    c.req("GET", cm, None, 200, "configmaps")
    for i in range(n):
        obj = c.req("GET", cm + "/cm-%d" % i, None, 200, "configmaps") or {}
        obj.setdefault("data", {})["k"] = "updated"
        c.req("PUT", cm + "/cm-%d" % i, obj, 200, "configmaps")
    for i in range(n):
        c.req("PATCH", cm + "/cm-%d" % i, {"metadata": {"labels": {"patched": "yes"}}}, 200, "configmaps", merge)
    c.req("PATCH", cm + "/absent-0", {"data": {"x": "y"}}, 404, "configmaps", merge)
    # stale resourceVersion: 409 Conflict from the update path
    c.req("PUT", cm + "/cm-0", {"metadata": {"name": "cm-0", "resourceVersion": "1"}, "data": {}}, 409,
          "configmaps")

    # secrets (data never printed)
    sec = api + "/namespaces/%s/secrets" % ns
    for i in range(n):
        c.req("POST", sec, {"metadata": {"name": "s-%d" % i}, "stringData": {"p": os.urandom(8).hex()}}, 201,
              "secrets")
    c.req("POST", sec, {"metadata": {"name": "s-0"}, "stringData": {"p": "x"}}, 409, "secrets")
    for i in range(n):
        c.req("GET", sec + "/s-%d" % i, None, 200, "secrets")
    c.req("GET", sec, None, 200, "secrets")
    for i in range(n // 2):
        c.req("PATCH", sec + "/s-%d" % i, {"metadata": {"annotations": {"a": "b"}}}, 200, "secrets", merge)

    # leases: create, renew twice (PUT with the object read back), list
    ls = coord + "/namespaces/%s/leases" % ns
    for i in range(n):
        c.req("POST", ls, {"metadata": {"name": "l-%d" % i},
                           "spec": {"holderIdentity": "kapimon-test", "leaseDurationSeconds": 30}}, 201, "leases")
    for rnd in range(2):
        for i in range(n):
            obj = c.req("GET", ls + "/l-%d" % i, None, 200, "leases") or {}
            obj.setdefault("spec", {})["leaseTransitions"] = rnd + 1
            c.req("PUT", ls + "/l-%d" % i, obj, 200, "leases")
    c.req("GET", ls, None, 200, "leases")
    c.req("GET", ls + "/absent", None, 404, "leases")

    # deployments
    dp = apps + "/namespaces/%s/deployments" % ns
    for i in range(n // 2):
        c.req("POST", dp, {"metadata": {"name": "d-%d" % i}, "spec": {
            "replicas": 0, "selector": {"matchLabels": {"app": "d-%d" % i}},
            "template": {"metadata": {"labels": {"app": "d-%d" % i}},
                         "spec": {"containers": [{"name": "c", "image": "example.invalid/none:1"}]}}}},
              201, "deployments")
    c.req("POST", dp, {"metadata": {"name": "d-0"}, "spec": {
        "selector": {"matchLabels": {"app": "d-0"}},
        "template": {"metadata": {"labels": {"app": "d-0"}},
                     "spec": {"containers": [{"name": "c", "image": "example.invalid/none:1"}]}}}},
          409, "deployments")
    for i in range(n // 2):
        c.req("GET", dp + "/d-%d" % i, None, 200, "deployments")
        c.req("PATCH", dp + "/d-%d" % i, {"spec": {"replicas": 1}}, 200, "deployments", merge)
    c.req("GET", dp, None, 200, "deployments")

    # deletes
    for i in range(n // 2):
        c.req("DELETE", dp + "/d-%d" % i, None, 200, "deployments")
    for i in range(n):
        c.req("DELETE", ls + "/l-%d" % i, None, 200, "leases")
    for i in range(n):
        c.req("DELETE", sec + "/s-%d" % i, None, 200, "secrets")
    for i in range(2 * n):
        c.req("DELETE", cm + "/cm-%d" % i, None, 200, "configmaps")
    for i in range(3):
        c.req("DELETE", cm + "/cm-%d" % i, None, 404, "configmaps")
    # namespace: delete (sets deletionTimestamp; no namespace controller runs here), clear the finalizer
    # (with deletionTimestamp set and no finalizer left, the finalize update removes the namespace),
    # delete again: 404
    c.req("DELETE", api + "/namespaces/" + ns, None, 200, "namespaces")
    obj = c.req("GET", api + "/namespaces/" + ns, None, 200, "namespaces") or {}
    obj.setdefault("spec", {})["finalizers"] = []
    c.req("PUT", api + "/namespaces/%s/finalize" % ns, obj, 200, "namespaces")
    c.req("DELETE", api + "/namespaces/" + ns, None, 404, "namespaces")  # finalize removed it
    if c.conn:
        c.conn.close()

    total = sum(c.counts.values())
    by_status = collections.Counter()
    for (_, _, st), v in c.counts.items():
        by_status[st] += v
    summary = {"ns": ns, "requests": total, "by_status": {str(k): v for k, v in sorted(by_status.items())},
               "by_request": ["%s %s %d: %d" % (m, k, s, v) for (m, k, s), v in sorted(c.counts.items())],
               "surprises": c.surprises}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    print("workload: ns=%s requests=%d statuses=%s" % (ns, total, json.dumps(summary["by_status"])))
    for s in c.surprises[:20]:
        print("workload: unexpected: " + s)
    return 1 if c.surprises else 0


# --------------------------------------------------------------------------------------------------------



def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("scrape")
    p.add_argument("out")
    p = sub.add_parser("workload")
    p.add_argument("--ns", required=True)
    p.add_argument("--ua", required=True)
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--json")
    p = sub.add_parser("compare")
    p.add_argument("--records", required=True)
    p.add_argument("--before", required=True)
    p.add_argument("--after", required=True)
    p.add_argument("--ns", default="")
    p.add_argument("--json")
    args = ap.parse_args()
    if args.cmd == "scrape":
        return cmd_scrape(args)
    if args.cmd == "workload":
        return cmd_workload(args)
    return cmd_compare(args)


if __name__ == "__main__":
    sys.exit(main())
