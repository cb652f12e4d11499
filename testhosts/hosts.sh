#!/usr/bin/env bash
# hosts.sh starts N independent Podman "hosts" on this machine for deck's end-to-end tests,
# benchmarks and demo. Each host is a network namespace with its own address on the bridge
# deck0 (10.77.0.0/24), its own storage and network config, and its own Podman API socket.
# One host can be reached only over ssh, to exercise deck's ssh:// path. A Caddy load
# balancer runs in h1's namespace (and a second in h2's), listening on the host's address
# (port 80, once deck creates its server); its admin API is only on the unix socket
# DIR/hI/caddy/admin.sock. A throwaway etcd (Debian's etcd-server) can run beside them, for
# the controller's leader election.
#
# Usage (as root):
#   hosts.sh install                      install what is missing (podman, runc, sshd, ...)
#   hosts.sh up N [--ssh K] [--dir DIR]   start hosts h1..hN (tears down old ones first)
#   hosts.sh down [--dir DIR]             stop everything and remove every trace
#   hosts.sh partition I | heal I         cut host I off the network / reconnect it
#   hosts.sh stop I | start I [--dir DIR] stop / start host I's Podman service
#   hosts.sh lb-stop | lb-start | lb-restart [I] [--dir DIR]   Caddy on host I (1 or 2; default 1)
#                                         kill Caddy / start it / kill it and start it again,
#                                         each start with an EMPTY configuration (no servers)
#   hosts.sh etcd-start [--dir DIR] [--port P] [--peer-port Q]
#                                         start a single-member etcd (data in DIR/etcd), client
#                                         URL http://127.0.0.1:P (default 23790; peers on Q,
#                                         default P+10), and print that URL once it is healthy
#   hosts.sh etcd-stop [--dir DIR]        stop it and remove its data
#
# The bridge and the addresses are shared, so only one set of hosts can be up at a time.
# The Go package testhosts holds LOCK while its hosts are up (and sets
# DECK_TESTHOSTS_LOCKED=1 when it runs this script); run by hand, up and down refuse to
# touch hosts while a test holds it.
set -euo pipefail

DIR=/run/deck-testhosts
BRIDGE=deck0
SUBNET_PREFIX=10.77.0
# STATE records the DIR of the hosts that are up, so a later up or down finds and removes
# them even when called with another --dir (or after a test binary died without cleaning up).
STATE=/run/deck-testhosts.dir
LOCK=/run/deck-testhosts.lock
READY_TIMEOUT=${DECK_TESTHOSTS_READY_TIMEOUT:-30}
# Caddy runs in h1's namespace ("edge") and, when there are two hosts or more, in h2's
# ("edge2"): an environment can name both, to test routes kept on several balancers.
lb_hosts() { if [ "${1:-1}" -ge 2 ]; then echo 1 2; else echo 1; fi; }

die() { echo "hosts.sh: $*" >&2; exit 1; }
log() { echo "hosts.sh: $*" >&2; }

ns_name() { echo "deck-h$1"; }
veth_name() { echo "deckv$1"; } # host end, in the root namespace (max 15 chars)
addr_of() { echo "$SUBNET_PREFIX.$((10 + $1))"; }
zone_of() {
	local letters=abcdefghijklmnopqrstuvwxyz
	echo "${letters:$((($1 - 1) % 26)):1}"
}

cmd_install() {
	local missing=()
	command -v podman >/dev/null || missing+=(podman)
	command -v runc >/dev/null || missing+=(runc)
	command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
	command -v ssh-keygen >/dev/null || missing+=(openssh-client)
	command -v ip >/dev/null || missing+=(iproute2)
	# netavark publishes ports with iptables but does not depend on it in Debian.
	command -v iptables >/dev/null || missing+=(iptables)
	command -v nsenter >/dev/null || missing+=(util-linux)
	command -v flock >/dev/null || missing+=(util-linux)
	command -v curl >/dev/null || missing+=(curl)
	command -v caddy >/dev/null || missing+=(caddy)
	command -v etcd >/dev/null || missing+=(etcd-server)
	# The web console's tests drive a real browser (deck console, e2e/console_test.go).
	command -v chromium >/dev/null || missing+=(chromium)
	if [ ${#missing[@]} -eq 0 ]; then
		return 0
	fi
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# No package may start its service: the tests start their own. Without systemd,
	# invoke-rc.d runs a package's init script (etcd-server's would start a system etcd on
	# port 2379 as user etcd), unless policy-rc.d forbids it (exit 101), Debian's way for
	# this. Container images often ship one; a fresh Debian 12 does not, so one is put in
	# place for the install and removed after.
	local policy=/usr/sbin/policy-rc.d made=0 rc=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# deck testhosts: no service starts while packages install\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made=1
	fi
	# With recommends, as verified on a fresh machine (podman then brings aardvark-dns,
	# fuse-overlayfs, slirp4netns).
	apt-get install -y -qq "${missing[@]}" >/dev/null || rc=$?
	if [ "$made" = 1 ]; then rm -f "$policy"; fi
	return "$rc"
}

# write_host_config writes host I's containers.conf and storage.conf under DIR/hI.
write_host_config() {
	local i=$1 hd="$DIR/h$1"
	mkdir -p "$hd/graphroot" "$hd/runroot" "$hd/tmp" "$hd/networks"
	cat >"$hd/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$hd/runroot"
graphroot = "$hd/graphroot"
EOF
	# The ulimits and runc are what this kind of machine needs (see docs/podman-here.md);
	# they are host configuration, never part of what deck sends.
	cat >"$hd/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$hd/events.log"

[network]
network_config_dir = "$hd/networks"
default_subnet = "10.89.$i.0/24"
EOF
}

# pin_bridge makes the host's container bridge (podman0) before Podman does, with a MAC
# address of its own and a dummy port that never leaves. Debian 12's netavark (1.4) leaves
# the bridge's MAC unset, so Linux gives it the lowest MAC of its ports: when a container
# whose veth had it is removed (every rollout removes containers), the bridge's MAC changes
# and the other containers keep sending their replies to the old one, which the bridge
# drops. Their published ports then time out (seen: new tasks healthy when registered, dead
# a second later when the old tasks stopped) until their ARP entries expire. A MAC set
# explicitly never follows the ports, and the spare port keeps netavark from deleting the
# bridge (and making it again, unpinned) when its last container goes.
pin_bridge() {
	local i=$1 ns
	ns="/var/run/netns/$(ns_name "$i")"
	nsenter --net="$ns" ip link show podman0 >/dev/null 2>&1 && return 0
	nsenter --net="$ns" ip link add podman0 type bridge
	nsenter --net="$ns" ip link set podman0 address "02:de:c0:00:$(printf %02x "$i"):01"
	nsenter --net="$ns" ip addr add "10.89.$i.1/24" dev podman0
	# A veth pair, not a dummy: the dummy module is not always there.
	nsenter --net="$ns" ip link add deckpin0 type veth peer name deckpin1
	nsenter --net="$ns" ip link set deckpin0 master podman0
	nsenter --net="$ns" ip link set deckpin0 up
	nsenter --net="$ns" ip link set deckpin1 up
	nsenter --net="$ns" ip link set podman0 up
}

start_service() {
	local i=$1 hd="$DIR/h$1"
	rm -f "$hd/podman.sock"
	pin_bridge "$i"
	# nsenter, not `ip netns exec`: the latter remounts /sys and runc then finds no cgroups.
	# Run from the host's own folder: conmon writes files (an "oom" marker) into the
	# service's working directory, which must not be the caller's checkout.
	(cd "$hd" && exec nohup nsenter --net="/var/run/netns/$(ns_name "$i")" \
		env CONTAINERS_CONF="$hd/containers.conf" CONTAINERS_STORAGE_CONF="$hd/storage.conf" \
		podman --tmpdir "$hd/tmp" system service --time=0 "unix://$hd/podman.sock") \
		>>"$hd/service.log" 2>&1 </dev/null &
	echo $! >"$hd/service.pid"
}

wait_ready() {
	local i=$1 hd="$DIR/h$1" deadline=$((SECONDS + READY_TIMEOUT))
	until curl -fsS --max-time 2 --unix-socket "$hd/podman.sock" http://d/v4.0.0/libpod/_ping >/dev/null 2>&1; do
		if ! kill -0 "$(cat "$hd/service.pid")" 2>/dev/null; then
			tail -n 20 "$hd/service.log" >&2 || true
			die "h$i: podman service exited (log: $hd/service.log)"
		fi
		[ $SECONDS -lt $deadline ] || die "h$i: podman socket not ready after ${READY_TIMEOUT}s (log: $hd/service.log)"
		sleep 0.05
	done
}

stop_service() {
	local hd="$DIR/h$1" pid
	[ -f "$hd/service.pid" ] || return 0
	pid=$(cat "$hd/service.pid")
	if kill -0 "$pid" 2>/dev/null; then
		# A short grace only: the service finishes draining idle API connections slowly,
		# and the containers belong to conmon, not to it.
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 10); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$hd/service.pid" "$hd/podman.sock"
}

# running reports whether process pid runs. A dead one stays a zombie until PID 1 reaps it,
# which here takes over a second; kill -0 still succeeds on a zombie.
running() {
	local state
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) && [ -n "$state" ] && [ "$state" != Z ]
}

caddy_dir() { echo "${1:-$DIR}/h${2:-1}/caddy"; }

# start_caddy starts Caddy in the LB host's namespace with an empty configuration: only the
# admin API, on a unix socket (it has no authentication, so never on a network), and no
# autosave, so every start is empty as after a crash. deck creates its own server.
start_caddy() {
	local cdir i=${1:-1}
	cdir=$(caddy_dir "$DIR" "$i")
	mkdir -p "$cdir"
	rm -f "$cdir/admin.sock"
	cat >"$cdir/caddy.json" <<EOF
{"admin": {"listen": "unix/$cdir/admin.sock", "config": {"persist": false}}}
EOF
	# Caddy 2.6 binds a new SO_REUSEPORT socket on every config change and closes the old
	# one; without tcp_migrate_req (Linux 5.14+, per network namespace) the kernel resets
	# the connections still queued on the old socket: about one new connection per reload
	# under load. With it they move to the new socket. See README, "The load balancer host".
	# (/proc/sys/net is the writer's namespace's; no procps needed.)
	nsenter --net="/var/run/netns/$(ns_name "$i")" sh -c 'echo 1 >/proc/sys/net/ipv4/tcp_migrate_req' 2>/dev/null ||
		echo "hosts.sh: warning: cannot set net.ipv4.tcp_migrate_req (kernel older than 5.14?): Caddy's reloads may reset new connections" >&2
	# nsenter execs (it forks only to enter a pid namespace), so $! is Caddy's pid. HOME
	# and XDG_* keep Caddy's data and config folders out of /root.
	(cd "$cdir" && exec nohup nsenter --net="/var/run/netns/$(ns_name "$i")" \
		env HOME="$cdir" XDG_CONFIG_HOME="$cdir/config" XDG_DATA_HOME="$cdir/data" \
		caddy run --config "$cdir/caddy.json") >>"$cdir/caddy.log" 2>&1 </dev/null &
	echo $! >"$cdir/caddy.pid"
}

wait_caddy() {
	local cdir deadline=$((SECONDS + READY_TIMEOUT))
	cdir=$(caddy_dir "$DIR" "${1:-1}")
	# Caddy 2.6.2 accepts only an empty Host header on a unix admin socket.
	until curl -fsS --max-time 2 --unix-socket "$cdir/admin.sock" -H 'Host: ' http://caddy/config/ >/dev/null 2>&1; do
		if ! running "$(cat "$cdir/caddy.pid")"; then
			tail -n 20 "$cdir/caddy.log" >&2 || true
			die "caddy exited (log: $cdir/caddy.log)"
		fi
		[ $SECONDS -lt $deadline ] || die "caddy's admin socket not ready after ${READY_TIMEOUT}s (log: $cdir/caddy.log)"
		sleep 0.05
	done
}

# stop_caddy stops the Caddy of DIR d on host i (default 1): TERM, then KILL after half a
# second, because a stopping Caddy waits up to its grace period (deck sets 10 minutes) for
# requests in flight.
stop_caddy() {
	local cdir pid
	cdir=$(caddy_dir "${1:-$DIR}" "${2:-1}")
	[ -f "$cdir/caddy.pid" ] || return 0
	pid=$(cat "$cdir/caddy.pid")
	if running "$pid"; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 10); do running "$pid" || break; sleep 0.05; done
		kill -9 "$pid" 2>/dev/null || true
		for _ in $(seq 100); do running "$pid" || break; sleep 0.01; done
	fi
	rm -f "$cdir/caddy.pid" "$cdir/admin.sock"
}

etcd_dir() { echo "${1:-$DIR}/etcd"; }

# start_etcd starts a single-member etcd for tests, in the root namespace on 127.0.0.1
# (controllers run there), with its data in DIR/etcd, and waits until it is healthy.
start_etcd() {
	local port=$1 peer=$2 ed deadline=$((SECONDS + READY_TIMEOUT))
	[[ $port =~ ^[0-9]+$ && $peer =~ ^[0-9]+$ ]] || die "etcd-start: --port and --peer-port must be numbers"
	command -v etcd >/dev/null || die "etcd is not installed (hosts.sh install installs etcd-server)"
	ed=$(etcd_dir)
	stop_etcd "$DIR"
	mkdir -p "$ed"
	# ETCD_* variables in the caller's environment would override these flags.
	(cd "$ed" && exec nohup env -u ETCD_NAME -u ETCD_DATA_DIR etcd --name deck-test --data-dir "$ed/data" \
		--listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
		--listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
		--initial-cluster "deck-test=http://127.0.0.1:$peer" --initial-cluster-state new \
		--logger zap --log-outputs stderr) >>"$ed/etcd.log" 2>&1 </dev/null &
	echo $! >"$ed/etcd.pid"
	until curl -fsS --max-time 2 "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"health":"true"'; do
		if ! running "$(cat "$ed/etcd.pid")"; then
			tail -n 20 "$ed/etcd.log" >&2 || true
			die "etcd exited (log: $ed/etcd.log)"
		fi
		[ $SECONDS -lt $deadline ] || die "etcd not healthy after ${READY_TIMEOUT}s (log: $ed/etcd.log)"
		sleep 0.05
	done
	echo "http://127.0.0.1:$port"
}

# stop_etcd kills the etcd of DIR d (a throwaway: no graceful stop) and removes its data.
stop_etcd() {
	local ed pid
	ed=$(etcd_dir "$1")
	[ -d "$ed" ] || return 0
	if [ -f "$ed/etcd.pid" ]; then
		pid=$(cat "$ed/etcd.pid")
		kill -9 "$pid" 2>/dev/null || true
		for _ in $(seq 200); do running "$pid" || break; sleep 0.01; done
	fi
	rm -rf "$ed"
}

setup_network() {
	local i=$1 ns veth addr
	ns=$(ns_name "$i") veth=$(veth_name "$i") addr=$(addr_of "$i")
	ip netns add "$ns"
	ip link add "$veth" type veth peer name eth0 netns "$ns"
	ip link set "$veth" master "$BRIDGE" up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$addr/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via "$SUBNET_PREFIX.1"
	wait_link "$veth"
}

# wait_link waits until the host's veth carries traffic: the kernel reports a carrier
# change up to a second after `ip link set up`, and the bridge forwards only then, so a
# connection tried before is dropped and waits out a TCP retransmit.
wait_link() {
	local veth=$1 tries=0
	until [ "$(cat "/sys/class/net/$veth/operstate" 2>/dev/null)" = up ] &&
		[ "$(cat "/sys/class/net/$veth/brport/state" 2>/dev/null)" = 3 ]; do
		tries=$((tries + 1))
		[ "$tries" -le 100 ] || die "$veth did not come up within 5 s"
		sleep 0.05
	done
}

setup_ssh() {
	local k=$1 sd="$DIR/ssh" addr
	addr=$(addr_of "$k")
	mkdir -p "$sd" /run/sshd
	chmod 700 "$sd"
	ssh-keygen -q -t ed25519 -N '' -C deck-testhosts-client -f "$sd/id_ed25519"
	ssh-keygen -q -t ed25519 -N '' -C deck-testhosts-host -f "$sd/host_ed25519"
	cp "$sd/id_ed25519.pub" "$sd/authorized_keys"
	echo "$addr $(cut -d' ' -f1,2 "$sd/host_ed25519.pub")" >"$sd/known_hosts"
	cat >"$sd/sshd_config" <<EOF
ListenAddress $addr
Port 22
HostKey $sd/host_ed25519
PidFile $sd/sshd.pid
AuthorizedKeysFile $sd/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowStreamLocalForwarding yes
PrintMotd no
EOF
	nsenter --net="/var/run/netns/$(ns_name "$k")" /usr/sbin/sshd -f "$sd/sshd_config" -E "$sd/sshd.log"
}

write_hosts_file() {
	local n=$1 k=$2 i out="$DIR/hosts.yaml"
	: >"$out.tmp"
	for i in $(seq "$n"); do
		if [ "$i" = "$k" ]; then
			cat >>"$out.tmp" <<EOF
- name: h$i
  url: ssh://root@$(addr_of "$i")$DIR/h$i/podman.sock
  address: $(addr_of "$i")
  identity: $DIR/ssh/id_ed25519
  known_hosts: $DIR/ssh/known_hosts
  attributes: {zone: $(zone_of "$i")}
EOF
		else
			cat >>"$out.tmp" <<EOF
- name: h$i
  url: unix://$DIR/h$i/podman.sock
  address: $(addr_of "$i")
  attributes: {zone: $(zone_of "$i")}
EOF
		fi
	done
	mv "$out.tmp" "$out"
}

cmd_up() {
	local n=$1 k=$2 i
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 200 ] || die "up: N must be 1..200"
	[[ $k =~ ^[0-9]+$ ]] && [ "$k" -le "$n" ] || die "up: --ssh K must be 1..N"
	cmd_install
	teardown_all
	mkdir -p "$DIR"
	echo "$DIR" >"$STATE"
	ip link add "$BRIDGE" type bridge
	ip addr add "$SUBNET_PREFIX.1/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	for i in $(seq "$n"); do
		setup_network "$i"
		write_host_config "$i"
		start_service "$i"
	done
	if [ "$k" -gt 0 ]; then
		setup_ssh "$k"
	fi
	for i in $(lb_hosts "$n"); do start_caddy "$i"; done
	for i in $(seq "$n"); do wait_ready "$i"; done
	for i in $(lb_hosts "$n"); do wait_caddy "$i"; done
	write_hosts_file "$n" "$k"
	echo "$DIR/hosts.yaml"
}

# remove_dir stops what runs from DIR d and deletes it.
remove_dir() {
	local d=$1 hd i pid
	[ -n "$d" ] && [ -d "$d" ] || return 0
	for hd in "$d"/h*/; do
		[ -f "$hd/containers.conf" ] || continue
		hd=${hd%/}
		i=${hd##*/h}
		# Hosts in parallel; containers first, through the host's own config, whether or
		# not its service is up.
		(
			if [ -e "/var/run/netns/$(ns_name "$i")" ]; then
				timeout 30 nsenter --net="/var/run/netns/$(ns_name "$i")" \
					env CONTAINERS_CONF="$hd/containers.conf" CONTAINERS_STORAGE_CONF="$hd/storage.conf" \
					podman --tmpdir "$hd/tmp" rm -af -t 1 >/dev/null 2>&1 || true
			fi
			DIR=$d stop_service "$i"
		) &
	done
	wait
	for hd in "$d"/h*/caddy; do
		[ -d "$hd" ] || continue
		hd=${hd%/caddy}
		stop_caddy "$d" "${hd##*/h}"
	done
	stop_etcd "$d"
	if [ -f "$d/ssh/sshd.pid" ]; then
		pid=$(cat "$d/ssh/sshd.pid")
		kill "$pid" 2>/dev/null || true
	fi
	# Storage mounts left behind (overlay) would make rm fail with "busy".
	awk -v d="$d/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf "$d"
}

# teardown_all removes every trace of test hosts: processes in their namespaces, the
# namespaces, veths, the bridge, and the DIRs recorded in STATE and given by --dir.
teardown_all() {
	local ns pids link
	remove_dir "$DIR"
	if [ -f "$STATE" ]; then
		remove_dir "$(cat "$STATE")"
		rm -f "$STATE"
	fi
	for ns in $(ip netns list 2>/dev/null | awk '/^deck-h[0-9]+/ { print $1 }'); do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086
			kill -9 $pids 2>/dev/null || true
		fi
		ip netns delete "$ns" 2>/dev/null || true
	done
	for link in $(ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -E '^deckv[0-9]+$' || true); do
		ip link delete "$link" 2>/dev/null || true
	done
	ip link delete "$BRIDGE" 2>/dev/null || true
}

cmd_down() {
	teardown_all
}

host_index() {
	[[ ${1:-} =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] || die "expected a host index (1..N), got '${1:-}'"
	echo "$1"
}

current_dir() {
	# A host-level command acts on the hosts that are up, wherever they live.
	if [ "$DIR_GIVEN" = 0 ] && [ -f "$STATE" ]; then
		DIR=$(cat "$STATE")
	fi
	[ -d "$DIR" ] || die "no hosts are up in $DIR"
}

main() {
	[ $# -ge 1 ] || die "usage: hosts.sh install|up N [--ssh K] [--dir DIR]|down|partition I|heal I|stop I|start I|lb-stop [I]|lb-start [I]|lb-restart [I]|etcd-start [--port P]|etcd-stop"
	local cmd=$1 n=0 k=0 port=23790 peer="" args=()
	shift
	DIR_GIVEN=0
	while [ $# -gt 0 ]; do
		case $1 in
		--dir) DIR=${2:?--dir needs a value}; DIR_GIVEN=1; shift 2 ;;
		--ssh) k=${2:?--ssh needs a value}; shift 2 ;;
		--port) port=${2:?--port needs a value}; shift 2 ;;
		--peer-port) peer=${2:?--peer-port needs a value}; shift 2 ;;
		*) args+=("$1"); shift ;;
		esac
	done
	case $cmd in
	etcd-start | etcd-stop) ;; # etcd needs no privileges
	*) [ "$(id -u)" = 0 ] || die "must run as root (it creates network namespaces)" ;;
	esac
	case $DIR in /*) ;; *) die "--dir must be absolute" ;; esac
	DIR=${DIR%/}
	case $cmd in
	up | down)
		if [ "${DECK_TESTHOSTS_LOCKED:-}" != 1 ] && [ -e "$LOCK" ] && ! flock -n "$LOCK" true; then
			die "$cmd: a test run holds $LOCK and is using the hosts; wait for it to finish"
		fi
		;;
	esac
	case $cmd in
	install) cmd_install ;;
	up) n=${args[0]:-}; [ -n "$n" ] || die "up: missing N"; cmd_up "$n" "$k" ;;
	down) cmd_down ;;
	partition) ip link set "$(veth_name "$(host_index "${args[0]:-}")")" down ;;
	heal)
		local veth
		veth=$(veth_name "$(host_index "${args[0]:-}")")
		ip link set "$veth" up
		wait_link "$veth"
		;;
	stop) current_dir; stop_service "$(host_index "${args[0]:-}")" ;;
	start)
		current_dir
		local i
		i=$(host_index "${args[0]:-}")
		stop_service "$i"
		start_service "$i"
		wait_ready "$i"
		;;
	lb-stop) current_dir; stop_caddy "$DIR" "${args[0]:-1}" ;;
	lb-start | lb-restart)
		current_dir
		stop_caddy "$DIR" "${args[0]:-1}"
		start_caddy "${args[0]:-1}"
		wait_caddy "${args[0]:-1}"
		;;
	etcd-start) start_etcd "$port" "${peer:-$((port + 10))}" ;;
	etcd-stop) stop_etcd "$DIR" ;;
	*) die "unknown command $cmd" ;;
	esac
}

main "$@"
