# shellcheck shell=bash
# A private apt configuration in the kapimon cache (sourced by build-apiserver.sh and fetch-etcd.sh):
# its own sources (deb + deb-src of the host's Debian mirror), package lists and binary caches, so
# that downloading Debian's kubernetes source and etcd-server package never edits the host's apt
# configuration (/etc/apt), never refreshes the host's package lists (/var/lib/apt/lists) and never
# rewrites /var/cache/apt/*.bin. apt.conf.d (proxies, mirrors' auth) is still read, as apt itself does.
#
#   apt_private_init CACHE   set APT_PRIVATE (apt-get options) and write CACHE/apt/ once
#   apt_private_update       apt-get update with the private configuration (only its own lists)
#   apt_private ARGS...      apt-get with the private configuration

# The host's Debian mirror and release (read only), for the private sources.
_apt_private_mirror() {
	local uri
	uri=$(grep -rhs '^URIs:.*/debian/\?$' /etc/apt/sources.list.d/*.sources | head -1 | awk '{print $2}')
	[ -n "$uri" ] || uri=$(grep -hs '^deb .*/debian/\? ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
		head -1 | awk '{print $2}')
	echo "${uri:-http://deb.debian.org/debian}"
}

apt_private_init() {
	local dir=$1/apt suite
	suite=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	suite=${suite:-bookworm}
	mkdir -p "$dir/lists/partial" "$dir/sources.list.d" "$dir/archives/partial"
	exec 7>"$dir/.lock" # serialises the private configuration between build-apiserver.sh and fetch-etcd.sh
	flock 7
	: >"$dir/sources.list"
	printf 'Types: deb deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
		"$(_apt_private_mirror)" "$suite" /usr/share/keyrings/debian-archive-keyring.gpg \
		>"$dir/sources.list.d/kapimon.sources.new"
	# a changed mirror or release invalidates the lists
	if ! cmp -s "$dir/sources.list.d/kapimon.sources.new" "$dir/sources.list.d/kapimon.sources"; then
		mv "$dir/sources.list.d/kapimon.sources.new" "$dir/sources.list.d/kapimon.sources"
		rm -f "$dir/lists/"*_Packages* "$dir/lists/"*_Sources* "$dir/lists/"*Release* "$dir/.updated"
	else
		rm -f "$dir/sources.list.d/kapimon.sources.new"
	fi
	flock -u 7
	APT_PRIVATE_DIR=$dir
	APT_PRIVATE=(
		-o "Dir::Etc::sourcelist=$dir/sources.list"
		-o "Dir::Etc::sourceparts=$dir/sources.list.d"
		-o "Dir::State::Lists=$dir/lists"
		-o "Dir::Cache::archives=$dir/archives"
		-o "Dir::Cache::pkgcache="
		-o "Dir::Cache::srcpkgcache="
	)
}

apt_private_update() {
	flock 7 && apt-get "${APT_PRIVATE[@]}" -qq update && touch "$APT_PRIVATE_DIR/.updated"
	local rc=$?
	flock -u 7
	return $rc
}

# apt_private ARGS...: refreshes the private lists on first use
apt_private() {
	[ -e "$APT_PRIVATE_DIR/.updated" ] || apt_private_update || return 1
	apt-get "${APT_PRIVATE[@]}" "$@"
}
