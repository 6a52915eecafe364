#!/usr/bin/env bash
# Deployment artefacts (docs/deploy.md):
#   - `make install DESTDIR=` puts the binary, the man page, the systemd unit and the manifest under
#     DESTDIR only, with ExecStart at PREFIX/bin, and enables nothing (it prints how to);
#   - the man page renders without troff warnings and has a section per command of `kapimon --help`;
#   - `systemd-analyze verify` accepts the unit installed with PREFIX=<temp dir> (verify checks that
#     ExecStart's binary and the Documentation= man page exist), and rejects it when the binary is gone;
#   - where systemd is PID 1: the agent runs as a transient unit (systemd-run) with the unit's settings,
#     attaches and stops on SIGTERM; elsewhere this is reported as SKIP;
#   - the agent attaches to the testbed apiserver with only the unit's CapabilityBoundingSet (uid 0,
#     no_new_privs, as systemd runs it) and stops cleanly on SIGTERM;
#   - `kubectl apply --dry-run=server` of the DaemonSet manifest is accepted by the testbed apiserver,
#     and the server's object keeps hostPID, privileged: false and the capabilities.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out}/deploy
rm -rf "$OUT" && mkdir -p "$OUT"
UNIT=$KAPIMON_ROOT/deploy/kapimon-agent.service
MANIFEST=$KAPIMON_ROOT/deploy/kapimon-agent-daemonset.yaml
kp=
trap 'kill $kp 2>/dev/null' EXIT

# make install into a DESTDIR
D=$OUT/destdir
make -s -C "$KAPIMON_ROOT" install DESTDIR="$D" PREFIX=/usr/local >"$OUT/install.out" 2>&1
check_eq "make install DESTDIR=... succeeds (exit status)" 0 "$?"
for f in bin/kapimon share/man/man1/kapimon.1 lib/systemd/system/kapimon-agent.service \
	share/kapimon/kapimon-agent.service share/kapimon/kapimon-agent-daemonset.yaml; do
	check "installed $f" test -s "$D/usr/local/$f"
done
check "installed binary is executable" test -x "$D/usr/local/bin/kapimon"
check_eq "nothing installed outside DESTDIR/PREFIX" "usr" "$(ls "$D")"
check_eq "ExecStart points at PREFIX/bin" \
	"ExecStart=/usr/local/bin/kapimon agent --metrics 127.0.0.1:9464 --flows /var/lib/kapimon" \
	"$(grep '^ExecStart=' "$D/usr/local/lib/systemd/system/kapimon-agent.service")"
check_contains "install says how to enable the service" "systemctl enable --now kapimon-agent" "$(cat "$OUT/install.out")"
check_eq "the install recipe runs no systemctl (only echoes it)" "" \
	"$(make -s -n -C "$KAPIMON_ROOT" install DESTDIR="$D" | grep systemctl | grep -v '^echo\|; *echo\|^ *echo' || true)"

# the man page
MAN=$D/usr/local/share/man/man1/kapimon.1
man --warnings -l "$MAN" >"$OUT/man.txt" 2>"$OUT/man.err"
check_eq "man page renders without troff warnings" "" "$(cat "$OUT/man.err")"
cmds=$("$KAPIMON" --help 2>&1 | awk '/^Commands:/ {f=1; next} f && /^  [a-z]/ {print $1} f && /^$/ {f=0}')
check_ge "kapimon --help lists commands" 5 "$(echo "$cmds" | wc -w)"
missing=
for c in $cmds; do grep -q "^\.SS $c\$" "$MAN" || missing+=" $c"; done
check_eq "man page has a section per command" "" "$missing"
check_contains "man page carries 'agent --help' verbatim" "$("$KAPIMON" agent --help 2>&1 | grep -m1 -- '--metrics ADDR:PORT' | sed 's/^ *//')" "$(cat "$OUT/man.txt")"

# systemd-analyze verify on a copy installed with its real path
P=$OUT/prefix
make -s -C "$KAPIMON_ROOT" install PREFIX="$P" >/dev/null 2>&1
PU=$P/lib/systemd/system/kapimon-agent.service
check_eq "installed unit's ExecStart is the installed copy" "$P/bin/kapimon" "$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$PU")"
check "systemd-analyze verify: unit accepted, no warnings" \
	bash -c 'out=$(cd / && MANPATH="$1" systemd-analyze verify "$2" 2>&1); echo "$out"; [ -z "$out" ]' _ "$P/share/man" "$PU"
mv "$P/bin/kapimon" "$P/bin/kapimon.away"
if (cd / && MANPATH="$P/share/man" systemd-analyze verify "$PU") >"$OUT/verify-missing.out" 2>&1; then
	_fail "systemd-analyze verify rejects the unit when ExecStart's binary is missing" "$(cat "$OUT/verify-missing.out")"
else _ok "systemd-analyze verify rejects the unit when ExecStart's binary is missing"; fi
mv "$P/bin/kapimon.away" "$P/bin/kapimon"

# Started by systemd for real, when systemd is PID 1: a transient unit of our own name (systemd-run
# --collect: gone once stopped) with the installed unit's [Service] settings, ExecStart aimed at the
# testbed apiserver and a state directory of its own (removed afterwards). It is stopped as systemd
# would stop it, with SIGTERM to its own processes (those in its cgroup); no other unit is touched, and
# no systemctl is run (tests/cli/test_host_safety.sh). Not exercised on the machine this was written on:
# its PID 1 is not systemd (docs/deploy.md).
TUNIT=kapimon-agent-test-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
unit_procs() { # the pids in the transient unit's cgroup (cgroup v2, or v1's name=systemd hierarchy)
	cat "/sys/fs/cgroup/system.slice/$TUNIT.service/cgroup.procs" \
		"/sys/fs/cgroup/systemd/system.slice/$TUNIT.service/cgroup.procs" 2>/dev/null
}
unit_term() { local p; for p in $(unit_procs); do kill -TERM "$p" 2>/dev/null; done; }
if [ "$(cat /proc/1/comm)" = systemd ] && [ -d /run/systemd/system ]; then
	props=()
	while IFS= read -r line; do props+=(-p "$line"); done < <(sed -n '/^\[Service\]/,/^\[/p' "$PU" |
		grep -E '^[A-Za-z]+=' | grep -vE '^(Type|ExecStart|ExecReload|StateDirectory)=')
	trap 'kill $kp 2>/dev/null; unit_term; rm -rf "/var/lib/$TUNIT"' EXIT
	systemd-run --quiet --collect --unit="$TUNIT" "${props[@]}" -p StateDirectory="$TUNIT" -p StateDirectoryMode=0700 \
		"$P/bin/kapimon" agent --pid "$KAPIMON_APISERVER_PID" --metrics 127.0.0.1:0 --flows "/var/lib/$TUNIT" \
		>"$OUT/systemd-run.out" 2>&1
	check_eq "systemd-run: the unit's settings accepted (exit status)" 0 "$?"
	unit_attached() { journalctl -q -u "$TUNIT" -o cat 2>/dev/null | grep -q attached; }
	wait_for "systemd: the agent started as $TUNIT attaches" 60 unit_attached
	check "systemd: $TUNIT runs (its cgroup has a process)" test -n "$(unit_procs)"
	check_eq "systemd: flows file mode 0600 in its state directory" 600 "$(stat -c %a "/var/lib/$TUNIT/flows.jsonl" 2>/dev/null)"
	unit_term
	unit_done() { journalctl -q -u "$TUNIT" -o cat 2>/dev/null | grep -q 'Deactivated successfully'; }
	wait_for "systemd: after SIGTERM, $TUNIT deactivated successfully (exit 0, no restart)" 30 unit_done
	check_eq "systemd: no failure logged for $TUNIT" 0 "$(journalctl -q -u "$TUNIT" -o cat | grep -c 'Failed with result' || true)"
	journalctl -q -u "$TUNIT" -o cat >"$OUT/systemd-journal.txt" 2>&1
	rm -rf "/var/lib/$TUNIT"
	trap 'kill $kp 2>/dev/null' EXIT
else
	echo "  SKIP  started by systemd: PID 1 is '$(cat /proc/1/comm)', not systemd (only systemd-analyze verify above)"
fi

# the unit's capability set is enough to attach (capabilities this runner lacks are left out, and said)
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
have=$(capsh --print | sed -n 's/^Bounding set =//p')
set_=
for c in $caps; do
	lc=$(echo "$c" | tr '[:upper:]' '[:lower:]')
	if [[ ",$have," == *",$lc,"* ]]; then set_+=",+${lc#cap_}"; else echo "  note: this runner lacks $c: left out of the capability test"; fi
done
set_=${set_#,}
echo "  capability set: $set_"
setpriv --reuid=0 --no-new-privs --inh-caps=-all,"$set_" --ambient-caps=-all,"$set_" --bounding-set=-all,"$set_" -- \
	"$KAPIMON" agent --pid "$KAPIMON_APISERVER_PID" --metrics 127.0.0.1:0 --flows "$OUT/flows" 2>"$OUT/agent.err" &
kp=$!
mkdir -p "$OUT/flows"
attached() { grep -q attached "$OUT/agent.err"; }
wait_for "agent attached or exited" 60 bash -c 'grep -q attached "$1" || ! kill -0 "$2"' _ "$OUT/agent.err" "$kp"
if attached; then _ok "agent attaches with the unit's capabilities only"
else _fail "agent attaches with the unit's capabilities only" "$(cat "$OUT/agent.err")"; fi
check_eq "the agent ran with exactly those effective capabilities" \
	"$(setpriv --inh-caps=-all,"$set_" --ambient-caps=-all,"$set_" --bounding-set=-all,"$set_" -- sh -c 'grep CapEff /proc/self/status')" \
	"$(grep CapEff "/proc/$kp/status" 2>/dev/null)"
kill -TERM "$kp" 2>/dev/null
wait "$kp"
check_eq "agent exits 0 on SIGTERM" 0 "$?"
kp=

# the DaemonSet manifest, server-side dry run against the testbed apiserver
kctl apply --dry-run=server -f "$MANIFEST" >"$OUT/apply.out" 2>&1
check_eq "kubectl apply --dry-run=server accepted (exit status)" 0 "$?"
check_eq "objects created in the dry run" 3 "$(grep -c 'created (server dry run)\|configured (server dry run)\|unchanged (server dry run)' "$OUT/apply.out")"
ds=$(kctl apply --dry-run=server -o json -f "$MANIFEST" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
for o in d.get("items", [d]):
    if o["kind"] == "DaemonSet":
        s = o["spec"]["template"]["spec"]; c = s["containers"][0]["securityContext"]
        print(json.dumps({"hostPID": s.get("hostPID"), "privileged": c.get("privileged"),
                          "add": sorted(c["capabilities"]["add"]), "tolerations": sorted(t["key"] for t in s["tolerations"])}))')
check_eq "server's DaemonSet keeps hostPID, privileged false, capabilities, tolerations" \
	'{"hostPID": true, "privileged": false, "add": ["BPF", "DAC_READ_SEARCH", "PERFMON", "SYS_ADMIN", "SYS_PTRACE", "SYS_RESOURCE"], "tolerations": ["node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"]}' "$ds"
# the server validates: the same manifest with an invalid port is refused by the apiserver
sed 's/containerPort: 9464/containerPort: 99999/' "$MANIFEST" >"$OUT/bad.yaml"
kctl apply --dry-run=server -f "$OUT/bad.yaml" >"$OUT/bad.out" 2>&1
check_eq "an invalid manifest is refused by the server's dry run (exit status)" 1 "$?"
check_contains "the server names the invalid field" "containerPort: Invalid value: 99999" "$(cat "$OUT/bad.out")"

finish
