#!/usr/bin/env bash
# etcd watch streams are accounted as streams: the first request for a new custom resource makes
# the apiserver build its storage and open an etcd watch on the resource's prefix. kapimon must
# record that WatchCreateRequest as a stream message (not a unary call) with the right key, group
# and resource, and count the stream in its stats.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

out=$(mktemp -d)
plural="kw$$x$RANDOM"
trap 'kill "$kp" 2>/dev/null; kctl delete crd "$plural.kapimon.test" --wait=false >/dev/null 2>&1; rm -rf "$out"' EXIT

cat >"$out/crd.yaml" <<YAML
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: $plural.kapimon.test
spec:
  group: kapimon.test
  names: {kind: Kw$$, plural: $plural, singular: ${plural}s}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
YAML
check "create a CRD" kctl apply -f "$out/crd.yaml"
wait_for "the CRD is established" 60 kctl wait --for=condition=Established --timeout=1s "crd/$plural.kapimon.test"

"$KAPIMON" record --pid "$KAPIMON_APISERVER_PID" -o "$out/rec.jsonl" 2>"$out/err" &
kp=$!
wait_for "record attached" 30 grep -q attached "$out/err"
# The first request for the custom resource instantiates its storage (and its etcd watch).
list_cr() { api "/apis/kapimon.test/v1/namespaces/default/$plural" -o /dev/null -w '%{http_code}' | grep -q 200; }
wait_for "list the custom resource (200)" 60 list_cr
watch_seen() { grep -q "\"key\":\"/registry/kapimon.test/$plural/\"" "$out/rec.jsonl"; }
wait_for "kapimon wrote the etcd watch on the new resource's prefix" 30 watch_seen
# events received on the apiserver's watches: each configmap write comes back as a watch event
NCM=5
for i in $(seq 1 $NCM); do kctl -n default create configmap "kw-$$-$i" >/dev/null 2>&1 || true; done
for i in $(seq 1 $NCM); do kctl -n default delete configmap "kw-$$-$i" --wait=false >/dev/null 2>&1 || true; done
# a later request through the same apiserver: once kapimon has written it, the earlier watch
# events (delivered within milliseconds of each write) have been read too
marker_seen() { grep -q "kapimon-watch-marker-$$" "$out/rec.jsonl"; }
api /api/v1/namespaces/default/configmaps -A "kapimon-watch-marker-$$" -o /dev/null
wait_for "a later marker request is recorded" 30 marker_seen
kill -INT "$kp"
wait "$kp"
check_eq "record exits 0" 0 "$?"

res=$(python3 - "$out/rec.jsonl" "$plural" <<'PY'
import json, sys
w = None; stats = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["kind"] == "etcd" and r.get("key") == "/registry/kapimon.test/%s/" % sys.argv[2]:
        if r.get("method") == "/etcdserverpb.Watch/Watch":
            w = r
    elif r["kind"] == "stats":
        stats = r
print(json.dumps({"watch": w, "etcd": (stats or {}).get("etcd", {})}))
PY
)
echo "  result: $res"
check_eq "it is a Watch stream message" true "$(json_get "$res" 'd["watch"] is not None and d["watch"].get("stream") is True')"
check_eq "op is watch" watch "$(json_get "$res" 'd["watch"]["op"]')"
check_eq "resource from the key" "$plural" "$(json_get "$res" 'd["watch"]["resource"]')"
check_eq "group from the key" kapimon.test "$(json_get "$res" 'd["watch"]["group"]')"
check_eq "range_end covers the prefix" "/registry/kapimon.test/${plural}0" "$(json_get "$res" 'd["watch"]["range_end"]')"
check_ge "stats count the stream" 1 "$(json_get "$res" 'd["etcd"]["streams"]')"
check_ge "stats count stream messages" 1 "$(json_get "$res" 'd["etcd"]["stream_messages"]')"
check_ge "watch events received for configmaps >= the $((2 * NCM)) writes" $((2 * NCM)) \
	"$(json_get "$res" 'd["etcd"]["watch_events_by_resource"].get("configmaps", 0)')"
check_ge "watch responses counted" 1 "$(json_get "$res" 'd["etcd"]["watch_responses"]')"
finish
