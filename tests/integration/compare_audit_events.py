#!/usr/bin/env python3
"""Compare kapimon's audit-format output (`kapimon record --format audit`) with the kube-apiserver's
own audit log, for the requests of one user agent (python3, stdlib only).

    compare_audit_events.py --audit REAL.log --kapimon KAPIMON.log --ua UA [--min-match 0.99]

Prints "ok<TAB>desc" / "FAIL<TAB>desc<TAB>detail" lines (tests/integration/lib.sh `report`), then a
"match_rate N/M" line. Checks:
  - every kapimon line is a JSON object with kind Event, apiVersion audit.k8s.io/v1, level Metadata,
    stage ResponseComplete, a UUID auditID (unique), microsecond RFC 3339 timestamps, a user of only
    username and groups when there is one, no annotations;
  - per (verb, objectRef.resource) the counts of kapimon's lines for UA equal the real log's
    ResponseComplete events for UA;
  - request by request (matched on verb, requestURI and requestReceivedTimestamp within 1 s), the
    fields verb, objectRef.resource/namespace/name, responseStatus.code, userAgent, sourceIPs,
    user.username and user.groups are
    equal for >= --min-match of the real events. The name of a create is excepted: the apiserver takes it
    from the request body, which kapimon never reads (docs/records.md); the strict rate, name of creates
    included, is printed too ("strict_match_rate").
With --fields: every field of the matched pairs, flattened to dotted paths (objectRef.name, user.username,
annotations.<key>, responseStatus.reason, ...), counted as equal / different / only in the real event /
only in kapimon's, printed as a table (and written to --fields-json); a field that is not always equal must
be one of DOCUMENTED (the differences docs/records.md explains), objectRef.name may be missing only on
creates, and no field may be only in kapimon's events.
"""
import argparse
import calendar
import collections
import json
import re
import sys

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z$")


def ts_us(s):
    m = TS_RE.match(s or "")
    if not m:
        raise ValueError("bad timestamp %r" % (s,))
    y, mo, d, h, mi, sec, frac = (int(x) for x in m.groups())
    return calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0)) * 10**6 + frac


def fields(e, create_name=True):
    o = e.get("objectRef") or {}
    name = o.get("name") if create_name or e.get("verb") != "create" else "(create)"
    return (e.get("verb"), o.get("resource"), o.get("namespace"), name,
            (e.get("responseStatus") or {}).get("code"), e.get("userAgent"), tuple(e.get("sourceIPs") or ()),
            (e.get("user") or {}).get("username"), tuple((e.get("user") or {}).get("groups") or ()))


# Fields of the apiserver's events that kapimon's may lack or write differently, and why (docs/records.md,
# "What differs from the apiserver's audit log"). A path matches an entry equal to it or under it.
DOCUMENTED = {
    "auditID": "kapimon's own UUID per record (derived from its id and a per-run seed)",
    "user.uid": "kapimon reads the authenticated user's name and groups only",
    "user.extra": "kapimon reads the authenticated user's name and groups only",
    "impersonatedUser": "the identity is not known to kapimon",
    "annotations": "the authorizer's decision and reason are not visible to kapimon",
    "objectRef.name": "a create names its object in the request body, which kapimon never reads",
    "objectRef.uid": "from the request body",
    "objectRef.resourceVersion": "from the request body",
    "responseStatus.status": "from the response body (Status object), which kapimon never reads",
    "responseStatus.reason": "from the response body",
    "responseStatus.message": "from the response body",
    "responseStatus.details": "from the response body",
    "requestReceivedTimestamp": "kapimon's clock at headers read (generic starts; the apiserver's own with starts after authentication)",
    "stageTimestamp": "kapimon's clock: the response's final flush",
}


def flatten(o, prefix=""):
    out = {}
    if isinstance(o, dict) and o:
        for k, v in o.items():
            out.update(flatten(v, prefix + "." + k if prefix else k))
    else:
        out[prefix] = json.dumps(o, sort_keys=True)
    return out


def documented(path):
    return next((d for d in DOCUMENTED if path == d or path.startswith(d + ".")), None)


def field_table(pairs, res, out_json):
    """pairs: [(real, kapimon)]"""
    t = collections.defaultdict(lambda: {"equal": 0, "different": 0, "real_only": 0, "kapimon_only": 0,
                                         "verbs": collections.Counter()})
    dts = {"requestReceivedTimestamp": [], "stageTimestamp": []}
    for e, k in pairs:
        fe, fk = flatten(e), flatten(k)
        for path in set(fe) | set(fk):
            row = t[path]
            if path in fe and path in fk:
                what = "equal" if fe[path] == fk[path] else "different"
            else:
                what = "real_only" if path in fe else "kapimon_only"
            row[what] += 1
            if what != "equal":
                row["verbs"][e.get("verb")] += 1
        for f in dts:
            dts[f].append(ts_us(k[f]) - ts_us(e[f]))
    print("fields of %d matched pairs:" % len(pairs))
    print("  %-48s %6s %6s %9s %12s  %s" % ("field", "equal", "diff", "real only", "kapimon only", "non-equal by verb"))
    for path in sorted(t):
        r = t[path]
        print("  %-48s %6d %6d %9d %12d  %s" % (path, r["equal"], r["different"], r["real_only"], r["kapimon_only"],
                                               json.dumps(dict(r["verbs"]), sort_keys=True) if r["verbs"] else ""))
    for f, v in dts.items():
        v.sort()
        if v:
            print("  %s: kapimon - apiserver = median %d us, min %d us, max %d us" % (f, v[len(v) // 2], v[0], v[-1]))
    undocumented = {p: r for p, r in t.items() if r["different"] + r["real_only"] + r["kapimon_only"] and not documented(p)}
    res(pairs and not undocumented, "every field that is not equal wherever present is a documented difference "
        "(%d pairs, %d fields)" % (len(pairs), len(t)),
        "; ".join("%s: %d equal, %d different, %d real only, %d kapimon only" %
                  (p, r["equal"], r["different"], r["real_only"], r["kapimon_only"]) for p, r in undocumented.items()))
    kap_only = [p for p, r in t.items() if r["kapimon_only"]]
    res(not kap_only, "no field only in kapimon's events", ", ".join(kap_only))
    name = t.get("objectRef.name")
    bad = {v: n for v, n in (name["verbs"] if name else {}).items() if v != "create"}
    res(name is not None and not bad and name["different"] == 0,
        "objectRef.name: equal, or missing on creates only (%d missing)" % (name["real_only"] if name else 0), json.dumps(bad))
    if out_json:
        with open(out_json, "w") as f:
            json.dump({"pairs": len(pairs), "fields": {p: dict(r, verbs=dict(r["verbs"]), why=documented(p) and
                                                          DOCUMENTED[documented(p)]) for p, r in t.items()},
                       "timestamps_us": {f: {"median": v[len(v) // 2], "min": v[0], "max": v[-1]} for f, v in dts.items() if v}},
                      f, indent=1, sort_keys=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--audit", required=True)
    ap.add_argument("--kapimon", required=True)
    ap.add_argument("--ua", required=True)
    ap.add_argument("--min-match", type=float, default=0.99)
    ap.add_argument("--fields", action="store_true", help="compare every field of the matched pairs")
    ap.add_argument("--fields-json", help="with --fields: the table as JSON")
    a = ap.parse_args()
    failed = False

    def res(ok, desc, detail=""):
        nonlocal failed
        failed |= not ok
        print("%s\t%s\t%s" % ("ok" if ok else "FAIL", desc, detail.replace("\n", " ")[:600]))

    real = []
    for line in open(a.audit, encoding="utf-8", errors="replace"):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("stage") == "ResponseComplete" and e.get("userAgent") == a.ua:
            real.append(e)

    kap, bad, ids = [], [], set()
    for n, line in enumerate(open(a.kapimon, encoding="utf-8"), 1):
        try:
            e = json.loads(line)
            assert isinstance(e, dict)
            assert e["kind"] == "Event" and e["apiVersion"] == "audit.k8s.io/v1", "kind/apiVersion"
            assert e["level"] == "Metadata" and e["stage"] == "ResponseComplete", "level/stage"
            assert UUID_RE.match(e["auditID"]), "auditID %r" % e["auditID"]
            assert e["auditID"] not in ids, "duplicate auditID"
            ids.add(e["auditID"])
            assert ts_us(e["stageTimestamp"]) >= ts_us(e["requestReceivedTimestamp"]), "timestamps"
            assert "annotations" not in e, "annotations"
            assert set(e.get("user", {"username": ""})) <= {"username", "groups"}, "user: username, groups only"
            assert isinstance(e["responseStatus"]["metadata"], dict), "responseStatus.metadata"
            assert isinstance(e["sourceIPs"], list), "sourceIPs"
        except (ValueError, KeyError, TypeError, AssertionError) as x:
            bad.append("line %d: %s" % (n, x))
            continue
        if e.get("userAgent") == a.ua:
            kap.append(e)
    res(not bad and ids, "every kapimon line is a well-formed audit Event (%d lines)" % len(ids), "; ".join(bad[:5]))
    res(len(real) > 0, "real audit log has ResponseComplete events for the workload (%d)" % len(real))

    def counts(evs):
        return collections.Counter((e.get("verb"), (e.get("objectRef") or {}).get("resource", "")) for e in evs)

    cr, ck = counts(real), counts(kap)
    diff = {"%s %s" % k: (cr.get(k, 0), ck.get(k, 0)) for k in set(cr) | set(ck) if cr.get(k, 0) != ck.get(k, 0)}
    res(not diff, "per (verb, resource) counts equal: %s" % ", ".join(
        "%s %s=%d" % (k[0], k[1] or "-", v) for k, v in sorted(cr.items())), "real, kapimon differ: %r" % diff)

    pool = collections.defaultdict(list)
    for e in kap:
        pool[(e["verb"], e["requestURI"])].append(e)
    good, strict, mism, pairs = 0, 0, [], []
    for e in sorted(real, key=lambda e: e["requestReceivedTimestamp"]):
        t = ts_us(e["requestReceivedTimestamp"])
        cands = [k for k in pool.get((e.get("verb"), e.get("requestURI")), [])
                 if abs(ts_us(k["requestReceivedTimestamp"]) - t) <= 10**6]
        if not cands:
            mism.append("no kapimon event for %s %s at %s" % (e.get("verb"), e.get("requestURI"),
                                                             e["requestReceivedTimestamp"]))
            continue
        same = [k for k in cands if fields(k, False) == fields(e, False)]
        k = min(same or cands, key=lambda k: abs(ts_us(k["requestReceivedTimestamp"]) - t))
        pool[(e.get("verb"), e.get("requestURI"))].remove(k)
        pairs.append((e, k))
        if same:
            good += 1
            strict += fields(k) == fields(e)
        else:
            mism.append("%s: real %r, kapimon %r" % (e.get("requestURI"), fields(e), fields(k)))
    rate = good / len(real) if real else 0.0
    res(real and rate >= a.min_match, "request by request: fields (name of creates excepted) equal for %d/%d (%.2f%%, need >= %.0f%%)" % (
        good, len(real), 100 * rate, 100 * a.min_match), "; ".join(mism[:5]))
    print("match_rate %d/%d" % (good, len(real)))
    print("strict_match_rate %d/%d (name of creates included)" % (strict, len(real)))
    if a.fields:
        field_table(pairs, res, a.fields_json)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
