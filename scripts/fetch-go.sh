#!/usr/bin/env bash
# Extract Go toolchains that Debian ships in newer suites (golang-1.24 in trixie, golang-1.26 in sid)
# under $KAPIMON_CACHE/go/<pkg>/ without installing them, for scripts/gen-go-offsets.sh. Only needed
# to regenerate the offsets table; the build and tests never need it.
set -euo pipefail
cache=${KAPIMON_CACHE:-/var/cache/kapimon}
root="$cache/apt-newer"
mkdir -p "$root/lists/partial" "$root/archives/partial" "$root/sources" "$cache/go"
printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: sid trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
	>"$root/sources/newer.sources"
touch "$root/status"
opt=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$root/sources" -o "Dir::State::Lists=$root/lists"
	-o "Dir::State::status=$root/status" -o "Dir::Cache::archives=$root/archives")
apt-get "${opt[@]}" update -qq
cd "$root/archives"
for v in "$@"; do
	apt-get "${opt[@]}" download "golang-$v-go" "golang-$v-src" >/dev/null 2>&1
	for deb in golang-"$v"-*.deb; do dpkg -x "$deb" "$cache/go/golang-$v"; done
	echo "$cache/go/golang-$v/usr/lib/go-$v"
done
