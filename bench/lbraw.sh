#!/usr/bin/env bash
# The load balancer's floor: what Caddy costs per request, before deck adds anything.
#
# Starts two examples/hello processes on 127.0.0.1 and a private Caddy (admin API on a unix
# socket in a temp dir, config pushed with POST /load as deck's Caddy provider does) that
# reverse-proxies one port to both. Then bin/loadgen sends GETs as fast as 16 keep-alive
# connections allow for DURATION (5s), (a) straight to one hello and (b) through Caddy,
# ROUNDS (3) interleaved rounds after a 1s warm-up of each, and prints the medians of the
# achieved rate and p99 with the ratio through Caddy / direct.
#
# Everything runs on this machine: loadgen, Caddy and hello share its CPUs, so the figures
# are the cost of a hop on a busy host, not Caddy's ceiling. Needs bin/loadgen,
# examples/hello/hello (make build examples), caddy, curl and jq.
set -euo pipefail
shopt -s inherit_errexit
root=$(cd "$(dirname "$0")/.." && pwd)
loadgen="$root/bin/loadgen"
hello="$root/examples/hello/hello"
rounds=${ROUNDS:-3}
duration=${DURATION:-5s}
conns=${CONNS:-16}

for tool in caddy curl jq "$loadgen" "$hello"; do
	command -v "$tool" >/dev/null || { echo "lbraw: $tool is missing (make build examples deps)" >&2; exit 1; }
done

dir=$(mktemp -d /tmp/deck-lbraw.XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a TCP port nothing listens on (a small race with other programs; a
# start that loses it fails below, with its log).
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		[ -z "$(ss -Hltn "sport = :$p")" ] && { echo "$p"; return; }
	done
}

# wait_for URL [curl options]: until URL answers 2xx, at most 10s.
wait_for() {
	local url=$1 i
	shift
	for i in $(seq 200); do
		curl -sf -o /dev/null "$@" "$url" && return
		sleep 0.05
	done
	echo "lbraw: $url did not answer in 10s; logs:" >&2
	tail -n 20 "$dir"/*.log >&2
	exit 1
}

backends=()
for i in 1 2; do
	port=$(free_port)
	PORT=$port DECK_TASK_ID="t$i" DECK_HOST=local DECK_SERVICE=hello DECK_REVISION=1 \
		"$hello" >"$dir/hello$i.log" 2>&1 &
	pids+=($!)
	wait_for "http://127.0.0.1:$port/healthz"
	backends+=("$port")
done

# Caddy starts with nothing but its admin socket; the proxy comes in one POST /load.
# On a unix socket, Caddy 2.6.2 allows only an empty Host header unless origins says
# otherwise; Go's HTTP client sends the URL's host in place of an empty one (Caddy's own
# CLI sends " ", a hack), so origins names the host every client can send.
sock="$dir/admin.sock"
admin=$(jq -n --arg l "unix/$sock" '{listen: $l, origins: ["localhost"], config: {persist: false}}')
jq -n --argjson admin "$admin" '{admin: $admin}' >"$dir/boot.json"
HOME=$dir XDG_DATA_HOME=$dir/data XDG_CONFIG_HOME=$dir/config \
	caddy run --config "$dir/boot.json" >"$dir/caddy.log" 2>&1 &
pids+=($!)
wait_for http://localhost/config/ --unix-socket "$sock"

lb=$(free_port)
jq -n --argjson admin "$admin" --arg listen "127.0.0.1:$lb" --arg dir "$dir" \
	--arg b1 "127.0.0.1:${backends[0]}" --arg b2 "127.0.0.1:${backends[1]}" '{
	admin: $admin,
	storage: {module: "file_system", root: ($dir + "/data")},
	logging: {logs: {default: {level: "ERROR"}}},
	apps: {http: {servers: {lb: {
		listen: [$listen],
		automatic_https: {disable: true},
		routes: [{handle: [{handler: "reverse_proxy", upstreams: [{dial: $b1}, {dial: $b2}]}]}]
	}}}}
}' >"$dir/caddy.json"
curl -sf --unix-socket "$sock" -H 'Content-Type: application/json' --data-binary @"$dir/caddy.json" \
	http://localhost/load || { echo "lbraw: caddy refused the config" >&2; tail "$dir/caddy.log" >&2; exit 1; }
wait_for "http://127.0.0.1:$lb/"

direct="http://127.0.0.1:${backends[0]}/"
proxied="http://127.0.0.1:$lb/"

# measure NAME URL DURATION: one loadgen run; appends "rate p99_ns failed" to $dir/NAME.
measure() {
	"$loadgen" -url "$2" -rate 0 -conns "$conns" -duration "$3" -json >"$dir/out.json"
	jq -r '"\(.rate) \(.p99_ns) \(.failed)"' "$dir/out.json" >>"$dir/$1"
}

measure warm "$direct" 1s
measure warm "$proxied" 1s
for _ in $(seq "$rounds"); do
	measure direct "$direct" "$duration"
	measure caddy "$proxied" "$duration"
done

# median FILE COLUMN
median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
failed() { awk '{n+=$3} END {print n+0}' "$1"; }

d_rate=$(median "$dir/direct" 1) d_p99=$(median "$dir/direct" 2)
c_rate=$(median "$dir/caddy" 1) c_p99=$(median "$dir/caddy" 2)
echo "Caddy $(caddy version | cut -d' ' -f1) vs direct: $conns connections at full speed, $duration x $rounds rounds, medians, $(nproc) CPUs shared by all"
awk -v dr="$d_rate" -v dp="$d_p99" -v cr="$c_rate" -v cp="$c_p99" -v df="$(failed "$dir/direct")" -v cf="$(failed "$dir/caddy")" 'BEGIN {
	printf "%-24s %10s %10s %8s\n", "", "req/s", "p99", "failed"
	printf "%-24s %10.0f %8.2fms %8d\n", "direct (1 hello)", dr, dp/1e6, df
	printf "%-24s %10.0f %8.2fms %8d\n", "through caddy (2 hello)", cr, cp/1e6, cf
	printf "%-24s %10.2f %9.2fx\n", "caddy / direct", cr/dr, cp/dp
}'
