#!/usr/bin/env bash
# Install the Debian packages kapimon needs to build, test and run its testbed.
# Idempotent: only missing packages are installed. See README "Dependencies" for why each one is here.
set -euo pipefail

BUILD_PKGS="make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcapstone-dev libdw-dev \
libncurses-dev libcmocka-dev pkg-config"
TESTBED_PKGS="golang-github-modern-go-reflect2-dev etcd-server etcd-client kubernetes-client openssl nghttp2-client curl golang-go rsync \
dpkg-dev ca-certificates procps iproute2 python3 jq binutils valgrind"

want="$BUILD_PKGS"
case "${1:-all}" in
build) ;;
all) want="$BUILD_PKGS $TESTBED_PKGS" ;;
*) echo "usage: $0 [build|all]" >&2; exit 2 ;;
esac

missing=()
for p in $want; do
	# Any kubectl will do (some images ship Google's, which conflicts with Debian's package).
	if [ "$p" = kubernetes-client ] && command -v kubectl >/dev/null; then continue; fi
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: ${missing[*]} (run 'make deps' as root)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Some postinst scripts (etcd-server's) fail under policy-rc.d in containers; configure and retry once.
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
	dpkg --configure -a >/dev/null 2>&1 || true
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# etcd-server's package starts a system etcd on :2379; the testbed runs its own.
if systemctl is-active --quiet etcd 2>/dev/null; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
