#!/usr/bin/env bash
# Measure net/http's struct offsets (HTTP/1 + bundled HTTP/2) with every Go toolchain found here and
# print the rows of go_table[] in src/goelf/offsets.c. Toolchains: Debian's golang-1.X-go packages
# (/usr/lib/go-1.X) and any extracted under $KAPIMON_CACHE/go/ (scripts/fetch-go.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${KAPIMON_CACHE:-/var/cache/kapimon}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for goroot in /usr/lib/go-1.* "$cache"/go/*/usr/lib/go-1.*; do
	[ -x "$goroot/bin/go" ] || continue
	v=$(basename "$goroot")
	mkdir -p "$out/$v"
	cp "$here/go-offsets/main.go" "$out/$v/"
	(cd "$out/$v" && GOROOT="$goroot" GO111MODULE=off GOFLAGS= GOTOOLCHAIN=local CGO_ENABLED=0 \
		"$goroot/bin/go" build -o offsets main.go) >&2
	# where the toolchain comes from, for the row's provenance: its Debian package (installed, or
	# extracted by scripts/fetch-go.sh under $KAPIMON_CACHE/go/)
	pkg=$(dpkg-query -S "$goroot/bin/go" 2>/dev/null | cut -d: -f1 | head -1)
	if [ -n "$pkg" ]; then
		pkg="$pkg $(dpkg-query -W -f='${Version}' "$pkg")"
	else
		pkg="$(basename "$(dirname "$(dirname "$(dirname "$goroot")")")")-go, extracted by scripts/fetch-go.sh"
	fi
	"$out/$v/offsets" -pkg "$pkg"
done
