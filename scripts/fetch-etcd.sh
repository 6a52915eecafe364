#!/usr/bin/env bash
# Fetch Debian's etcd server binary for the testbed WITHOUT installing the etcd-server package:
# installing it would start a system etcd on 127.0.0.1:2379 (its postinst enables and starts
# etcd.service), the port of a control plane's own etcd on the same host. Instead the .deb is
# downloaded (apt-get download, through the private apt configuration of scripts/apt-private.sh) and
# unpacked with dpkg-deb -x into the cache; nothing is installed, configured or started.
# Prints the path of the cached binary: $KAPIMON_CACHE/etcd/usr/bin/etcd (default cache
# /var/cache/kapimon); $KAPIMON_CACHE/etcd/VERSION holds the package version.
set -euo pipefail

CACHE=${KAPIMON_CACHE:-/var/cache/kapimon}
OUT=$CACHE/etcd/usr/bin/etcd
log() { echo "fetch-etcd: $*" >&2; }

if [ -x "$OUT" ]; then
	echo "$OUT"
	exit 0
fi
mkdir -p "$CACHE" || { log "cannot create $CACHE (run as root, or set KAPIMON_CACHE)"; exit 1; }
exec 9>"$CACHE/.fetch-etcd.lock"
flock 9
if [ -x "$OUT" ]; then echo "$OUT"; exit 0; fi

. "$(dirname "${BASH_SOURCE[0]}")/apt-private.sh"
apt_private_init "$CACHE"
tmp=$(mktemp -d "$CACHE/.etcd.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "downloading Debian's etcd-server package (not installing it)"
(cd "$tmp" && { apt_private download etcd-server >/dev/null 2>&1 ||
	{ apt_private_update && apt_private download etcd-server >&2; }; }) ||
	{ log "apt-get download etcd-server failed"; exit 1; }
deb=$(ls "$tmp"/etcd-server_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { log "no etcd-server .deb downloaded"; exit 1; }
mkdir -p "$tmp/x"
dpkg-deb -x "$deb" "$tmp/x"
[ -x "$tmp/x/usr/bin/etcd" ] || { log "$deb has no usr/bin/etcd"; exit 1; }
"$tmp/x/usr/bin/etcd" --version >/dev/null || { log "the unpacked etcd does not run"; exit 1; }
dpkg-deb -f "$deb" Version >"$tmp/x/VERSION"
rm -rf "$CACHE/etcd"
mv "$tmp/x" "$CACHE/etcd"
log "cached $OUT (etcd-server $(cat "$CACHE/etcd/VERSION"))"
echo "$OUT"
