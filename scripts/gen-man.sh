#!/usr/bin/env bash
# gen-man.sh KAPIMON [VERSION] > kapimon.1 — a troff man page made from the binary's own help:
# `KAPIMON --help` and `KAPIMON COMMAND --help` for every command listed under "Commands:".
# The help text is kept verbatim (no-fill blocks), so the man page can never disagree with --help.
set -euo pipefail
bin=${1:?usage: gen-man.sh KAPIMON [VERSION]}
version=${2:-}
[ -x "$bin" ] || { echo "gen-man.sh: $bin is not an executable" >&2; exit 1; }

# troff-escape one block of text: backslashes, and lines starting with '.' or "'" (control lines)
esc() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
help() { "$bin" "$@" --help 2>&1 || true; } # help may exit non-zero or print on stderr

top=$(help)
[ -n "$top" ] || { echo "gen-man.sh: '$bin --help' printed nothing" >&2; exit 1; }
cmds=$(printf '%s\n' "$top" | awk '/^Commands:/ {f=1; next} f && /^  [a-z]/ {print $1} f && /^$/ {f=0}')
[ -n "$cmds" ] || { echo "gen-man.sh: no 'Commands:' list in '$bin --help'" >&2; exit 1; }

printf '.TH KAPIMON 1 "" "kapimon%s" "User Commands"\n' "${version:+ $version}"
printf '.SH NAME\nkapimon \\- %s\n' "$(printf '%s\n' "$top" | sed -n '3p' | sed 's/\.$//' | esc)"
printf '.SH SYNOPSIS\n.nf\n%s\n.fi\n' "$(printf '%s\n' "$top" | sed -n 's/^Usage: //p' | esc)"
printf '.SH DESCRIPTION\n.nf\n%s\n.fi\n' "$(printf '%s\n' "$top" | sed '1,2d' | esc)"
printf '.SH COMMANDS\n'
for c in $cmds; do
	printf '.SS %s\n.nf\n%s\n.fi\n' "$c" "$(help "$c" | esc)"
done
printf '.SH SEE ALSO\nThe documentation in the kapimon source tree: README.md and docs/ (docs/agent.md, docs/deploy.md).\n'
