#!/usr/bin/env bash
# Measure the etcdserverpb offsets kapimon reads (RangeResponse.Kvs/More/Count, WatchResponse.Events) and
# print the etcd_table[] row of src/plan/offsets_select.c (scripts/go-offsets/etcd/main.go).
# Source: kubernetes 1.20.2's vendor tree (go.etcd.io/etcd v3.4.13), as scripts/gen-module-offsets.sh's
# k8s-1.20.2 set (run that first: it extracts the tree into $KAPIMON_CACHE/modsrc/k8s-1.20.2/gopath).
# Usage: scripts/gen-etcd-offsets.sh      Output: a C row on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${KAPIMON_CACHE:-/var/cache/kapimon}
gopath="$cache/modsrc/k8s-1.20.2/gopath"
goroot=/usr/lib/go-1.19
[ -f "$gopath/modules.txt" ] || { echo "gen-etcd-offsets: run scripts/gen-module-offsets.sh k8s-1.20.2 first" >&2; exit 1; }
[ -x "$goroot/bin/go" ] || { echo "gen-etcd-offsets: no Go 1.19 in $goroot" >&2; exit 1; }
ver=$(awk '$1 == "#" && $2 == "go.etcd.io/etcd" && $3 ~ /^v/ { print $3; exit }' "$gopath/modules.txt")
out="$cache/modsrc/build/etcd-offsets"
rm -rf "$out" && mkdir -p "$out/src/kapimon.test/etcdoffsets"
cp "$here/go-offsets/etcd/main.go" "$out/src/kapimon.test/etcdoffsets/"
(cd "$out/src/kapimon.test/etcdoffsets" && GOROOT="$goroot" GOPATH="$out:$gopath" GO111MODULE=off GOFLAGS='' \
	GOTOOLCHAIN=local CGO_ENABLED=0 GOCACHE="$cache/modsrc/gocache" "$goroot/bin/go" build -o "$out/etcdoffsets" .) >&2
"$out/etcdoffsets" -etcd "$ver"
