#!/usr/bin/env python3
"""Synthetic data for kapimon's analysis commands (deterministic with --seed).

  gen-analysis-data.py flows  N OUT [--agents 50 --resources 100 --verbs 10 --minutes 60]
      N kind=request flow records (JSON lines, kapimon record format) over --minutes, with a diurnal-ish
      wave, plus a burst of (agent-7, get, leases) in minutes [40, 45); also some etcd/stats lines.
      Ground truth printed to stderr as JSON.
  gen-analysis-data.py leaves OUT [--agents 50 --resources 100 --verbs 10 --causes 2]
      leaf table a,b,c,real,predict with injected root causes; truth to stderr.
  gen-analysis-data.py audit N OUT [--thin]  audit.k8s.io/v1 Event lines (RequestReceived + ResponseComplete).
"""
import json
import math
import random
import sys


def arg(name, default):
    if name in sys.argv:
        return type(default)(sys.argv[sys.argv.index(name) + 1])
    return default


def ts(sec):
    s = int(sec)
    ns = int(round((sec - s) * 1e9))
    if ns >= 1000000000:
        s, ns = s + 1, ns - 1000000000
    h, m, x = s // 3600 % 24, s // 60 % 60, s % 60
    d = 21 + s // 86400
    return "2026-11-%02dT%02d:%02d:%02d.%09dZ" % (d, h, m, x, ns)


VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "proxy", "connect"]


def flows(n, out):
    rnd = random.Random(arg("--seed", 1))
    na, nr, nv = arg("--agents", 50), arg("--resources", 100), arg("--verbs", 10)
    minutes = arg("--minutes", 60)
    agents = ["agent-%d/v1.%d (linux/amd64)" % (i, i % 7) for i in range(na)]
    res = ["res%d" % i for i in range(nr)]
    res[3] = "leases"
    verbs = VERBS[:nv]
    dur = minutes * 60.0
    burst_a, burst_v, burst_r = agents[7], "get", "leases"
    b0, b1 = 40 * 60.0, 45 * 60.0
    nburst = n // 10
    base = n - nburst
    # popularity: zipf-ish over agents and resources
    wa = [1.0 / (i + 1) ** 0.6 for i in range(na)]
    wr = [1.0 / (i + 1) ** 0.8 for i in range(nr)]
    wv = [1.0 / (i + 1) for i in range(nv)]
    ca, cr, cv = agents, res, verbs
    lines = []
    w = out.write
    t = 0.0
    rate_scale = dur / base
    pa = rnd.choices(range(na), wa, k=base)
    pr = rnd.choices(range(nr), wr, k=base)
    pv = rnd.choices(range(nv), wv, k=base)
    times = sorted(rnd.random() * dur for _ in range(base))
    bt = sorted(b0 + rnd.random() * (b1 - b0) for _ in range(nburst))
    events = [(x, ca[pa[i]], cv[pv[i]], cr[pr[i]]) for i, x in enumerate(times)]
    events += [(x, burst_a, burst_v, burst_r) for x in bt]
    events.sort(key=lambda e: e[0])
    for i, (x, a, v, r) in enumerate(events):
        w('{"kind":"request","ts":"%s","latency_ns":%d,"method":"GET","path":"/api/v1/namespaces/default/%s","verb":"%s",'
          '"group":"","version":"v1","resource":"%s","subresource":"","namespace":"default","name":"",'
          '"user_agent":"%s","client":"127.0.0.1:5%04d","status":200,"proto":"h2"}\n'
          % (ts(x), 100000 + i % 977 * 1000, r, v, r, a, i % 10000))
        if i % 5000 == 0:
            w('{"kind":"etcd","ts":"%s","latency_ns":1000,"method":"/etcdserverpb.KV/Range","op":"range","key":"/registry/x","resource":"x"}\n' % ts(x))
        if i % 20000 == 0:
            w('{"kind":"stats","ts":"%s","dropped":0}\n' % ts(x))
    json.dump({"burst": {"user_agent": burst_a, "verb": burst_v, "resource": burst_r},
               "start_s": b0, "end_s": b1, "records": n}, sys.stderr)
    sys.stderr.write("\n")


def leaves(out):
    rnd = random.Random(arg("--seed", 1))
    na, nr, nv = arg("--agents", 50), arg("--resources", 100), arg("--verbs", 10)
    ncause = arg("--causes", 2)
    dims = [["a%d" % i for i in range(na)], ["r%d" % i for i in range(nr)], ["v%d" % i for i in range(nv)]]
    causes = []
    def overlap(x, y):  # two elements share leaves unless they disagree on a common dimension
        return all(x[d] == y[d] for d in x if d in y)
    while len(causes) < ncause:
        depth = rnd.randint(1, 3)
        ds = sorted(rnd.sample(range(3), depth))
        cz = {d: rnd.choice(dims[d]) for d in ds}
        if not any(overlap(cz, c) for c, _ in causes):
            causes.append((cz, rnd.choice([-0.6, 0.8, 1.5])))
    out.write("a,b,c,real,predict\n")
    for a in dims[0]:
        for b in dims[1]:
            for c in dims[2]:
                f = rnd.uniform(5, 100)
                v = f * (1 + rnd.gauss(0, 0.05))
                for cz, mag in causes:
                    vals = (a, b, c)
                    if all(vals[d] == x for d, x in cz.items()):
                        v = f * (1 + mag) * (1 + rnd.gauss(0, 0.05))
                        break
                out.write("%s,%s,%s,%.3f,%.3f\n" % (a, b, c, v, f))
    json.dump([{"abc"[d]: x for d, x in cz.items()} for cz, _ in causes], sys.stderr)
    sys.stderr.write("\n")


def audit(n, out):
    rnd = random.Random(arg("--seed", 1))
    dur = 600.0
    thin = "--thin" in sys.argv
    # the last tenth is an extra burst of one client in [300 s, 330 s); with --thin, the last half is a
    # thin flood: `get configmaps` from as many distinct agents as requests, in [300 s, 305 s)
    nb = n // 2 if thin else n // 10
    for i in range(n):
        burst = i >= n - nb
        if thin and burst:
            x = 300 + rnd.random() * 5
            ua, verb, res = "pod-agent-%d/v1" % i, "get", "configmaps"
        else:
            x = 300 + rnd.random() * 30 if burst else rnd.random() * dur
            ua = "burst-controller/v0.1" if burst else rnd.choice(["kubelet/v1.30", "kube-scheduler/v1.30", "kubectl/v1.30"])
            verb = "list" if burst else rnd.choice(["get", "list", "watch", "update"])
            res = "pods" if burst else rnd.choice(["pods", "nodes", "leases", "configmaps", "endpoints", "namespaces"])
        ev = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "id-%d" % i,
              "stage": "ResponseComplete", "requestURI": "/api/v1/%s" % res, "verb": verb,
              "user": {"username": "system:x"}, "sourceIPs": ["127.0.0.1"], "userAgent": ua,
              "objectRef": {"resource": res, "namespace": "default", "apiVersion": "v1"},
              "responseStatus": {"code": 200}, "requestReceivedTimestamp": ts(x), "stageTimestamp": ts(x + 0.01)}
        rr = dict(ev, stage="RequestReceived")
        del rr["responseStatus"]
        out.write(json.dumps(rr) + "\n")
        out.write(json.dumps(ev) + "\n")


def main():
    mode = sys.argv[1]
    if mode == "flows":
        with open(sys.argv[3], "w") as f:
            flows(int(sys.argv[2]), f)
    elif mode == "leaves":
        with open(sys.argv[2], "w") as f:
            leaves(f)
    elif mode == "audit":
        with open(sys.argv[3], "w") as f:
            audit(int(sys.argv[2]), f)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
