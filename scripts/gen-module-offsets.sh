#!/usr/bin/env bash
# Measure the struct offsets kapimon reads in golang.org/x/net/http2 (server) and google.golang.org/grpc
# (client) for every (x/net, grpc) source set this script can assemble, and print the rows of
# xnet_table[] and grpc_table[] in src/goelf/offsets.c (scripts/go-offsets/modules/main.go reads the
# DWARF of a program built against each set).
#
# Source sets (nothing from GitHub or the Go module proxy: only Debian's archive is reachable here):
#   k8s-1.20.2  kubernetes 1.20.2's vendor tree, from Debian's kubernetes source package (the one
#               scripts/build-apiserver.sh builds; apt-get source, deb-src as that script configures it),
#               extracted under $KAPIMON_CACHE/modsrc/k8s-1.20.2/; versions from its vendor/modules.txt
#   bookworm    golang-golang-x-net-dev 1:0.7.0, golang-google-grpc-dev 1.33.3 and their dependencies
#   trixie      golang-golang-x-net-dev 1:0.27.0, golang-google-grpc-dev 1.64.0, ...
#   sid         golang-golang-x-net-dev 1:0.62.0, golang-google-grpc-dev 1.81.1, ...
# The -dev packages are downloaded (never installed) and extracted with dpkg -x into a private GOPATH
# under $KAPIMON_CACHE/modsrc/<set>/ (their sources are in usr/share/gocode/src/<import path>).
# Debian/sid packages come through the private apt configuration of scripts/fetch-go.sh (run it first:
# scripts/fetch-go.sh 1.24 1.26). Each set is built in GOPATH mode (GO111MODULE=off) with the Go
# toolchain of its era (the suite's own default Go, when present here; see TOOLCHAIN below); a build
# failure is reported on stderr and the set is skipped.
#
# Usage: scripts/gen-module-offsets.sh [set...]      (default: all sets)
#        KAPIMON_GO=1.22 scripts/gen-module-offsets.sh trixie   (another toolchain, to check that the
#        layout does not depend on it)
# Output: C rows on stdout, progress on stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${KAPIMON_CACHE:-/var/cache/kapimon}
msrc="$cache/modsrc"
newer="$cache/apt-newer"
optn=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$newer/sources" -o "Dir::State::Lists=$newer/lists"
	-o "Dir::State::status=$newer/status")

# Go packages each set needs (the program imports x/net/http2 and grpc; the rest are their imports).
declare -A PKGS=(
	[bookworm]="golang-golang-x-net-dev golang-google-grpc-dev golang-google-genproto-dev golang-google-protobuf-dev
		golang-github-golang-protobuf-1-5-dev golang-golang-x-text-dev golang-golang-x-sys-dev"
	[trixie]="golang-golang-x-net-dev golang-google-grpc-dev golang-google-genproto-dev golang-google-protobuf-dev
		golang-github-golang-protobuf-1-5-dev golang-golang-x-text-dev golang-golang-x-sys-dev"
	[sid]="golang-golang-x-net-dev golang-google-grpc-dev golang-google-genproto-dev golang-google-protobuf-dev
		golang-github-golang-protobuf-1-5-dev golang-golang-x-text-dev golang-golang-x-sys-dev"
)
# Go toolchain per set: the suite's default Go (bookworm 1.19, trixie 1.24, sid 1.26), found under
# /usr/lib/go-1.X or $KAPIMON_CACHE/go/golang-1.X/usr/lib/go-1.X.
declare -A TOOLCHAIN=([k8s-1.20.2]=1.19 [bookworm]=1.19 [trixie]=1.24 [sid]=1.26)

log() { echo "gen-module-offsets: $*" >&2; }

goroot_for() {
	local v=$1 d
	for d in "/usr/lib/go-$v" "$cache/go/golang-$v/usr/lib/go-$v"; do
		[ -x "$d/bin/go" ] && { echo "$d"; return 0; }
	done
	return 1
}

# fetch SET: download the set's packages (exact suite) and extract them into $msrc/SET/.
fetch() {
	local set=$1 p deb
	local arch="$msrc/archives/$set"
	mkdir -p "$arch/partial" "$msrc/$set"
	for p in ${PKGS[$set]}; do
		if ! ls "$arch/${p}_"*.deb >/dev/null 2>&1; then
			if [ "$set" = bookworm ]; then
				(cd "$arch" && apt-get -o APT::Sandbox::User=root download -q "$p/bookworm" >/dev/null)
			else
				[ -d "$newer/lists" ] || { log "run scripts/fetch-go.sh first (private apt lists)"; return 1; }
				(cd "$arch" && apt-get "${optn[@]}" -o "Dir::Cache::archives=$arch" -o APT::Sandbox::User=root download -q "$p/$set" >/dev/null)
			fi
		fi
	done
	for deb in "$arch"/*.deb; do
		[ -e "$msrc/$set/.x.$(basename "$deb")" ] && continue
		dpkg -x "$deb" "$msrc/$set"
		touch "$msrc/$set/.x.$(basename "$deb")"
	done
}

# Debian version (epoch, +dfsg, -revision stripped) -> module version; pseudo-versions cannot be
# derived from Debian's 0.0~gitDATE.HASH, so those sets carry the Debian version in the provenance.
modver() { local v=${1#*:}; v=${v%%-*}; v=${v%%+*}; v=${v%%~*}; echo "v$v"; }

# fetch_k8s: Debian's kubernetes source package (1.20.5+really1.20.2) -> $msrc/k8s-1.20.2/gopath, a GOPATH
# whose src/ is the package's vendor/ tree.
fetch_k8s() {
	local d="$msrc/k8s-1.20.2" arch="$msrc/archives/k8s-1.20.2" dsc
	[ -f "$d/gopath/modules.txt" ] && return 0
	mkdir -p "$arch" "$d"
	if ! ls "$arch"/kubernetes_*.dsc >/dev/null 2>&1; then
		(cd "$arch" && apt-get -o APT::Sandbox::User=root source --download-only -q kubernetes/bookworm >/dev/null) ||
			{ log "k8s-1.20.2: apt-get source kubernetes failed (deb-src: see scripts/build-apiserver.sh)"; return 1; }
	fi
	dsc=$(ls "$arch"/kubernetes_*.dsc | head -1)
	case "$dsc" in *really1.20.2*) ;; *) log "k8s-1.20.2: $dsc is not kubernetes 1.20.2"; return 1 ;; esac
	rm -rf "$d/tree" "$d/gopath"
	dpkg-source -x "$dsc" "$d/tree" >/dev/null
	mkdir -p "$d/gopath"
	ln -s ../tree/vendor "$d/gopath/src"
	cp "$d/tree/vendor/modules.txt" "$d/gopath/modules.txt"
}

pkgver() { dpkg-deb -f "$(ls "$msrc/archives/$1/$2_"*.deb | head -1)" Version; }

measure() {
	local set=$1 gopath goroot xnet grpc genp prot gprot extra
	local tc=${KAPIMON_GO:-${TOOLCHAIN[$set]}}
	goroot=$(goroot_for "$tc") || { log "$set: no Go $tc here (scripts/fetch-go.sh)"; return 1; }
	if [ "$set" = k8s-1.20.2 ]; then
		fetch_k8s || return 1
		gopath="$msrc/k8s-1.20.2/gopath"
		mv_() { awk -v m="$1" '$1 == "#" && $2 == m && $3 ~ /^v/ { print $3; exit }' "$gopath/modules.txt"; }
		xnet=$(mv_ golang.org/x/net) grpc=$(mv_ google.golang.org/grpc)
		extra="genproto $(mv_ google.golang.org/genproto), google.golang.org/protobuf $(mv_ google.golang.org/protobuf), github.com/golang/protobuf $(mv_ github.com/golang/protobuf) (kubernetes v1.20.2 vendor/modules.txt)"
	else
		fetch "$set" || return 1
		gopath="$msrc/$set/usr/share/gocode"
		xnet=$(modver "$(pkgver "$set" golang-golang-x-net-dev)")
		grpc=$(modver "$(pkgver "$set" golang-google-grpc-dev)")
		extra="Debian $set golang-golang-x-net-dev $(pkgver "$set" golang-golang-x-net-dev), golang-google-grpc-dev $(pkgver "$set" golang-google-grpc-dev), golang-google-genproto-dev $(pkgver "$set" golang-google-genproto-dev), golang-google-protobuf-dev $(pkgver "$set" golang-google-protobuf-dev), golang-github-golang-protobuf-1-5-dev $(pkgver "$set" golang-github-golang-protobuf-1-5-dev)"
	fi
	local out="$msrc/build/$set-go$tc"
	rm -rf "$out"
	mkdir -p "$out/src/kapimon.test/modoffsets"
	cp "$here/go-offsets/modules/main.go" "$out/src/kapimon.test/modoffsets/"
	log "$set: x/net $xnet, grpc $grpc, $($goroot/bin/go version)"
	if ! (cd "$out/src/kapimon.test/modoffsets" && GOROOT="$goroot" GOPATH="$out:$gopath" GO111MODULE=off GOFLAGS= \
		GOTOOLCHAIN=local CGO_ENABLED=0 GOCACHE="$msrc/gocache" "$goroot/bin/go" build -o "$out/modoffsets" . ) >&2; then
		log "$set: build failed (see above); skipped"
		return 1
	fi
	"$out/modoffsets" -xnet "$xnet" -grpc "$grpc" -set "$set" -src "$extra"
}

sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(k8s-1.20.2 bookworm trixie sid)
rc=0
for s in "${sets[@]}"; do
	measure "$s" || rc=1
done
exit $rc
