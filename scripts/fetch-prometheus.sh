#!/usr/bin/env bash
# Fetch Debian's Prometheus server and promtool for the tests WITHOUT installing the prometheus
# package: installing it would create a system user and enable and start prometheus.service (a
# system Prometheus on :9090 scraping the host). Instead the .deb is downloaded (apt-get download,
# through the private apt configuration of scripts/apt-private.sh) and unpacked with dpkg-deb -x into
# the cache; nothing is installed, configured or started. Same scheme as scripts/fetch-etcd.sh.
# Prints the path of the cached server binary: $KAPIMON_CACHE/prometheus/usr/bin/prometheus (default
# cache /var/cache/kapimon); promtool is next to it; $KAPIMON_CACHE/prometheus/VERSION holds the
# package version.
set -euo pipefail

CACHE=${KAPIMON_CACHE:-/var/cache/kapimon}
DIR=$CACHE/prometheus
OUT=$DIR/usr/bin/prometheus
log() { echo "fetch-prometheus: $*" >&2; }
cached() { [ -x "$OUT" ] && [ -x "$DIR/usr/bin/promtool" ]; }

if cached; then
	echo "$OUT"
	exit 0
fi
mkdir -p "$CACHE" || { log "cannot create $CACHE (run as root, or set KAPIMON_CACHE)"; exit 1; }
exec 9>"$CACHE/.fetch-prometheus.lock"
flock 9
if cached; then echo "$OUT"; exit 0; fi

. "$(dirname "${BASH_SOURCE[0]}")/apt-private.sh"
apt_private_init "$CACHE"
tmp=$(mktemp -d "$CACHE/.prometheus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "downloading Debian's prometheus package (not installing it)"
(cd "$tmp" && { apt_private download prometheus >/dev/null 2>&1 ||
	{ apt_private_update && apt_private download prometheus >&2; }; }) ||
	{ log "apt-get download prometheus failed"; exit 1; }
deb=$(ls "$tmp"/prometheus_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { log "no prometheus .deb downloaded"; exit 1; }
mkdir -p "$tmp/x"
dpkg-deb -x "$deb" "$tmp/x"
for b in prometheus promtool; do
	[ -x "$tmp/x/usr/bin/$b" ] || { log "$deb has no usr/bin/$b"; exit 1; }
	"$tmp/x/usr/bin/$b" --version >/dev/null 2>&1 || { log "the unpacked $b does not run"; exit 1; }
done
dpkg-deb -f "$deb" Version >"$tmp/x/VERSION"
rm -rf "$DIR"
mv "$tmp/x" "$DIR"
log "cached $OUT and promtool (prometheus $(cat "$DIR/VERSION"))"
echo "$OUT"
