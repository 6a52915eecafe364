#!/usr/bin/env bash
# Build kube-apiserver 1.20.2 from Debian's kubernetes source package, stripped like a release
# build (-s -w), and cache it. Prints the path of the cached binary on stdout.
# Only the first run pays the build (~5-10 min on 2 cores). Needs root (writes /var/cache/kapimon) unless
# KAPIMON_CACHE points elsewhere; never edits the host's apt configuration (scripts/apt-private.sh).
set -euo pipefail

CACHE=${KAPIMON_CACHE:-/var/cache/kapimon}
OUT="$CACHE/kube-apiserver-1.20.2"
# Bump when the build recipe changes: a cached binary from another recipe is rebuilt.
#   2: vendored github.com/modern-go/reflect2 v1.0.1 replaced by Debian's v1.0.2 (v1.0.1 crashes
#      under Go >= 1.18 when the apiserver pretty-prints JSON: curl user agents, ?pretty=true)
RECIPE=2
cached() { [ -x "$OUT" ] && [ "$(cat "$OUT.recipe" 2>/dev/null)" = "$RECIPE" ]; }
if cached; then
	echo "$OUT"
	exit 0
fi
mkdir -p "$CACHE"
exec 9>"$CACHE/.build-apiserver.lock"
flock 9
if cached; then echo "$OUT"; exit 0; fi

log() { echo "build-apiserver: $*" >&2; }
# Debian's source package through a private apt configuration in the cache (scripts/apt-private.sh):
# the host's /etc/apt and package lists are never touched.
. "$(dirname "${BASH_SOURCE[0]}")/apt-private.sh"
apt_private_init "$CACHE"
work="$CACHE/src"
rm -rf "$work"
mkdir -p "$work"
cd "$work"
log "downloading Debian's kubernetes source package"
# (a failure may be stale private lists: refresh them once and retry, showing apt's messages)
apt_private source --download-only kubernetes >/dev/null 2>&1 ||
	{ apt_private_update && apt_private source --download-only kubernetes >&2; }
dsc=$(ls kubernetes_*.dsc | head -1)
dpkg-source -x "$dsc" tree >/dev/null
cd tree
grep -q 'gitVersion\|1\.20' debian/changelog 2>/dev/null || true
r2=/usr/share/gocode/src/github.com/modern-go/reflect2
if [ -f "$r2/reflect2.go" ] && [ -d vendor/github.com/modern-go/reflect2 ]; then
	log "replacing vendored reflect2 v1.0.1 with Debian's $(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev 2>/dev/null)"
	rm -rf vendor/github.com/modern-go/reflect2
	cp -r "$r2" vendor/github.com/modern-go/reflect2
	rm -f vendor/github.com/modern-go/reflect2/*_test.go
else
	log "warning: golang-github-modern-go-reflect2-dev not installed: keeping reflect2 v1.0.1 (crashes on pretty JSON)"
fi
mkdir -p .go/src/k8s.io
ln -sfn ../../.. .go/src/k8s.io/kubernetes
log "building (GOPATH mode, CGO_ENABLED=0, -s -w); this takes several minutes"
cd .go/src/k8s.io/kubernetes
GOPATH=$PWD/../../.. GO111MODULE=off CGO_ENABLED=0 GOFLAGS= \
	KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_TREE_STATE=clean \
	make WHAT=cmd/kube-apiserver GOLDFLAGS='-s -w' >&2
bin=$(find "$work/tree/_output" -type f -name kube-apiserver | head -1)
[ -x "$bin" ] || { log "build produced no kube-apiserver"; exit 1; }
install -m 0755 "$bin" "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "$RECIPE" >"$OUT.recipe"
rm -rf "$work"
log "cached $OUT"
echo "$OUT"
