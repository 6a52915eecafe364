#!/usr/bin/env python3
"""Compare the user and groups of `kapimon record` output with the kube-apiserver audit log.

    compare_identity.py --audit AUDIT.log --records RECORDS.jsonl --ua-prefix PREFIX [--min-match 0.99]
                        [--json OUT.json]

Audit requests: the events whose userAgent starts with PREFIX (one per auditID: ResponseComplete, or
ResponseStarted for the 401s, which are audited at that stage only). Each is joined with the record of the
same user agent, method-derived verb, request target and start time: kapimon's "ts" of a request started
after authentication is the apiserver's own received timestamp, so it must equal the audit log's
requestReceivedTimestamp (microseconds, truncated); the join allows --ts-tol-us (default 0) of difference.
Checks (exit 1 when one fails):
  - joined audit requests >= --min-match of the audit requests;
  - among the joined: "user" equals user.username for >= --min-match, "groups" equals user.groups for
    >= --min-match; unauthenticated requests (audit without a username: the 401s) have no "user";
  - every record with the prefix has "user" unless its status is 401.
Prints counts per (user, status) and the mismatches.
"""
import argparse
import calendar
import collections
import json
import re
import sys

TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$")


def ts_ns(s):
    m = TS_RE.match(s or "")
    if not m:
        raise ValueError("bad timestamp %r" % (s,))
    y, mo, d, h, mi, sec, frac = m.groups()
    return calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(sec), 0, 0, 0)) * 10**9 + \
        int((frac or "").ljust(9, "0"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--audit", required=True)
    ap.add_argument("--records", required=True)
    ap.add_argument("--ua-prefix", required=True)
    ap.add_argument("--min-match", type=float, default=0.99)
    ap.add_argument("--ts-tol-us", type=int, default=0)
    ap.add_argument("--json")
    a = ap.parse_args()

    events = {}
    for line in open(a.audit):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if not str(e.get("userAgent", "")).startswith(a.ua_prefix):
            continue
        st = e.get("stage")
        code = (e.get("responseStatus") or {}).get("code")
        if st == "ResponseComplete" or (st == "ResponseStarted" and code == 401):
            events[e["auditID"]] = e
    recs, bad = [], 0
    for line in open(a.records):
        try:
            r = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if r.get("kind") == "request" and str(r.get("user_agent", "")).startswith(a.ua_prefix):
            recs.append(r)

    # records by (user agent, path, verb, ts in microseconds)
    by_key = collections.defaultdict(list)
    for r in recs:
        by_key[(r["user_agent"], r["path"], r["verb"])].append(r)
    used = set()
    joined, unjoined, user_ok, groups_ok, anon_ok, anon = [], [], 0, 0, 0, 0
    diffs_us = []
    for e in sorted(events.values(), key=lambda e: e["requestReceivedTimestamp"]):
        t = ts_ns(e["requestReceivedTimestamp"]) // 1000
        best = None
        for r in by_key.get((e["userAgent"], e["requestURI"], e["verb"]), []):
            if id(r) in used:
                continue
            d = abs(ts_ns(r["ts"]) // 1000 - t)
            if d <= a.ts_tol_us and (best is None or d < best[0]):
                best = (d, r)
        if best is None:
            unjoined.append(e)
            continue
        used.add(id(best[1]))
        r = best[1]
        diffs_us.append(ts_ns(r["ts"]) / 1000 - ts_ns(e["requestReceivedTimestamp"]) / 1000)
        joined.append((e, r))
        au = (e.get("user") or {}).get("username")
        if not au:
            anon += 1
            anon_ok += "user" not in r and "groups" not in r
            continue
        user_ok += r.get("user") == au
        groups_ok += r.get("groups") == (e.get("user") or {}).get("groups", [])

    n_aud, n_join = len(events), len(joined)
    n_auth = n_join - anon
    no_user = [r for r in recs if r.get("status") != 401 and "user" not in r and not r.get("ongoing")]
    with_user_401 = [r for r in recs if r.get("status") == 401 and "user" in r]
    per = collections.Counter((r.get("user", "-"), r.get("status")) for _, r in joined)
    checks = [
        (bad == 0, "every record line is JSON (%d bad)" % bad),
        (n_aud > 0 and n_join >= a.min_match * n_aud,
         "audit requests joined by user agent, path, verb and start time (ts == requestReceivedTimestamp "
         "+- %d us): %d of %d" % (a.ts_tol_us, n_join, n_aud)),
        (n_auth > 0 and user_ok >= a.min_match * n_auth,
         "user == audit user.username: %d of %d authenticated" % (user_ok, n_auth)),
        (n_auth > 0 and groups_ok >= a.min_match * n_auth,
         "groups == audit user.groups: %d of %d authenticated" % (groups_ok, n_auth)),
        (anon > 0 and anon_ok == anon, "unauthenticated (401) requests carry no user: %d of %d" % (anon_ok, anon)),
        (not no_user, "every finished non-401 record has a user (%d without)" % len(no_user)),
        (not with_user_401, "no 401 record has a user (%d with)" % len(with_user_401)),
    ]
    for (u, s), n in sorted(per.items(), key=lambda x: (str(x[0][0]), x[0][1] or 0)):
        print("  %-45s %3s  %d" % (u, s, n))
    if diffs_us:
        ds = sorted(diffs_us)
        print("  ts - requestReceivedTimestamp (us): min %.3f median %.3f max %.3f" %
              (ds[0], ds[len(ds) // 2], ds[-1]))
    for e in unjoined[:10]:
        print("  unjoined audit: %s %s %s %s %s" % (e["requestReceivedTimestamp"], e["verb"], e["requestURI"],
                                                 e["userAgent"], (e.get("user") or {}).get("username")))
    for e, r in joined:
        au = (e.get("user") or {}).get("username")
        if au and (r.get("user") != au or r.get("groups") != e["user"].get("groups", [])):
            print("  mismatch: audit %s %s, record %s %s (%s)" % (au, e["user"].get("groups"), r.get("user"),
                                                               r.get("groups"), r["path"]))
    ok = True
    for good, desc in checks:
        print("%s\t%s" % ("ok" if good else "FAIL", desc))
        ok &= bool(good)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"audit": n_aud, "joined": n_join, "authenticated": n_auth, "user_ok": user_ok,
                       "groups_ok": groups_ok, "anonymous": anon, "anonymous_ok": anon_ok,
                       "ts_diff_us": diffs_us[:2000]}, f)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
