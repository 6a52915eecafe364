#!/usr/bin/env bash
# Install the Debian packages kapimon needs to build, test and run its testbed.
# Idempotent: only missing packages are installed. See README "Dependencies" for why each one is here.
#
# Host safety: none of these packages starts a service. The testbed's etcd is NOT installed as a
# package (Debian's etcd-server would start a system etcd on :2379, the port of a control plane's own
# etcd): scripts/fetch-etcd.sh unpacks its binary into /var/cache/kapimon instead. This script never
# starts, stops, enables, disables or reconfigures a service, and never edits apt's configuration.
set -euo pipefail

BUILD_PKGS="make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcapstone-dev libdw-dev \
libncurses-dev libcmocka-dev pkg-config"
TESTBED_PKGS="golang-github-modern-go-reflect2-dev etcd-client kubernetes-client openssl nghttp2-client curl golang-go \
rsync dpkg-dev ca-certificates procps iproute2 python3 jq binutils tmux npm util-linux valgrind gdb"

want="$BUILD_PKGS"
case "${1:-all}" in
build) ;;
all) want="$BUILD_PKGS $TESTBED_PKGS" ;;
*) echo "usage: $0 [build|all]" >&2; exit 2 ;;
esac

missing=()
for p in $want; do
	# Any kubectl will do (some images ship Google's, which conflicts with Debian's package); any npm too
	# (NodeSource's nodejs ships its own npm and conflicts with Debian's).
	if [ "$p" = kubernetes-client ] && command -v kubectl >/dev/null; then continue; fi
	if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
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
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
