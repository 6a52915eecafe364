#!/usr/bin/env bash
# Host safety of the build and test scripts (docs/testbed.md "Host safety"): scripts/testbed.sh refuses
# the control-plane ports and ports in use (naming the holder) before doing anything, `down` signals only
# a process whose pid AND start time it recorded and removes only its own state dir, and no script
# stops a service, kills by name or writes the host's apt configuration. No root, no testbed needed.
# Prints "N passed, M failed"; exits non-zero on failure.
set -u
cd "$(dirname "$0")/../.."
TB=scripts/testbed.sh
T=$(mktemp -d)
SLEEPER=""
cleanup() {
	[ -z "$SLEEPER" ] || kill "$SLEEPER" 2>/dev/null
	[ -z "${LISTENER:-}" ] || kill "$LISTENER" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "  ok    $1"; }
bad() { fail=$((fail + 1)); echo "  FAIL  $1"; [ -z "${2:-}" ] || echo "$2" | sed 's/^/        | /' | head -5; }

# tb ARGS...: the testbed script with a private state dir and free-looking default ports
tb() {
	env KAPIMON_TESTBED_DIR="$T/tb" KAPIMON_APISERVER_PORT=${AP:-16443} KAPIMON_ETCD_PORT=${EP:-12379} \
		KAPIMON_ETCD_PEER_PORT=${PP:-12380} KAPIMON_ETCD_METRICS_PORT=${MP:-12381} \
		KAPIMON_ETCD_BIN=/nonexistent KAPIMON_APISERVER_BIN=/nonexistent "$TB" "$@"
}

# refused WANT_SUBSTRING DESC: the last `tb up` failed with exit 1, said WANT, and created no state
refused() {
	if [ "$rc" = 1 ] && [[ $out == *"$1"* ]] && [ ! -e "$T/tb" ]; then ok "$2"; else
		bad "$2" "exit $rc, state dir $([ -e "$T/tb" ] && echo created || echo absent): $out"; fi
}

# --- control-plane ports are refused whatever the environment says ---------------------------------------
for p in 6443 2379 2380 10250 10257 10259; do
	out=$(EP=$p tb up 2>&1); rc=$?
	refused "KAPIMON_ETCD_PORT=$p is a well-known Kubernetes control-plane port" "up refuses etcd port $p"
done
out=$(AP=6443 tb up 2>&1); rc=$?
refused "KAPIMON_APISERVER_PORT=6443 is a well-known" "up refuses apiserver port 6443"
out=$(PP=12379 tb up 2>&1); rc=$?
refused "the same port is given for two" "up refuses one port for two listeners"
out=$(MP=70000 tb up 2>&1); rc=$?
refused "is not a port number" "up refuses port 70000"
out=$(KAPIMON_TESTBED_DIR=relative/dir "$TB" up 2>&1); rc=$?
if [ "$rc" = 2 ] && [[ $out == *"must be an absolute path"* ]]; then ok "up refuses a relative state dir"; else
	bad "up refuses a relative state dir" "exit $rc: $out"; fi

# --- a port in use is refused, naming the process holding it ---------------------------------------------
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(300)' >"$T/port" &
LISTENER=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
held=$(cat "$T/port")
out=$(AP=$held tb up 2>&1); rc=$?
refused "port $held (KAPIMON_APISERVER_PORT) is already in use by" "up refuses a port in use ($held)"
if [ "$(id -u)" = 0 ]; then
	[[ $out == *"python3 (pid $LISTENER)"* ]] && ok "the refusal names the holder (python3, pid $LISTENER)" ||
		bad "the refusal names the holder (python3, pid $LISTENER)" "$out"
fi
kill -0 "$LISTENER" 2>/dev/null && ok "the process holding the port is left alone" ||
	bad "the process holding the port is left alone"

# --- down: only its own state dir, only the processes it started ----------------------------------------
mkdir -p "$T/tb" && echo keep >"$T/tb/data"
out=$(tb down 2>&1); rc=$?
if [ "$rc" = 1 ] && [ -e "$T/tb/data" ] && [[ $out == *"not made by the testbed"* ]]; then
	ok "down refuses a directory the testbed did not make"
else bad "down refuses a directory the testbed did not make" "exit $rc: $out"; fi
rm -rf "$T/tb"

start_time() { local s; s=$(cat "/proc/$1/stat") && s=${s##*) } && set -- $s && echo "${20}"; }
sleep 300 &
SLEEPER=$!
mkdir -p "$T/tb" && : >"$T/tb/.kapimon-testbed"
echo "$SLEEPER" >"$T/tb/etcd.pid"
echo $(($(start_time "$SLEEPER") + 1)) >"$T/tb/etcd.pid.start" # the same pid, another process's start time
out=$(tb down 2>&1); rc=$?
if [ "$rc" = 0 ] && kill -0 "$SLEEPER" 2>/dev/null && [ ! -e "$T/tb" ]; then
	ok "down does not signal a pid whose start time differs (a recycled pid)"
else bad "down does not signal a pid whose start time differs (a recycled pid)" "exit $rc: $out"; fi
mkdir -p "$T/tb" && : >"$T/tb/.kapimon-testbed"
echo "$SLEEPER" >"$T/tb/etcd.pid" # no start time: proves nothing
out=$(tb down 2>&1); rc=$?
if [ "$rc" = 0 ] && kill -0 "$SLEEPER" 2>/dev/null; then ok "down does not signal a pid file without start time"
else bad "down does not signal a pid file without start time" "exit $rc: $out"; fi
mkdir -p "$T/tb" && : >"$T/tb/.kapimon-testbed"
echo "$SLEEPER" >"$T/tb/etcd.pid"
start_time "$SLEEPER" >"$T/tb/etcd.pid.start" # the process "it started": pid and start time match
out=$(tb down 2>&1); rc=$?
wait "$SLEEPER" 2>/dev/null
if [ "$rc" = 0 ] && ! kill -0 "$SLEEPER" 2>/dev/null && [ ! -e "$T/tb" ]; then
	ok "down stops the process whose pid and start time it recorded, removes its state dir"
	SLEEPER=""
else bad "down stops the process whose pid and start time it recorded" "exit $rc: $out"; fi

# --- no script stops a service, kills by name, or writes the host's apt configuration -------------------
# Invocations, not mentions: a line that only prints a command for the operator (echo), checks that a
# command is or is not printed (check_contains, check_eq, grep of a recipe), or is a comment does not count.
hits=$(grep -rnE 'systemctl|service [a-z0-9-]+ (stop|restart)|invoke-rc\.d|update-rc\.d|pkill|killall' \
	scripts/ tests/integration/ tests/*.sh Makefile .ci/run 2>/dev/null |
	grep -vE '^[^:]+:[0-9]+:[[:space:]]*#|echo |check_contains |check_eq |grep [^|]*systemctl')
[ -z "$hits" ] && ok "no systemctl/service/pkill/killall in scripts, tests, Makefile, CI" ||
	bad "no systemctl/service/pkill/killall in scripts, tests, Makefile, CI" "$hits"
hits=$(grep -rnE '>+ *"?/etc/apt|tee .*/etc/apt|(cp|mv|install) .*/etc/apt' scripts/ Makefile .ci/run 2>/dev/null)
[ -z "$hits" ] && ok "no script writes /etc/apt" || bad "no script writes /etc/apt" "$hits"
pkgs=$(bash -c 'eval "$(grep -A2 -E "^(BUILD|TESTBED)_PKGS=" scripts/deps.sh)"; echo $BUILD_PKGS $TESTBED_PKGS')
if [ -n "$pkgs" ] && [[ " $pkgs " != *" etcd-server "* ]]; then ok "deps.sh does not install etcd-server (it would start a system etcd on :2379)"
else bad "deps.sh does not install etcd-server" "$pkgs"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
