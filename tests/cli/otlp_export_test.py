#!/usr/bin/env python3
"""End-to-end test of the OTLP exporter (run by test_otlp_export.sh; no root, no testbed).

The real exporter (build/tools/otlp_drive) sends spans over loopback to an independent receiver
(tests/integration/otlp_receiver.py, which decodes the protobuf wire format itself). The driver also
writes the records it fed, as kapimon's JSON lines; every check compares the receiver's spans with
those records. Prints each failure and "N passed, M failed"; exits non-zero on failure.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DRIVE = os.path.join(ROOT, "build", "tools", "otlp_drive")
RECEIVER = os.path.join(ROOT, "tests", "integration", "otlp_receiver.py")
TMP = tempfile.mkdtemp(prefix="kapimon-otlp-")
passed = failed = 0
procs = []


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s %s" % (name, detail), file=sys.stderr)
    return cond


def sub(name, cond, detail=""):
    """A part of one record's check: printed when false, counted once per record by match_all."""
    if not cond:
        print("FAIL: %s %s" % (name, detail), file=sys.stderr)
    return cond


def wait_until(pred, timeout, what):
    """Poll a condition until it holds (the processes are separate: there is no event to wait on)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    print("timeout waiting for %s" % what, file=sys.stderr)
    return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_receiver(name, port=0, *args):
    out = os.path.join(TMP, name + ".jsonl")
    pf = os.path.join(TMP, name + ".port")
    p = subprocess.Popen([sys.executable, RECEIVER, "--out", out, "--port", str(port), "--port-file", pf] + list(args))
    procs.append(p)
    if not wait_until(lambda: os.path.exists(pf), 20, "the receiver's port file"):
        raise SystemExit("receiver did not start")
    return p, int(open(pf).read()), out


def stop(p):
    p.terminate()
    p.wait(10)


class Driver:
    def __init__(self, url, name, *opts):
        self.manifest = os.path.join(TMP, name + ".manifest.jsonl")
        self.p = subprocess.Popen([DRIVE, url, self.manifest] + [str(o) for o in opts], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        procs.append(self.p)

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline()
        if not out:
            raise SystemExit("driver exited on %r" % line)
        return json.loads(out)

    def close(self, ms):
        a = self.cmd("close %d" % ms)
        b = json.loads(self.p.stdout.readline())
        self.p.wait(10)
        return a, b


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def spans_of(path):
    return [l for l in lines(path) if l.get("type") == "span"]


def ts_ns(ts):
    """RFC 3339 with 9 fraction digits (UTC) → ns since the epoch, without float rounding."""
    import calendar
    date, frac = ts.rstrip("Z").split(".")
    secs = calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S"))
    return secs * 1000000000 + int(frac.ljust(9, "0"))


def expected_name(r):
    if r["resource"]:
        return "%s %s%s" % (r["verb"], r["resource"], "/" + r["subresource"] if r["subresource"] else "")
    return "%s %s" % (r["method"], r["path"].split("?")[0])


def check_request_span(r, s):
    a = s["attributes"]
    rid = r["id"]
    ok = True
    path, _, query = r["path"].partition("?")

    def eq(key, want):
        nonlocal ok
        if a.get(key) != want:
            ok = sub("request %d attribute %s" % (rid, key), False, "%r != %r" % (a.get(key), want))

    ok &= sub("request %d: SERVER span" % rid, s["kind"] == 2)
    ok &= sub("request %d: root span" % rid, s["parent_span_id"] == "")
    ok &= sub("request %d: name" % rid, s["name"] == expected_name(r), s["name"])
    ok &= sub("request %d: start" % rid, s["start"] == ts_ns(r["ts"]))
    ok &= sub("request %d: end" % rid, s["end"] == ts_ns(r["ts"]) + r["latency_ns"])
    eq("http.request.method", r["method"])
    eq("url.path", path)
    eq("url.query", query or None)
    eq("http.response.status_code", r["status"])
    eq("user_agent.original", r["user_agent"])  # the JSON writer and the encoder both replace bad UTF-8 by U+FFFD
    host, _, port = r["client"].rpartition(":")
    eq("client.address", host.strip("[]"))
    eq("client.port", int(port))
    eq("server.port", r.get("local_port"))
    eq("network.protocol.version", {"h1": "1.1", "h2": "2"}.get(r.get("proto")))
    eq("network.protocol.name", "http" if r.get("proto") else None)
    eq("http.request.body.size", r.get("bytes_in"))
    eq("http.response.body.size", r.get("bytes_out"))
    for f in ("verb", "group", "version", "resource", "subresource", "namespace", "name"):
        eq("k8s.apiserver." + f, r[f] or None)
    eq("kapimon.request.id", rid)
    eq("error.type", str(r["status"]) if r["status"] >= 500 else None)
    ok &= sub("request %d: status" % rid, s["status"]["code"] == (2 if r["status"] >= 500 else 0))
    ok &= sub("request %d: no credential" % rid, "hunter2" not in json.dumps(s) and
                ("token" not in query or "token=REDACTED" in query))
    known = {"http.request.method", "url.path", "url.query", "http.response.status_code", "user_agent.original",
             "client.address", "client.port", "server.port", "network.protocol.version", "network.protocol.name",
             "http.request.body.size", "http.response.body.size", "kapimon.request.id", "error.type"}
    extra = [k for k in a if k not in known and not k.startswith("k8s.apiserver.")]
    ok &= sub("request %d: no unexpected attributes" % rid, not extra, extra)
    return ok


def check_etcd_span(e, s, parent):
    a = s["attributes"]
    ok = sub("etcd span kind CLIENT", s["kind"] == 3)
    ok &= sub("etcd start/end", s["start"] == ts_ns(e["ts"]) and s["end"] == s["start"] + e["latency_ns"])
    ok &= sub("etcd db.system.name", a.get("db.system.name") == "etcd")
    ok &= sub("etcd db.operation.name", a.get("db.operation.name") == e["op"])
    ok &= sub("etcd db.collection.name", a.get("db.collection.name") == e["resource"])
    ok &= sub("etcd key prefix", a.get("etcd.key_prefix") == e["key"][:e["key"].rindex("/") + 1], a.get("etcd.key_prefix"))
    svc, meth = e["method"].lstrip("/").split("/")
    ok &= sub("etcd rpc.*", a.get("rpc.service") == svc and a.get("rpc.method") == meth and a.get("rpc.system") == "grpc")
    ok &= sub("etcd rpc.grpc.status_code", a.get("rpc.grpc.status_code") == e["grpc_status"])
    ok &= sub("etcd status", s["status"]["code"] == (2 if e["grpc_status"] else 0))
    if parent is not None:
        ok &= sub("etcd: the request's trace", s["trace_id"] == parent["trace_id"])
        ok &= sub("etcd: the request span is the parent", s["parent_span_id"] == parent["span_id"])
        ok &= sub("etcd: nested in the request's time", parent["start"] <= s["start"] <= s["end"] <= parent["end"])
        ok &= sub("etcd: request id", a.get("kapimon.request.id") == e["request_id"])
    else:
        ok &= sub("unlinked etcd: root span", s["parent_span_id"] == "" and "kapimon.request.id" not in a)
    return ok


def match_all(manifest, spans, sampled=False):
    """Match every record of the manifest to its span; returns (#requests, #etcd, kept trace ids)."""
    recs = lines(manifest)
    reqs = [r for r in recs if r["kind"] == "request"]
    etcds = [r for r in recs if r["kind"] == "etcd"]
    server = {}
    dup = 0
    for s in spans:
        if s["kind"] == 2:
            rid = s["attributes"]["kapimon.request.id"]
            dup += not sub("one span per request %d" % rid, rid not in server)
            server[rid] = s
    check("one SERVER span per request", dup == 0)
    client = {}
    for s in spans:
        if s["kind"] == 3:
            client.setdefault((s["start"], s["attributes"].get("kapimon.request.id")), []).append(s)
    nreq = netcd = 0
    bad = 0
    for r in reqs:
        s = server.get(r["id"])
        if s is None:
            if not sampled:
                bad += 1
            continue
        nreq += 1
        bad += not check_request_span(r, s)
    for e in etcds:
        cands = client.get((ts_ns(e["ts"]), e.get("request_id")), [])
        parent = server.get(e["request_id"]) if e.get("request_id") else None
        if not cands:
            if not sampled:
                bad += 1
            elif parent is not None:
                bad += not sub("sampling keeps a trace whole (etcd of kept request %d)" % e["request_id"], False)
            continue
        netcd += 1
        bad += not check_etcd_span(e, cands.pop(), parent)
        if sampled and e.get("request_id"):
            bad += not sub("sampling keeps a trace whole (request of kept etcd)", parent is not None)
    check("no span without a record", sum(len(v) for v in client.values()) == 0 and nreq == len(server))
    check("every record became its span", bad == 0, "%d records without their span" % bad)
    return nreq, netcd


def scenario_all_spans():
    p, port, out = start_receiver("ok")
    d = Driver("http://127.0.0.1:%d" % port, "ok", "--pid", 4242, "--version", "v1.20.2-kapimon",
               "--batch", 128, "--delay-ms", 200)
    g = d.cmd("gen 300 3 40")
    check("all queued", g["queued"] == 300 * 4 + 40 and g["dropped"] == 0, g)
    check("flush", d.cmd("flush 20000")["flush"] == 0)
    st = d.cmd("stats")
    check("stats: sent == queued", st["sent"] == st["queued"] == 1240 and st["failed"] == 0 and st["dropped"] == 0, st)
    check("stats: batched", 1240 / 128 <= st["batches"] < 1240, st)
    a, b = d.close(2000)
    stop(p)
    spans = spans_of(out)
    check("1240 spans arrived", len(spans) == 1240, len(spans))
    nreq, netcd = match_all(d.manifest, spans)
    check("300 SERVER + 940 CLIENT spans matched", nreq == 300 and netcd == 940, (nreq, netcd))
    res = spans[0]["resource"] if spans else {}
    check("resource attributes", res == {"service.name": "kube-apiserver", "service.version": "v1.20.2-kapimon",
                                         "host.name": "testhost", "process.pid": 4242, "telemetry.sdk.name": "kapimon"}, res)
    check("scope", spans and spans[0]["scope"]["name"] == "kapimon")
    reqs = [l for l in lines(out) if l.get("type") == "request"]
    check("POSTs were application/x-protobuf to /v1/traces",
          all(r["status"] == 200 and r["content_type"] == "application/x-protobuf" for r in reqs))
    check("ids unique", len({s["span_id"] for s in spans}) == 1240)


def scenario_503_retry_after():
    p, port, out = start_receiver("busy", 0, "--fail", "3", "--retry-after", "1")
    d = Driver("http://127.0.0.1:%d" % port, "busy", "--batch", 1000, "--delay-ms", 50, "--backoff-ms", 50)
    d.cmd("gen 50 1 0")
    check("flush after 503s", d.cmd("flush 30000")["flush"] == 0)
    st = d.cmd("stats")
    d.close(1000)
    stop(p)
    check("503: all sent after retries", st["sent"] == 100 and st["failed"] == 0, st)
    check("503: three failed attempts counted", st["export_errors"] == 3 and st["retries"] == 3, st)
    reqs = [l for l in lines(out) if l.get("type") == "request"]
    st = [r["status"] for r in reqs]
    check("503: receiver saw 3×503 then only 200s", st[:4] == [503, 503, 503, 200] and set(st[4:]) <= {200}, st)
    gaps = [b["t"] - a["t"] for a, b in zip(reqs, reqs[1:]) if a["status"] == 503]
    check("503: Retry-After: 1 honoured (backoff alone would be 25-200 ms)", all(g >= 0.95 for g in gaps), gaps)
    check("503: spans arrived once", len(spans_of(out)) == 100)


def scenario_down_then_up():
    port = free_port()
    d = Driver("http://127.0.0.1:%d" % port, "down", "--queue", 100, "--batch", 50, "--delay-ms", 20,
               "--attempts", 1000000, "--backoff-ms", 20, "--backoff-max-ms", 200, "--timeout-ms", 2000)
    t0 = time.monotonic()
    g = d.cmd("gen 1000 0 0")
    took = time.monotonic() - t0
    check("down: adding 1000 spans returns (never waits for the network)", g["added"] == 1000, g)
    check("down: drops counted", g["dropped"] > 0 and g["queued"] + g["dropped"] == 1000, g)
    st = d.cmd("stats")
    check("down: queue bounded", st["queued"] <= 100 + 50 and st["dropped"] == g["dropped"], st)
    # the sender's first attempt may still be on its way: wait for it to be counted
    wait_until(lambda: d.cmd("stats")["export_errors"] >= 1, 20, "a failed attempt")
    st = d.cmd("stats")
    check("down: nothing sent, errors counted", st["sent"] == 0 and st["export_errors"] >= 1 and st["last_status"] == -1, st)
    # refused connections are retried after the backoff too (20 ms doubling to 200 ms, each wait at least
    # half of that): at most 1 + 4 + T / 0.1 attempts in T s; without backoff, thousands
    e0, t1 = st["export_errors"], time.monotonic()
    time.sleep(1.0)  # the measured interval, not synchronisation
    e1, t2 = d.cmd("stats")["export_errors"], time.monotonic()
    check("down: refused connections back off (%d attempts in %.2f s)" % (e1 - e0, t2 - t1),
          e1 - e0 <= 5 + (t2 - t1) / 0.1 + 1, (e0, e1))
    # the receiver comes up on the same port: the queued spans (and only those) arrive
    p, _, out = start_receiver("down", port)
    check("down→up: flush", d.cmd("flush 30000")["flush"] == 0)
    st = d.cmd("stats")
    check("down→up: queued spans sent", st["sent"] == g["queued"] and st["failed"] == 0, st)
    check("down→up: receiver got exactly them", len(spans_of(out)) == g["queued"], (len(spans_of(out)), g["queued"]))
    g2 = d.cmd("gen 30 2 0")
    check("down→up: flush again", d.cmd("flush 30000")["flush"] == 0)
    st = d.cmd("stats")
    check("down→up: export resumed", st["sent"] == g["queued"] + 90 and g2["dropped"] == 0, st)
    spans = spans_of(out)
    ids = {s["attributes"]["kapimon.request.id"] for s in spans if s["kind"] == 2}
    check("down→up: the new requests arrived", all(i in ids for i in range(1001, 1031)))
    d.close(1000)
    # closing with the receiver down again is bounded and counts what it could not send
    stop(p)
    d = Driver("http://127.0.0.1:%d" % port, "down2", "--queue", 100, "--attempts", 1000000, "--backoff-ms", 20,
               "--backoff-max-ms", 200, "--delay-ms", 20)
    d.cmd("gen 30 0 0")
    a, b = d.close(500)
    check("close with the receiver down: bounded (500 ms flush)", a["close_ms"] < 3000, a)
    check("close: unsent spans counted as failed", b["failed"] == 30 and b["sent"] == 0, b)
    return took


def scenario_sampling():
    p, port, out = start_receiver("sample")
    d = Driver("http://127.0.0.1:%d" % port, "sample", "--sample", 250000, "--seed", 7, "--delay-ms", 50)
    g = d.cmd("gen 400 2 0")
    d.cmd("flush 20000")
    st = d.cmd("stats")
    d.close(1000)
    stop(p)
    spans = spans_of(out)
    nreq, netcd = match_all(d.manifest, spans, sampled=True)
    check("sampling: whole traces (2 etcd per kept request)", netcd == 2 * nreq, (nreq, netcd))
    check("sampling: counters add up", st["sampled_out"] + st["queued"] == 1200 and st["sent"] == len(spans), st)
    check("sampling: about 25%% of 400 traces kept", 60 <= nreq <= 140, nreq)


def scenario_partial(chunked):
    how = " (chunked response)" if chunked else ""
    p, port, out = start_receiver("partial%d" % chunked, 0, "--partial", "5", *(["--chunked"] if chunked else []))
    d = Driver("http://127.0.0.1:%d" % port, "partial%d" % chunked, "--batch", 1000, "--delay-ms", 50)
    d.cmd("gen 20 0 0")
    d.cmd("flush 20000")
    d.cmd("gen 10 0 0")  # the next POST on the same keep-alive connection
    d.cmd("flush 20000")
    st = d.cmd("stats")
    d.close(1000)
    stop(p)
    check("partial success%s: rejected counted, not retried" % how, st["rejected"] == 5 and st["sent"] == 25 and
          st["retries"] == 0 and st["export_errors"] == 0, st)
    check("partial success%s: all POSTs answered 200" % how,
          {l["status"] for l in lines(out) if l.get("type") == "request"} == {200})


def main():
    if not os.access(DRIVE, os.X_OK):
        print("0 passed, 1 failed (no %s: run make build/tools/otlp_drive)" % DRIVE)
        return 1
    try:
        scenario_all_spans()
        scenario_503_retry_after()
        scenario_down_then_up()
        scenario_sampling()
        scenario_partial(False)
        scenario_partial(True)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
