#!/usr/bin/env bash
# Loopback Kubernetes control plane for kapimon: etcd (mTLS) + kube-apiserver 1.20.2 (TLS, static
# tokens, RBAC, audit log at level Metadata), everything on 127.0.0.1. See docs/testbed.md.
#
#   scripts/testbed.sh up       start (idempotent), wait until /readyz is ok, print PID and token
#   scripts/testbed.sh env      print shell exports (eval "$(scripts/testbed.sh env)"), write kubeconfig
#   scripts/testbed.sh status   exit 0 when up and healthy, 1 otherwise
#   scripts/testbed.sh down     stop both processes (TERM, bounded wait, KILL) and remove the state dir
#
# Host safety: the testbed never touches a real control plane on the same host. Before starting it
# checks that each of its ports is free and refuses (naming the port and the process holding it) when
# one is not; it refuses the well-known control-plane ports (6443, 2379, 2380, 10250, 10257, 10259)
# even when asked for them; it only ever signals the processes it started itself (pid files checked
# against the process start time), and only removes a state dir it created (marker file).
# etcd is Debian's etcd-server binary unpacked into the cache by scripts/fetch-etcd.sh: no package is
# installed and no service started.
#
# Environment (defaults in brackets):
#   KAPIMON_TESTBED_DIR [/run/kapimon-testbed]   state: certs, tokens, etcd data, logs, audit log
#   KAPIMON_APISERVER_PORT [16443]               apiserver secure port
#   KAPIMON_ETCD_PORT [12379]                    etcd client port (https, client certs required)
#   KAPIMON_ETCD_PEER_PORT [12380]               etcd peer port (http, loopback, single member)
#   KAPIMON_ETCD_METRICS_PORT [12381]            etcd /metrics and /health (plain http)
#   KAPIMON_APISERVER_BIN [scripts/build-apiserver.sh's cached binary]
#   KAPIMON_ETCD_BIN [scripts/fetch-etcd.sh's cached binary]
#   KAPIMON_TESTBED_TIMEOUT [180]                seconds to wait for readiness
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${KAPIMON_TESTBED_DIR:-/run/kapimon-testbed}
case $DIR in
/*[!/]*) DIR=${DIR%/} ;;
*) echo "testbed: KAPIMON_TESTBED_DIR='$DIR' must be an absolute path below /" >&2; exit 2 ;;
esac
API_PORT=${KAPIMON_APISERVER_PORT:-16443}
ETCD_PORT=${KAPIMON_ETCD_PORT:-12379}
ETCD_PEER_PORT=${KAPIMON_ETCD_PEER_PORT:-12380}
ETCD_METRICS_PORT=${KAPIMON_ETCD_METRICS_PORT:-12381}
TIMEOUT=${KAPIMON_TESTBED_TIMEOUT:-180}
HOST=127.0.0.1
API_URL="https://$HOST:$API_PORT"
ETCD_URL="https://$HOST:$ETCD_PORT"
ETCD_METRICS_URL="http://$HOST:$ETCD_METRICS_PORT"
SERVICE_CIDR=10.0.0.0/24
SERVICE_IP=10.0.0.1
# Ports a kubeadm/kubespray control plane listens on: apiserver, etcd client/peer, kubelet,
# controller-manager, scheduler. Never used, whatever the environment says.
CONTROL_PLANE_PORTS="6443 2379 2380 10250 10257 10259"
MARKER=.kapimon-testbed # in $DIR: this state dir was made by the testbed (down removes only such a dir)

log() { echo "testbed: $*" >&2; }
die() { log "$*"; exit 1; }

# --- process helpers ------------------------------------------------------------------------------

# proc_id PID: "STARTTIME STATE" of a process: its start time (clock ticks since boot, field 22 of
# /proc/PID/stat) with the pid identifies one process for its whole life, so a recycled pid is never
# mistaken for ours; STATE is Z for a zombie (dead, not yet reaped).
proc_id() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) } # after the command name, which may contain spaces and parentheses
	set -- $s
	echo "${20} $1"
}

# started PIDFILE: record the start time of the process whose pid is in PIDFILE (in PIDFILE.start)
started() {
	local id
	id=$(proc_id "$(cat "$1")") || id=""
	echo "${id% *}" >"$1.start"
}

# pid_alive FILE: the pid in FILE is the process this testbed started (same start time as recorded at
# launch, in FILE.start) and it has not exited. A pid file without a start time (written by an older
# testbed.sh) proves nothing.
pid_alive() {
	local f=$1 pid id
	[ -s "$f" ] && [ -s "$f.start" ] || return 1
	pid=$(cat "$f")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	id=$(proc_id "$pid") || return 1
	[ "${id% *}" = "$(cat "$f.start")" ] && [ "${id#* }" != Z ]
}

# stop_pid FILE NAME: TERM the process we started (pid_alive), wait up to 20 s for it to exit, then KILL.
stop_pid() {
	local f=$1 name=$2 pid i
	if ! pid_alive "$f"; then
		if [ -s "$f" ] && [ ! -s "$f.start" ] && [ -d "/proc/$(cat "$f")" ]; then
			log "warning: $f has no start time (an older testbed.sh wrote it): not signalling pid $(cat "$f")" \
				"($(readlink "/proc/$(cat "$f")/exe" 2>/dev/null)); stop it yourself if it is this testbed's $name"
		fi
		rm -f "$f" "$f.start"
		return 0
	fi
	pid=$(cat "$f")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		pid_alive "$f" || break # exited (a zombie child of ours is dead too)
		sleep 0.1
	done
	if pid_alive "$f"; then
		log "$name (pid $pid) did not exit after TERM within 20 s; sending KILL"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do pid_alive "$f" || break; sleep 0.1; done
	fi
	rm -f "$f" "$f.start"
}

# port_holder PORT: prints who listens on PORT (any address, TCP), e.g. 'etcd (pid 812)'; fails when free
port_holder() {
	local out who
	out=$(ss -Hltnp "sport = :$1" 2>/dev/null) || return 1
	[ -n "$out" ] || return 1
	who=$(grep -o 'users:(("[^"]*",pid=[0-9]*' <<<"$out" | head -1 | sed 's/users:(("\([^"]*\)",pid=\([0-9]*\)/\1 (pid \2)/')
	echo "${who:-a process this user cannot see}"
}

# check_ports: every port the testbed will use is a valid, distinct port, not a well-known control-plane
# port (all checked first), and free. Refuses (exit 1) with the port, its variable and the process
# holding it; never kills.
check_ports() {
	local ports var p q seen=" " holder
	command -v ss >/dev/null || die "ss (iproute2) is needed to check that the testbed's ports are free (make deps)"
	ports="KAPIMON_APISERVER_PORT:$API_PORT KAPIMON_ETCD_PORT:$ETCD_PORT KAPIMON_ETCD_PEER_PORT:$ETCD_PEER_PORT"
	ports+=" KAPIMON_ETCD_METRICS_PORT:$ETCD_METRICS_PORT"
	for var in $ports; do
		p=${var#*:} var=${var%%:*}
		[[ $p =~ ^[1-9][0-9]{0,4}$ ]] && ((p <= 65535)) || die "$var=$p is not a port number"
		for q in $CONTROL_PLANE_PORTS; do
			[ "$p" != "$q" ] || die "$var=$p is a well-known Kubernetes control-plane port; the testbed never uses" \
				"$CONTROL_PLANE_PORTS (a real control plane on this host may need it): choose another"
		done
		[[ $seen != *" $p "* ]] || die "$var=$p: the same port is given for two of the testbed's listeners"
		seen+="$p "
	done
	for var in $ports; do
		p=${var#*:} var=${var%%:*}
		if holder=$(port_holder "$p"); then
			die "port $p ($var) is already in use by $holder; the testbed does not stop other processes:" \
				"choose a free port ($var=...) or stop that process yourself"
		fi
	done
}

# is_state_dir: $DIR was created by this script (marker file; older testbeds: their token file and
# audit policy), so 'down' may remove it
is_state_dir() {
	[ -e "$DIR/$MARKER" ] || { [ -e "$DIR/tokens.csv" ] && [ -e "$DIR/audit-policy.yaml" ]; }
}

# wait_until DESC SECONDS PIDFILE NAME LOG CMD...: poll CMD every 0.2 s until it succeeds; fail early
# when the process in PIDFILE died, or after SECONDS.
wait_until() {
	local desc=$1 secs=$2 pidf=$3 name=$4 logf=$5 start
	shift 5
	start=$(date +%s)
	until "$@" >/dev/null 2>&1; do
		if ! pid_alive "$pidf"; then
			log "$name exited while waiting for $desc; last log lines:"
			tail -n 30 "$logf" >&2 || true
			return 1
		fi
		if (($(date +%s) - start >= secs)); then
			log "timed out after ${secs}s waiting for $desc; last log lines of $name:"
			tail -n 30 "$logf" >&2 || true
			return 1
		fi
		sleep 0.2
	done
}

# --- certificates and configuration ----------------------------------------------------------------

# mkcert NAME CN EXTKEYUSAGE [SAN]: key + cert signed by the CA (ca.crt/ca.key), valid 1 year.
mkcert() {
	local name=$1 cn=$2 eku=$3 san=${4:-} ext
	ext="$DIR/pki/$name.ext"
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=$eku"
		[ -z "$san" ] || echo "subjectAltName=$san"
	} >"$ext"
	openssl req -new -newkey rsa:2048 -nodes -keyout "$DIR/pki/$name.key" -subj "$cn" \
		-out "$DIR/pki/$name.csr" 2>/dev/null
	openssl x509 -req -in "$DIR/pki/$name.csr" -CA "$DIR/pki/${5:-ca}.crt" -CAkey "$DIR/pki/${5:-ca}.key" \
		-CAcreateserial -days 365 -sha256 -extfile "$ext" -out "$DIR/pki/$name.crt" 2>/dev/null
	rm -f "$DIR/pki/$name.csr" "$ext"
}

mkca() {
	openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$DIR/pki/$1.key" -subj "/CN=$2" -days 365 \
		-sha256 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$DIR/pki/$1.crt" 2>/dev/null
}

gen_config() {
	local admin user
	mkdir -p "$DIR/pki"
	chmod 700 "$DIR/pki"
	mkca ca kapimon-testbed-ca
	mkca front-proxy-ca kapimon-testbed-front-proxy-ca
	mkcert apiserver "/CN=kube-apiserver" serverAuth \
		"IP:127.0.0.1,DNS:localhost,IP:$SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	mkcert etcd-server "/CN=etcd-server" serverAuth,clientAuth "IP:127.0.0.1,DNS:localhost"
	mkcert apiserver-etcd-client "/O=system:masters/CN=kube-apiserver-etcd-client" clientAuth
	mkcert front-proxy-client "/CN=front-proxy-client" clientAuth "" front-proxy-ca
	openssl genrsa -out "$DIR/pki/sa.key" 2048 2>/dev/null
	openssl rsa -in "$DIR/pki/sa.key" -pubout -out "$DIR/pki/sa.pub" 2>/dev/null

	admin=$(openssl rand -hex 16)
	user=$(openssl rand -hex 16)
	# token,user,uid,"groups"; alice has no group: under RBAC she may only do discovery (-> 403s).
	printf '%s,admin,1000,"system:masters"\n%s,alice,1001\n' "$admin" "$user" >"$DIR/tokens.csv"
	# identities (tests/integration/test_identity.sh): bob has groups without grants (403s), carol
	# two groups, one of them system:masters
	printf '%s,bob,1002,"dev,qa"\n' "$(openssl rand -hex 16 | tee "$DIR/bob.token")" >>"$DIR/tokens.csv"
	printf '%s,carol,1003,"system:masters,ops"\n' "$(openssl rand -hex 16 | tee "$DIR/carol.token")" \
		>>"$DIR/tokens.csv"
	chmod 600 "$DIR/tokens.csv" "$DIR/bob.token" "$DIR/carol.token"
	echo "$admin" >"$DIR/admin.token"
	echo "$user" >"$DIR/user.token"
	# a client-certificate user: CN = user, O = groups
	mkcert dave "/O=system:masters/O=certs/CN=dave" clientAuth

	cat >"$DIR/audit-policy.yaml" <<'EOF'
# Every request at level Metadata (who, what, verb, resource, status; no bodies). RequestReceived is
# omitted so each request gives one ResponseComplete event (plus ResponseStarted for watches).
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - RequestReceived
rules:
  - level: Metadata
EOF
	write_kubeconfig
}

write_kubeconfig() {
	local token
	token=$(cat "$DIR/admin.token")
	cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kapimon-testbed
  cluster:
    server: $API_URL
    certificate-authority: $DIR/pki/ca.crt
users:
- name: admin
  user:
    token: $token
- name: alice
  user:
    token: $(cat "$DIR/user.token")
contexts:
- name: kapimon-testbed
  context:
    cluster: kapimon-testbed
    user: admin
- name: kapimon-testbed-alice
  context:
    cluster: kapimon-testbed
    user: alice
current-context: kapimon-testbed
EOF
	chmod 600 "$DIR/kubeconfig"
}

# --- start / stop ---------------------------------------------------------------------------------

start_etcd() {
	local bin=$1
	mkdir -p "$DIR/etcd"
	chmod 700 "$DIR/etcd"
	# env -i: ignore any ETCD_* variables (Debian's /etc/default/etcd is only read by its service).
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin setsid "$bin" \
		--name kapimon-testbed \
		--data-dir "$DIR/etcd" \
		--listen-client-urls "$ETCD_URL" \
		--advertise-client-urls "$ETCD_URL" \
		--listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
		--initial-cluster "kapimon-testbed=http://$HOST:$ETCD_PEER_PORT" \
		--initial-cluster-state new \
		--initial-cluster-token kapimon-testbed \
		--listen-metrics-urls "$ETCD_METRICS_URL" \
		--metrics basic \
		--client-cert-auth \
		--trusted-ca-file "$DIR/pki/ca.crt" \
		--cert-file "$DIR/pki/etcd-server.crt" \
		--key-file "$DIR/pki/etcd-server.key" \
		--log-outputs stderr \
		</dev/null >"$DIR/etcd.log" 2>&1 8>&- &
	echo $! >"$DIR/etcd.pid"
	started "$DIR/etcd.pid"
	wait_until "etcd /health" "$TIMEOUT" "$DIR/etcd.pid" etcd "$DIR/etcd.log" etcd_healthy
}

etcd_healthy() { curl -fsS --max-time 2 "$ETCD_METRICS_URL/health" | grep -q '"health":"true"'; }

start_apiserver() {
	local bin=$1
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin setsid "$bin" \
		--bind-address="$HOST" \
		--advertise-address="$HOST" \
		--secure-port="$API_PORT" \
		--insecure-port=0 \
		--endpoint-reconciler-type=none \
		--etcd-servers="$ETCD_URL" \
		--etcd-cafile="$DIR/pki/ca.crt" \
		--etcd-certfile="$DIR/pki/apiserver-etcd-client.crt" \
		--etcd-keyfile="$DIR/pki/apiserver-etcd-client.key" \
		--tls-cert-file="$DIR/pki/apiserver.crt" \
		--tls-private-key-file="$DIR/pki/apiserver.key" \
		--client-ca-file="$DIR/pki/ca.crt" \
		--token-auth-file="$DIR/tokens.csv" \
		--authorization-mode=Node,RBAC \
		--anonymous-auth=false \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$DIR/pki/sa.pub" \
		--service-account-signing-key-file="$DIR/pki/sa.key" \
		--api-audiences=https://kubernetes.default.svc.cluster.local \
		--requestheader-client-ca-file="$DIR/pki/front-proxy-ca.crt" \
		--requestheader-allowed-names=front-proxy-client \
		--requestheader-extra-headers-prefix=X-Remote-Extra- \
		--requestheader-group-headers=X-Remote-Group \
		--requestheader-username-headers=X-Remote-User \
		--proxy-client-cert-file="$DIR/pki/front-proxy-client.crt" \
		--proxy-client-key-file="$DIR/pki/front-proxy-client.key" \
		--audit-policy-file="$DIR/audit-policy.yaml" \
		--audit-log-path="$DIR/audit.log" \
		--audit-log-format=json \
		--audit-log-mode=blocking \
		--audit-log-maxsize=2048 \
		--audit-log-maxbackup=1 \
		--allow-privileged=true \
		--profiling=false \
		--v=1 \
		</dev/null >"$DIR/apiserver.log" 2>&1 8>&- &
	echo $! >"$DIR/apiserver.pid"
	started "$DIR/apiserver.pid"
	wait_until "apiserver /readyz" "$TIMEOUT" "$DIR/apiserver.pid" "$(basename "$bin")" "$DIR/apiserver.log" apiserver_ready
}

apiserver_ready() {
	[ "$(curl -sS --max-time 3 --cacert "$DIR/pki/ca.crt" -H "Authorization: Bearer $(cat "$DIR/admin.token")" \
		"$API_URL/readyz")" = ok ]
}

apiserver_name() { cat "$DIR/apiserver.name" 2>/dev/null || echo kube-apiserver; }

is_up() {
	pid_alive "$DIR/etcd.pid" && pid_alive "$DIR/apiserver.pid" &&
		etcd_healthy && apiserver_ready
}

print_up() {
	echo "testbed: up (state in $DIR)"
	echo "  apiserver pid  $(cat "$DIR/apiserver.pid")  $API_URL  ($(readlink "/proc/$(cat "$DIR/apiserver.pid")/exe"))"
	echo "  etcd pid       $(cat "$DIR/etcd.pid")  $ETCD_URL  metrics $ETCD_METRICS_URL/metrics  ($(readlink "/proc/$(cat "$DIR/etcd.pid")/exe"))"
	echo "  admin token    $(cat "$DIR/admin.token")"
	echo "  user token     $(cat "$DIR/user.token")  (alice, no RBAC grants: 403 on resources)"
	echo "  kubeconfig     $DIR/kubeconfig"
	echo "  audit log      $DIR/audit.log"
	echo "  use: eval \"\$($0 env)\"; tear down: $0 down"
}

do_down() {
	[ -e "$DIR" ] || return 0
	is_state_dir || die "$DIR exists but was not made by the testbed (no $MARKER): not touching it"
	stop_pid "$DIR/apiserver.pid" "$(apiserver_name)"
	stop_pid "$DIR/etcd.pid" etcd
	rm -rf "$DIR"
}

do_up() {
	local bin etcd_bin t0
	if [ -d "$DIR" ] && pid_alive "$DIR/etcd.pid" && pid_alive "$DIR/apiserver.pid"; then
		# Both run: give a busy apiserver up to 30 s to answer before declaring the state stale.
		if wait_until "the running testbed" 30 "$DIR/apiserver.pid" "$(apiserver_name)" "$DIR/apiserver.log" \
			is_up; then
			print_up
			return 0
		fi
	fi
	[ "$(id -u)" = 0 ] || log "warning: not root; the testbed runs, but kapimon needs root to trace it"
	# leftovers of a broken previous run of ours (it may hold our ports)
	if [ -d "$DIR" ]; then
		log "stale or unhealthy state in $DIR; tearing it down first"
		do_down
	fi
	check_ports
	etcd_bin=${KAPIMON_ETCD_BIN:-}
	[ -n "$etcd_bin" ] || etcd_bin=$("$ROOT/scripts/fetch-etcd.sh") || die "scripts/fetch-etcd.sh failed"
	[ -x "$etcd_bin" ] || die "etcd binary '$etcd_bin' is not executable"
	bin=${KAPIMON_APISERVER_BIN:-}
	if [ -z "$bin" ]; then
		t0=$(date +%s)
		bin=$("$ROOT/scripts/build-apiserver.sh") || die "scripts/build-apiserver.sh failed"
		(($(date +%s) - t0 < 2)) || log "kube-apiserver build took $(($(date +%s) - t0)) s"
	fi
	[ -x "$bin" ] || die "kube-apiserver binary '$bin' is not executable"
	# the build may have taken minutes: the ports are checked again just before use
	check_ports
	[ ! -e "$DIR" ] || die "$DIR appeared while starting (another testbed command without the lock?)"
	mkdir -p "$DIR"
	chmod 755 "$DIR"
	: >"$DIR/$MARKER"
	basename "$bin" >"$DIR/apiserver.name"
	gen_config
	start_etcd "$etcd_bin" || { do_down_keep_logs; die "etcd did not become healthy"; }
	start_apiserver "$bin" || { do_down_keep_logs; die "kube-apiserver did not become ready"; }
	make_sa_token || log "warning: no ServiceAccount token (sa.token): $DIR/sa-token.err"
	print_up
}

# A ServiceAccount (default/kapimon-sa) and a bound token for it from the TokenRequest API, signed with
# the testbed's service-account key (no controller-manager here to make token Secrets). A just-ready
# apiserver may not have created the "default" namespace yet (its bootstrap controller runs
# asynchronously): the creation and the request are retried until the token comes, for at most 60 s.
make_sa_token() {
	local api="curl -sS --max-time 10 --cacert $DIR/pki/ca.crt -H Content-Type:application/json"
	local end=$(($(date +%s) + 60)) code
	while :; do
		code=$($api -H "Authorization: Bearer $(cat "$DIR/admin.token")" -o /dev/null -w '%{http_code}' \
			-d '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"kapimon-sa"}}' \
			"$API_URL/api/v1/namespaces/default/serviceaccounts" 2>"$DIR/sa-token.err")
		echo "create ServiceAccount: HTTP $code" >>"$DIR/sa-token.err"
		if [ "$code" = 201 ] || [ "$code" = 409 ]; then
			$api -f -H "Authorization: Bearer $(cat "$DIR/admin.token")" \
				-d '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":86400}}' \
				"$API_URL/api/v1/namespaces/default/serviceaccounts/kapimon-sa/token" 2>>"$DIR/sa-token.err" |
				jq -er .status.token >"$DIR/sa.token" 2>>"$DIR/sa-token.err" && break
			rm -f "$DIR/sa.token"
		fi
		(($(date +%s) < end)) || return 1
		sleep 0.5 # polling the apiserver's bootstrap, bounded by the deadline above
	done
	chmod 600 "$DIR/sa.token"
}

# On a failed start: stop the processes but keep the logs for inspection.
do_down_keep_logs() {
	stop_pid "$DIR/apiserver.pid" "$(apiserver_name)"
	stop_pid "$DIR/etcd.pid" etcd
	log "logs kept in $DIR/*.log ('$0 down' removes them)"
}

do_env() {
	[ -s "$DIR/admin.token" ] || die "testbed is not up (run '$0 up')"
	write_kubeconfig
	cat <<EOF
export KAPIMON_TESTBED_DIR='$DIR'
export KAPIMON_APISERVER_PID='$(cat "$DIR/apiserver.pid" 2>/dev/null)'
export KAPIMON_APISERVER_BIN='$(readlink "/proc/$(cat "$DIR/apiserver.pid" 2>/dev/null)/exe" 2>/dev/null)'
export KAPIMON_APISERVER_URL='$API_URL'
export KAPIMON_APISERVER_PORT='$API_PORT'
export KAPIMON_TOKEN='$(cat "$DIR/admin.token")'
export KAPIMON_USER_TOKEN='$(cat "$DIR/user.token")'
export KAPIMON_USER_NAME='alice'
export KAPIMON_BOB_TOKEN='$(cat "$DIR/bob.token" 2>/dev/null)'
export KAPIMON_CAROL_TOKEN='$(cat "$DIR/carol.token" 2>/dev/null)'
export KAPIMON_SA_TOKEN='$(cat "$DIR/sa.token" 2>/dev/null)'
export KAPIMON_CERT_USER='$DIR/pki/dave'
export KAPIMON_CA='$DIR/pki/ca.crt'
export KAPIMON_AUDIT_LOG='$DIR/audit.log'
export KAPIMON_KUBECONFIG='$DIR/kubeconfig'
export KAPIMON_ETCD_PID='$(cat "$DIR/etcd.pid" 2>/dev/null)'
export KAPIMON_ETCD_URL='$ETCD_URL'
export KAPIMON_ETCD_METRICS_URL='$ETCD_METRICS_URL/metrics'
export KAPIMON_ETCD_CA='$DIR/pki/ca.crt'
export KAPIMON_ETCD_CERT='$DIR/pki/apiserver-etcd-client.crt'
export KAPIMON_ETCD_KEY='$DIR/pki/apiserver-etcd-client.key'
EOF
}

do_status() {
	if [ -d "$DIR" ] && is_up; then
		print_up
		return 0
	fi
	echo "testbed: not running (or unhealthy) in $DIR"
	local f
	for f in etcd apiserver; do
		[ -s "$DIR/$f.pid" ] && echo "  $f pid file: $(cat "$DIR/$f.pid")"
	done
	return 1
}

cmd=${1:-}
case "$cmd" in
up | down)
	# One up/down at a time (the lock lives next to the state dir, which 'down' removes). The daemons
	# never inherit the lock fd. 'up' may wait for a first apiserver build in another 'up'.
	mkdir -p "$(dirname "$DIR")"
	exec 8>"$DIR.lock"
	if ! flock -w "$([ "$cmd" = up ] && echo 900 || echo 60)" 8; then
		[ "$cmd" = down ] || die "another testbed command holds $DIR.lock"
		log "warning: $DIR.lock is held by another process; tearing down anyway"
	fi
	"do_$cmd"
	;;
status) do_status ;;
env) do_env ;;
*)
	echo "usage: $0 up|down|env|status" >&2
	exit 2
	;;
esac
