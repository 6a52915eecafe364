#!/usr/bin/env bash
# No secret value leaves the apiserver (issue 9): during `kapimon record --pid <apiserver>`, Secrets and a
# ConfigMap are created and updated with fresh random values (text and binary, one larger than kapimon's
# 511-byte copy bound); the values must be in no output (records file, stderr) and not in kapimon's memory:
# `gcore` dumps the running kapimon after it has recorded the etcd calls that carried them, and the dump is
# searched for every value, raw and base64.
#
# Controls that make the absence meaningful:
#   - kapimon recorded a txn on every object's etcd key, and its req_size covers the value (the message
#     carrying the value went through the probe);
#   - the values are in etcd's write-ahead log in the clear (no encryption at rest: the request messages
#     the probe saw held them);
#   - the dump is a core of kapimon (it holds the output path kapimon was given).
# Needs root, gdb (gcore), ./kapimon and the testbed env (tests/integration/run.sh exports it).
# Artefacts in $KAPIMON_TEST_OUT/secrets (default build/test-out/secrets); the core is deleted.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)" || exit 1
# shellcheck source=tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"
T_NAME=test_secrets
OUT=${KAPIMON_TEST_OUT:-$ROOT/build/test-out}/secrets
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
chmod 700 "$OUT"
RUN=$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')
NS=default
NAMES=()
KPID=""

cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	for n in "${NAMES[@]}"; do
		case $n in
		cm-*) kctl -n "$NS" delete configmap "kapimon-sec-$RUN-$n" --wait=false >/dev/null 2>&1 ;;
		*) kctl -n "$NS" delete secret "kapimon-sec-$RUN-$n" --wait=false >/dev/null 2>&1 ;;
		esac
	done
	rm -f "$OUT"/core* "$OUT/admin.hdr"
}
trap cleanup EXIT

command -v gcore >/dev/null || abort "gcore (gdb) is installed" "gcore not found: apt-get install gdb"

# ---- values: fresh random text and binary values, one per (object, version, data key) -------------------
VALUES=$OUT/values.json # hex of every value (the test's own artefact; deleted at the end)
BODIES=$OUT/bodies
mkdir -p "$BODIES"
python3 - "$VALUES" "$BODIES" "$RUN" "$NS" <<'PY' || abort "generate values"
import base64, json, os, secrets, string, sys
values_path, bodies, run, ns = sys.argv[1:5]
alnum = string.ascii_letters + string.digits
values = []
def text(n):
    v = ("kpv" + "".join(secrets.choice(alnum) for _ in range(n))).encode()
    values.append(v)
    return v
def binary(n):
    # binary-ish: NULs, high bytes, newlines, between random bytes; never valid as text
    v = b"\x00\xff\n" + os.urandom(n) + b"\x80\x00"
    values.append(v)
    return v
b64 = lambda v: base64.b64encode(v).decode()
objs = []
# secrets s1..s3 (small values), s4 with 2 KB + 1 KB values: created, then replaced with new values
for i in range(1, 5):
    name = "s%d" % i
    for ver in ("create", "update"):
        big = i == 4
        data = {"token": b64(text(2000 if big else 40)), "blob": b64(binary(1000 if big else 48))}
        objs.append((name, ver, {"apiVersion": "v1", "kind": "Secret",
                                 "metadata": {"name": "kapimon-sec-%s-%s" % (run, name), "namespace": ns},
                                 "type": "Opaque", "data": data}))
# stringData is stored the same way (as data)
objs.append(("s5", "create", {"apiVersion": "v1", "kind": "Secret",
                              "metadata": {"name": "kapimon-sec-%s-s5" % run, "namespace": ns},
                              "stringData": {"password": text(64).decode()}}))
for ver in ("create", "update"):
    objs.append(("cm-1", ver, {"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "kapimon-sec-%s-cm-1" % run, "namespace": ns},
                               "data": {"config": text(80).decode()},
                               "binaryData": {"bin": b64(binary(64))}}))
for k, (name, ver, body) in enumerate(objs):
    with open(os.path.join(bodies, "%02d-%s-%s.json" % (k, name, ver)), "w") as f:
        json.dump(body, f)
with open(values_path, "w") as f:
    json.dump([v.hex() for v in values], f)
PY
_ok "generated $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$VALUES") random values (text and binary)"

printf 'Authorization: Bearer %s\n' "$KAPIMON_TOKEN" >"$OUT/admin.hdr" && chmod 600 "$OUT/admin.hdr"
# send FILE: create (POST) or replace (PUT) the object in FILE; prints the HTTP status
send() {
	local f=$1 base kind name verb path
	base=$(basename "$f" .json)
	name=${base#*-}
	verb=${name##*-}
	name=${name%-*}
	case $name in cm-*) kind=configmaps ;; *) kind=secrets ;; esac
	path=/api/v1/namespaces/$NS/$kind
	if [ "$verb" = update ]; then
		curl -sS -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$KAPIMON_CA" -H "@$OUT/admin.hdr" \
			-H 'Content-Type: application/json' -X PUT --data-binary "@$f" \
			"$KAPIMON_APISERVER_URL$path/kapimon-sec-$RUN-$name"
	else
		curl -sS -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$KAPIMON_CA" -H "@$OUT/admin.hdr" \
			-H 'Content-Type: application/json' -X POST --data-binary "@$f" "$KAPIMON_APISERVER_URL$path"
	fi
}

# ---- record while the values are written --------------------------------------------------------------
REC=$OUT/records.jsonl
ERR=$OUT/kapimon.stderr
"$KAPIMON" record --pid "$KAPIMON_APISERVER_PID" -o "$REC" --stats-interval 1 2>"$ERR" &
KPID=$!
attached() { kill -0 "$KPID" 2>/dev/null && grep -q attached "$ERR"; }
wait_for "kapimon record attached" 60 attached || abort "" ""

for f in "$BODIES"/*.json; do
	base=$(basename "$f" .json)
	n=${base#*-}
	n=${n%-*}
	[[ " ${NAMES[*]} " == *" $n "* ]] || NAMES+=("$n")
	want=201
	[[ $base == *-update ]] && want=200
	check_eq "write $base" "$want" "$(send "$f")"
done

# every object's writes were recorded: etcd txn records on its key (awaited: records are flushed each second)
keys_recorded() {
	python3 - "$REC" "$RUN" "$NS" "$BODIES" <<'PY'
import collections, json, os, sys
rec, run, ns, bodies = sys.argv[1:5]
want = collections.Counter()
for f in os.listdir(bodies):
    name = f[3:-5].rsplit("-", 1)[0]
    kind = "configmaps" if name.startswith("cm-") else "secrets"
    want["/registry/%s/%s/kapimon-sec-%s-%s" % (kind, ns, run, name)] += 1
got = collections.Counter()
for line in open(rec):
    try:
        r = json.loads(line)
    except ValueError:
        continue  # a line being written
    if r.get("kind") == "etcd" and r.get("op") == "txn" and r.get("key") in want:
        got[r["key"]] += 1
sys.exit(0 if all(got[k] >= n for k, n in want.items()) else 1)
PY
}
wait_for "kapimon recorded a txn on each object's key for each write" 30 keys_recorded

# ---- kapimon's memory, while it runs ---------------------------------------------------------------------
CORE=$OUT/core.$KPID
if gcore -o "$OUT/core" "$KPID" >"$OUT/gcore.log" 2>&1 && [ -s "$CORE" ]; then
	_ok "gcore dumped the running kapimon ($(($(stat -c %s "$CORE") / 1048576)) MiB)"
else
	abort "gcore dumped the running kapimon" "$(tail -n 5 "$OUT/gcore.log")"
fi
check "kapimon still runs after gcore" kill -0 "$KPID"

kill -INT "$KPID"
wait_for "kapimon exits after SIGINT" 30 exited "$KPID"
wait "$KPID"
rc=$?
KPID=""
check_eq "kapimon record exit status" 0 "$rc"

# ---- search ------------------------------------------------------------------------------------------------
python3 - "$VALUES" "$REC" "$ERR" "$CORE" \
	"$KAPIMON_TESTBED_DIR/etcd" "$RUN" "$NS" >"$OUT/search.out" 2>&1 <<'PY' 
import base64, glob, json, os, sys
values_path, rec, err, core, etcd_dir, run, ns = sys.argv[1:8]
values = [bytes.fromhex(h) for h in json.load(open(values_path))]
def forms(v):
    # the raw bytes, their base64 (as in the JSON the client sent), and for long values a few 48-byte pieces
    out = [v, base64.b64encode(v)]
    if len(v) > 96:
        out += [v[i:i + 48] for i in range(0, len(v) - 48, len(v) // 4)]
    return out
def found(data):
    return [(i, f[:12]) for i, v in enumerate(values) for f in forms(v) if f in data]
def ok(desc):
    print("ok\t%s" % desc)
def fail(desc, detail):
    print("FAIL\t%s\t%s" % (desc, detail))

# control: the values crossed the etcd client in the clear (etcd's WAL holds them)
wal = b"".join(open(p, "rb").read() for p in glob.glob(os.path.join(etcd_dir, "member", "wal", "*.wal")))
in_wal = sum(1 for v in values if v in wal)
if in_wal == len(values):
    ok("control: all %d values are in etcd's WAL in the clear (the probed requests carried them)" % len(values))
else:
    fail("control: values are in etcd's WAL in the clear", "%d of %d found" % (in_wal, len(values)))

# control: kapimon saw the messages that carried them (req_size covers the value)
recs = [json.loads(l) for l in open(rec)]
etcd = [r for r in recs if r.get("kind") == "etcd" and "kapimon-sec-%s-" % run in r.get("key", "")]
big = [r for r in etcd if r["key"].endswith("-s4") and r.get("op") == "txn"]
if big and all(r.get("req_size", 0) >= 3000 for r in big):
    ok("control: the txns writing s4 (3 KB of values) were seen whole (req_size %s)" % sorted({r["req_size"] for r in big}))
else:
    fail("control: the txns writing s4 were seen", json.dumps(big)[:300])

for name, path in (("records file", rec), ("stderr", err)):
    hits = found(open(path, "rb").read())
    if hits:
        fail("no value in the %s" % name, "%d hits, e.g. value %d (%r...)" % (len(hits), hits[0][0], hits[0][1]))
    else:
        ok("no value (raw or base64) in the %s (%d bytes)" % (name, os.path.getsize(path)))

data = open(core, "rb").read()
if rec.encode() in data:
    ok("control: the dump is kapimon's memory (it holds the output path)")
else:
    fail("control: the dump is kapimon's memory", "output path not in %s" % core)
hits = found(data)
if hits:
    fail("no value in kapimon's memory (gcore)",
         "%d hits in %d MiB: values %s" % (len(hits), len(data) >> 20, sorted({h[0] for h in hits})))
else:
    ok("no value (raw or base64) in kapimon's memory (gcore, %d MiB, %d values)" % (len(data) >> 20, len(values)))
PY
[ -s "$OUT/search.out" ] || _fail "search produced no result"
report <"$OUT/search.out"
rm -f "$OUT"/core* "$VALUES"
rm -rf "$BODIES"
finish
