#!/usr/bin/env bash
# Get every real binary the tests read into the cache ($KAPIMON_CACHE, default /var/cache/kapimon),
# before any test runs (make test calls it first):
#   kube-apiserver 1.20.2   scripts/build-apiserver.sh  (built from Debian's source: minutes, once)
#   etcd 3.4                scripts/fetch-etcd.sh       (Debian's .deb unpacked, not installed)
#   esbuild (5 Go versions) scripts/fetch-esbuild.sh    (npm)
#   prometheus, promtool    scripts/fetch-prometheus.sh (Debian's .deb unpacked, not installed)
# Each step is cached and idempotent. Prints one line per binary; exits 0 only when all are present.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
rc=0
step() {
	local what=$1 t0=$SECONDS out
	shift
	if out=$("$@"); then
		echo "test binaries: $what: $(echo $out)$( ((SECONDS - t0 > 1)) && echo " ($((SECONDS - t0)) s)")"
	else
		echo "test binaries: $what: FAILED ($*)" >&2
		rc=1
	fi
}
step kube-apiserver scripts/build-apiserver.sh
step etcd scripts/fetch-etcd.sh
step esbuild scripts/fetch-esbuild.sh
step prometheus scripts/fetch-prometheus.sh
exit $rc
