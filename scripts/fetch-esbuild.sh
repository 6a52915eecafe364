#!/bin/sh
# Fetch stripped Go binaries of many Go versions: npm's @esbuild/linux-x64 ships esbuild (a Go program)
# as package/bin/esbuild. Caches them as $KAPIMON_CACHE/esbuild/<version>/esbuild (default cache
# /var/cache/kapimon) and prints one path per line, in argument order.
#   scripts/fetch-esbuild.sh 0.15.18 0.17.19 0.23.1 0.24.2 0.28.2
# With no arguments, fetches that default list (Go 1.19.3, 1.20.4, 1.22.5, 1.23.1, 1.26.x), the versions
# tests/unit/test_goelf_real.c and tests/integration/test_esbuild.sh use. Nothing is installed: npm pack
# only downloads the package tarball.
set -eu
CACHE=${KAPIMON_CACHE:-/var/cache/kapimon}/esbuild
[ $# -gt 0 ] || set -- 0.15.18 0.17.19 0.23.1 0.24.2 0.28.2
command -v npm >/dev/null 2>&1 || { echo "fetch-esbuild: npm not found (apt-get install npm)" >&2; exit 1; }
for v in "$@"; do
	case $v in
	*[!0-9.]*|'') echo "fetch-esbuild: bad version '$v' (want e.g. 0.23.1)" >&2; exit 2 ;;
	esac
	dst=$CACHE/$v/esbuild
	if [ ! -s "$dst" ]; then
		tmp=$(mktemp -d)
		trap 'rm -rf "$tmp"' EXIT
		(cd "$tmp" && npm pack --silent "@esbuild/linux-x64@$v" >/dev/null) ||
			{ echo "fetch-esbuild: npm pack @esbuild/linux-x64@$v failed" >&2; exit 1; }
		tar -xzf "$tmp"/esbuild-linux-x64-"$v".tgz -C "$tmp" package/bin/esbuild ||
			{ echo "fetch-esbuild: package/bin/esbuild missing in @esbuild/linux-x64@$v" >&2; exit 1; }
		mkdir -p "$CACHE/$v"
		# a private temporary name, then an atomic rename: concurrent fetches of one version cannot mix
		mv "$tmp/package/bin/esbuild" "$dst.tmp.$$" && chmod 0755 "$dst.tmp.$$" && mv "$dst.tmp.$$" "$dst"
		rm -rf "$tmp"
		trap - EXIT
	fi
	echo "$dst"
done
