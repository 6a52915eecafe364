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
        namespaces, configmaps, secrets, leases (coordination.k8s.io), deployments (apps), events: create, get,
        list (paged), update (PUT), merge patch, delete; deliberate 404s and 409s. Every request's status is
        checked against the expected one (exit 1 on a surprise). Secret data is never printed.

  compare_etcd.py seen --records R.jsonl --key KEY --since NS
        exit 0 when R.jsonl holds an etcd record on KEY that started at or after NS (wall clock, ns).

  compare_etcd.py compare --records R.jsonl --before B.json --after A.json [--ns NS] [--json OUT.json]
        the checks of issue 4 (see docs/etcd-capture-testing.md); prints one "ok"/"FAIL" line per check
        and a final "compare_etcd: N passed, M failed"; exit 1 when a check failed.
"""
import argparse
import calendar
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

    # events: stored with a TTL (--event-ttl), i.e. a Txn whose Put carries an etcd lease (LeaseGrant when the
    # apiserver's lease manager has no reusable lease)
    ev = api + "/namespaces/%s/events" % ns
    for i in range(n // 2):
        c.req("POST", ev, {"metadata": {"name": "e-%d" % i},
                           "involvedObject": {"kind": "ConfigMap", "namespace": ns, "name": "cm-%d" % i},
                           "reason": "KapimonTest", "message": "etcd capture test", "type": "Normal"},
              201, "events")
    c.req("GET", ev, None, 200, "events")

    # deletes
    for i in range(n // 2):
        c.req("DELETE", ev + "/e-%d" % i, None, 200, "events")
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


def cmd_seen(args):
    """exit 0 when RECORDS holds an etcd record on KEY that started at or after SINCE (ns)."""
    try:
        f = open(args.records, encoding="utf-8", errors="replace")
    except OSError:
        return 1
    with f:
        for line in f:
            if '"kind":"etcd"' not in line or args.key not in line:
                continue
            try:
                r = json.loads(line)
                if r.get("key") == args.key and ts_ns(r["ts"]) >= args.since:
                    return 0
            except (ValueError, KeyError):
                pass
    return 1


# --------------------------------------------------------------------------------------------------------
# compare

TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$")


def ts_ns(s):
    """RFC 3339 UTC ("Z") with 0-9 fraction digits -> ns since the epoch (exact)."""
    m = TS_RE.match(s or "")
    if not m:
        raise ValueError("bad timestamp %r" % (s,))
    y, mo, d, h, mi, sec, frac = m.groups()
    secs = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(sec), 0, 0, 0))
    return secs * 10**9 + int((frac or "").ljust(9, "0"))


# The apiserver's storage "type" label (reflect type name of the object or list: "*core.ConfigMap",
# "*[]core.ConfigMap") -> resource, as kapimon names it. Kinds not listed fall back to a plural of the kind
# (reported as such).
KIND_RESOURCE = {
    "core.ConfigMap": "configmaps", "core.Secret": "secrets", "core.Namespace": "namespaces",
    "coordination.Lease": "leases", "apps.Deployment": "deployments", "core.ResourceQuota": "resourcequotas",
    "core.Service": "services", "core.Endpoints": "endpoints", "core.RangeAllocation": "ranges",
    "core.ServiceAccount": "serviceaccounts", "core.LimitRange": "limitranges", "core.Node": "nodes",
    "core.Pod": "pods", "core.Event": "events", "networking.Ingress": "ingresses",
    "networking.IngressClass": "ingressclasses", "policy.PodSecurityPolicy": "podsecuritypolicies",
    "storage.StorageClass": "storageclasses", "node.RuntimeClass": "runtimeclasses",
    "scheduling.PriorityClass": "priorityclasses",
}
# listWithCount's "type" is the etcd key prefix; the historical prefixes that are not the resource name:
KEY_PREFIX_RESOURCE = {
    "services/specs": "services", "services/endpoints": "endpoints", "minions": "nodes",
    "controllers": "replicationcontrollers", "ingress": "ingresses", "podsecuritypolicy": "podsecuritypolicies",
}
WORKLOAD_RESOURCES = ("configmaps", "secrets", "namespaces", "leases", "deployments", "events")
ETCD_TOL = (0.98, 1.02)  # kapimon / etcd, per unary method
ETCD_MIN_CALLS = 20
RES_TOL_REL, RES_TOL_ABS = 0.05, 3
LAT_FACTOR = 2.0
HITS_MAX = 2.05


def type_resource(typ):
    """(resource, known) for an etcd_request_duration_seconds "type" label."""
    if typ.startswith("/"):  # listWithCount: the key prefix, "/registry/<prefix>/"
        parts = [p for p in typ.split("/") if p]
        if len(parts) >= 2 and parts[0] == "registry":
            rest = parts[1:]
            if "/".join(rest[:2]) in KEY_PREFIX_RESOURCE:
                return KEY_PREFIX_RESOURCE["/".join(rest[:2])], True
            if rest[0] in KEY_PREFIX_RESOURCE:
                return KEY_PREFIX_RESOURCE[rest[0]], True
            if "." in rest[0] and len(rest) >= 2:  # <group>/<plural>
                return rest[1], True
            return rest[0], True
        return typ, False
    t = typ.lstrip("*")
    if t.startswith("[]"):
        t = t[2:].lstrip("*")
    if t in KIND_RESOURCE:
        return KIND_RESOURCE[t], True
    kind = t.split(".")[-1].lower()
    if kind.endswith("s"):
        return kind + "es", False
    if kind.endswith("y"):
        return kind[:-1] + "ies", False
    return kind + "s", False


def op_class(op):
    """apiserver storage operation -> the class of the etcd call it times."""
    if op == "get":
        return "range-key"
    if op in ("list", "listWithCount"):
        return "range-prefix"
    if op in ("create", "update", "delete"):
        return "txn"
    return op


def rec_class(r):
    if r.get("op") == "range":
        return "range-prefix" if r.get("range_end") else "range-key"
    return r.get("op") or "?"


class Checks:
    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def check(self, desc, ok, detail=""):
        if ok:
            self.passed += 1
            print("  ok    %s: %s" % (self.name, desc))
        else:
            self.failed += 1
            print("  FAIL  %s: %s" % (self.name, desc))
            for line in (detail or "").splitlines()[:20]:
                print("        | " + line)
        return ok


def within(k, a, rel, absol):
    return abs(k - a) <= max(absol, rel * a)


def cmd_compare(args):
    C = Checks("compare_etcd")
    with open(args.before) as f:
        before = json.load(f)
    with open(args.after) as f:
        after = json.load(f)
    recs, bad = [], 0
    with open(args.records, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                recs.append(json.loads(line))
            except ValueError:
                bad += 1
    stats = [r for r in recs if r.get("kind") == "stats"]
    reqs = {r["id"]: r for r in recs if r.get("kind") == "request" and "id" in r}
    etcd_all = [r for r in recs if r.get("kind") == "etcd"]
    unary = [r for r in etcd_all if not r.get("stream")]
    for r in unary:
        r["_t"] = ts_ns(r["ts"])
    C.check("records file: every line is JSON (%d bad)" % bad, bad == 0)
    C.check("a final stats line with an etcd section", bool(stats) and "etcd" in stats[-1])
    out = {"methods": {}, "resources": {}, "latency": {}, "mapping": {}, "link": {}}

    # ---- 1. per unary method: kapimon vs etcd's grpc_server_handled_total ---------------------------------
    # window: from the end of the first etcd scrape to the start of the second; kapimon's records are cut
    # by their "ts" (call start); etcd counts a call when it completes.
    e0, e1 = before["etcd_t"][1], after["etcd_t"][0]
    win = [r for r in unary if e0 <= r["_t"] <= e1]
    kap_m = collections.Counter(r.get("method", "?") for r in win)
    etcd_m = {m: int(after["etcd"].get(m, 0) - before["etcd"].get(m, 0))
              for m in set(after["etcd"]) | set(before["etcd"])}
    out["window_s"] = (e1 - e0) / 1e9
    print("compare_etcd: window %.3f s (between the etcd scrapes); unary etcd calls: etcd %d, kapimon %d "
          "(kapimon's whole run: %d unary records, %d stream messages)" %
          ((e1 - e0) / 1e9, sum(etcd_m.values()), len(win), len(unary), len(etcd_all) - len(unary)))
    print("compare_etcd: %-44s %8s %8s %8s" % ("method", "etcd", "kapimon", "ratio"))
    asserted = 0
    for m in sorted(set(kap_m) | {m for m, v in etcd_m.items() if v}):
        e, k = etcd_m.get(m, 0), kap_m.get(m, 0)
        ratio = k / e if e else float("inf")
        out["methods"][m] = {"etcd": e, "kapimon": k}
        print("compare_etcd: %-44s %8d %8d %8s%s" % (m, e, k, "%.4f" % ratio if e else "-",
                                                     "" if max(e, k) >= ETCD_MIN_CALLS else "  (< %d calls: not asserted)"
                                                     % ETCD_MIN_CALLS))
        if max(e, k) >= ETCD_MIN_CALLS:
            asserted += 1
            C.check("%s: kapimon %d / etcd %d = %s, within [%.2f, %.2f]" %
                    (m, k, e, "%.4f" % ratio if e else "inf", ETCD_TOL[0], ETCD_TOL[1]),
                    e > 0 and ETCD_TOL[0] <= ratio <= ETCD_TOL[1])
    C.check("at least 2 unary methods with >= %d calls compared (%d)" % (ETCD_MIN_CALLS, asserted), asserted >= 2)
    C.check("unary etcd calls in the window (etcd's count %d) within [300, 3000]" % sum(etcd_m.values()),
            300 <= sum(etcd_m.values()) <= 3000)

    # ---- 2. per resource: kapimon vs the apiserver's etcd_request_duration_seconds --------------------------
    a0, a1 = before["api_t"][1], after["api_t"][0]
    awin = [r for r in unary if a0 <= r["_t"] <= a1]
    api_cnt, api_sum, api_cls = collections.Counter(), collections.Counter(), collections.Counter()
    fallback = []
    for key, v in after["api_count"].items():
        d = v - before["api_count"].get(key, 0)
        if d <= 0:
            continue
        op, typ = key.split("|", 1)
        res, known = type_resource(typ)
        if not known:
            fallback.append("%s %s -> %s (%d)" % (op, typ, res, d))
        api_cnt[res] += d
        api_sum[res] += after["api_sum"].get(key, 0) - before["api_sum"].get(key, 0)
        api_cls[(res, op_class(op))] += d
    kap_cnt = collections.Counter(r.get("resource", "") for r in awin)
    kap_lat = collections.Counter()
    for r in awin:
        kap_lat[r.get("resource", "")] += r.get("latency_ns", 0)
    kap_cls = collections.Counter((r.get("resource", ""), rec_class(r)) for r in awin)
    if fallback:
        print("compare_etcd: apiserver types mapped by the plural fallback: " + "; ".join(fallback))
    print("compare_etcd: window %.3f s (between the apiserver scrapes); etcd calls per resource:" %
          ((a1 - a0) / 1e9))
    print("compare_etcd: %-26s %9s %8s   %-44s %s" % ("resource", "apiserver", "kapimon", "apiserver by class",
                                                     "kapimon by class"))
    for res in sorted(set(api_cnt) | set(kap_cnt)):
        a, k = int(api_cnt.get(res, 0)), kap_cnt.get(res, 0)
        acl = {c: int(v) for (r2, c), v in api_cls.items() if r2 == res}
        kcl = {c: v for (r2, c), v in kap_cls.items() if r2 == res}
        out["resources"][res or "(none)"] = {"apiserver": a, "kapimon": k, "apiserver_by_class": acl,
                                             "kapimon_by_class": kcl}
        print("compare_etcd: %-26s %9d %8d   %-44s %s" % (res or "(no resource)", a, k,
                                                         json.dumps(acl, sort_keys=True),
                                                         json.dumps(kcl, sort_keys=True)))
    for res in WORKLOAD_RESOURCES:
        a, k = int(api_cnt.get(res, 0)), kap_cnt.get(res, 0)
        C.check("%s: kapimon %d vs apiserver %d etcd calls (within %d%% or +-%d)" %
                (res, k, a, RES_TOL_REL * 100, RES_TOL_ABS), a > 0 and within(k, a, RES_TOL_REL, RES_TOL_ABS))
        for cls in ("range-key", "range-prefix", "txn"):
            ac, kc = int(api_cls.get((res, cls), 0)), kap_cls.get((res, cls), 0)
            if max(ac, kc) >= ETCD_MIN_CALLS:
                C.check("%s %s: kapimon %d vs apiserver %d (within %d%% or +-%d)" %
                        (res, cls, kc, ac, RES_TOL_REL * 100, RES_TOL_ABS), within(kc, ac, RES_TOL_REL, RES_TOL_ABS))
    # other resources with real traffic in the window (background) are held to the same bound
    for res in sorted(set(api_cnt) | set(kap_cnt)):
        if res in WORKLOAD_RESOURCES:
            continue
        a, k = int(api_cnt.get(res, 0)), kap_cnt.get(res, 0)
        if max(a, k) >= ETCD_MIN_CALLS:
            C.check("%s (background): kapimon %d vs apiserver %d" % (res or "(no resource)", k, a),
                    within(k, a, RES_TOL_REL, RES_TOL_ABS))

    # ---- 3. latency: kapimon's mean vs the apiserver's _sum/_count ------------------------------------------
    print("compare_etcd: %-26s %7s %14s %14s %7s" % ("resource", "n", "apiserver ms", "kapimon ms", "ratio"))
    for res in sorted(set(api_cnt) & set(kap_cnt)):
        a, k = api_cnt[res], kap_cnt[res]
        am, km = api_sum[res] / a * 1e3, kap_lat[res] / k / 1e6
        out["latency"][res] = {"n_apiserver": int(a), "n_kapimon": k, "apiserver_mean_ms": round(am, 4),
                               "kapimon_mean_ms": round(km, 4)}
        print("compare_etcd: %-26s %7d %14.3f %14.3f %7.3f" % (res, k, am, km, km / am if am else 0))
        if res in WORKLOAD_RESOURCES and k >= ETCD_MIN_CALLS:
            C.check("%s: mean etcd latency kapimon %.3f ms vs apiserver %.3f ms (within a factor %g)" %
                    (res, km, am, LAT_FACTOR), am > 0 and km > 0 and 1 / LAT_FACTOR <= km / am <= LAT_FACTOR)

    # ---- observed mapping: workload request (verb, resource, status) -> its etcd calls ----------------------
    per_req = collections.defaultdict(collections.Counter)
    nreq = collections.Counter()
    linked_bad, outside = [], 0

    def req_key(q):
        sub = ("/" + q["subresource"]) if q.get("subresource") else ""
        return (q.get("verb"), q.get("resource", "") + sub, q.get("status"))

    for r in unary:
        rid = r.get("request_id")
        if not rid:
            continue
        q = reqs.get(rid)
        if q is None:
            linked_bad.append(r)
            continue
        qs = ts_ns(q["ts"])
        if not (qs - 10**6 <= r["_t"] and r["_t"] + r.get("latency_ns", 0) <= qs + q.get("latency_ns", 0) + 10**6):
            outside += 1
        if args.ua and q.get("user_agent") == args.ua:
            per_req[req_key(q)]["%s %s" % (rec_class(r), r.get("resource", ""))] += 1
    if args.ua:
        for q in reqs.values():
            if q.get("user_agent") == args.ua:
                nreq[req_key(q)] += 1
        print("compare_etcd: observed mapping (workload requests -> etcd calls per request, from request_id):")
        for key in sorted(nreq, key=str):
            n = nreq[key]
            calls = ", ".join("%s x%.3g" % (c, v / n) for c, v in sorted(per_req[key].items()))
            out["mapping"]["%s %s %s" % key] = {"requests": n, "calls": dict(per_req[key])}
            print("compare_etcd:   %-32s n=%-4d %s" % ("%s %s %s" % key, n, calls or "(none)"))
    nlinked = sum(1 for r in unary if r.get("request_id"))
    C.check("every request_id names a request record (%d of %d linked calls do not)" % (len(linked_bad), nlinked),
            nlinked > 0 and not linked_bad, "\n".join(json.dumps(r)[:200] for r in linked_bad[:5]))
    C.check("linked calls lie within their request's time span (+-1 ms): %d of %d outside (<= 1%%)" %
            (outside, nlinked), outside <= 0.01 * nlinked)

    # ---- 4. the marker create ---------------------------------------------------------------------------------
    if args.marker_ua:
        mk = [q for q in reqs.values() if q.get("user_agent") == args.marker_ua]
        ok = len(mk) == 1 and (mk[0].get("verb"), mk[0].get("resource"), mk[0].get("status")) == \
            ("create", "configmaps", 201)
        C.check("marker create: one request record, verb create, resource configmaps, status 201: %s" %
                (json.dumps({k: mk[0].get(k) for k in ("verb", "resource", "status", "id")}) if mk else "none"),
                ok, "found %d: %s" % (len(mk), [json.dumps(q)[:200] for q in mk]))
        ids = {q.get("id") for q in mk}
        txn = [r for r in unary if r.get("request_id") in ids and r.get("op") == "txn"
               and r.get("key") == args.marker_key]
        other = [r for r in unary if r.get("request_id") in ids]
        C.check("marker create: an etcd txn record with request_id %s, key %s, resource configmaps" %
                (sorted(ids), args.marker_key),
                len(ids) == 1 and len(txn) == 1 and txn[0].get("resource") == "configmaps",
                "etcd records of that request: " + "; ".join(json.dumps(r)[:240] for r in other))

    # ---- 5. link rate and hits per call -------------------------------------------------------------------------
    st = stats[-1] if stats else {}
    se = st.get("etcd", {})
    out["link"]["stats"] = se
    print("compare_etcd: kapimon's final stats: etcd %s" % json.dumps(se, sort_keys=True))
    if args.ns:
        mine = [r for r in win if ("/%s/" % args.ns) in r.get("key", "")
                or r.get("key", "") == "/registry/namespaces/" + args.ns]
        nl = sum(1 for r in mine if r.get("request_id"))
        out["link"]["workload_namespace_keys"] = {"calls": len(mine), "linked": nl}
        C.check("link rate of calls on the workload namespace's keys: %d/%d = %.4f (>= 0.95)" %
                (nl, len(mine), nl / len(mine) if mine else 0), bool(mine) and nl >= 0.95 * len(mine))
    wres = [r for r in win if r.get("resource") in WORKLOAD_RESOURCES]
    nl = sum(1 for r in wres if r.get("request_id"))
    nw = sum(1 for r in win if r.get("request_id"))
    out["link"]["window_all"] = {"calls": len(win), "linked": nw}
    out["link"]["window_workload_resources"] = {"calls": len(wres), "linked": nl}
    print("compare_etcd: link rate in the window: all unary calls %d/%d = %.4f; calls on the workload's "
          "resources %d/%d = %.4f" % (nw, len(win), nw / len(win) if win else 0, nl, len(wres),
                                      nl / len(wres) if wres else 0))
    calls = se.get("calls", 0)
    C.check("stats: etcd.calls (%s) equals kapimon's unary etcd records (%d)" % (calls, len(unary)),
            calls == len(unary))
    C.check("stats: etcd.linked_ratio %.4f equals linked/calls (%s/%s)" %
            (se.get("linked_ratio", -1), se.get("linked"), calls),
            calls > 0 and abs(se.get("linked_ratio", -1) - se.get("linked", 0) / calls) < 1e-6)
    # the start and end probes: 2 per call; etcd_range_resp: once per RangeResponse decoded (every
    # successful Range, and the ranges nested in a Txn's response), counted on top
    rhits = st.get("probe_hits", {}).get("etcd_range_resp", 0)
    n_range_ok = sum(1 for r in unary if r.get("op") == "range" and r.get("grpc_status") == 0)
    n_range_txn = sum(1 for r in unary if r.get("op") in ("range", "txn"))
    C.check("stats: hits per etcd call %.4f <= %.2f + etcd_range_resp hits per call (%d/%d)" %
            (se.get("hits_per_call", 99), HITS_MAX, rhits, calls),
            calls > 0 and 0 < se.get("hits_per_call", 0) <= HITS_MAX + rhits / calls)
    C.check("stats: etcd_range_resp hits %d within [successful Ranges %d, Ranges + Txns %d]" %
            (rhits, n_range_ok, n_range_txn), n_range_ok <= rhits <= n_range_txn)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)
    print("compare_etcd: %d passed, %d failed" % (C.passed, C.failed))
    return 1 if C.failed else 0


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
    p = sub.add_parser("seen")
    p.add_argument("--records", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--since", type=int, required=True)
    p = sub.add_parser("compare")
    p.add_argument("--records", required=True)
    p.add_argument("--before", required=True)
    p.add_argument("--after", required=True)
    p.add_argument("--ns", default="", help="the workload's namespace (link rate of its keys)")
    p.add_argument("--ua", default="", help="the workload's user agent (observed mapping)")
    p.add_argument("--marker-ua", default="", help="user agent of the one marker configmap create")
    p.add_argument("--marker-key", default="", help="etcd key of the marker configmap")
    p.add_argument("--json")
    args = ap.parse_args()
    if args.cmd == "scrape":
        return cmd_scrape(args)
    if args.cmd == "workload":
        return cmd_workload(args)
    if args.cmd == "seen":
        return cmd_seen(args)
    return cmd_compare(args)


if __name__ == "__main__":
    sys.exit(main())
