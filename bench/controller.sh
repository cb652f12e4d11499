#!/usr/bin/env bash
# deck controller's figures on real Podman hosts (3 hosts, h3 over ssh, Caddy on h1):
#   kill    `podman kill` of one of 3 tasks of examples/hello -> the controller (following
#           the hosts' event streams) has a healthy replacement registered with Caddy and
#           the dead task gone: deck status shows 3 running, healthy, registered tasks.
#           ROUNDS (5) kills, median and max. Target: < 2 s.
#   cut     h3 cut off the network (its task's place is kept for host_grace, 3s) -> 3
#           healthy registered tasks, none on h3 (deck status with --host-timeout 1s, so
#           the probe itself waits little on the cut host). Target: < grace + 5 s. Then h3 returns
#           and the time until its stale task is stopped (count exactly 3).
#   steady  60 tasks on the 3 hosts, controller resync every 1s: the mean reconcile
#           duration from its /metrics over 20 resyncs, then the controller's CPU use over
#           IDLE_SECS (30) with the default 30s resync (events and health checks only).
# Needs bin/deck and examples/hello/hello (make build examples), curl and jq. Holds the
# test hosts' lock as the other bench scripts do and tears its hosts down on exit.
set -euo pipefail
shopt -s inherit_errexit
root=$(cd "$(dirname "$0")/.." && pwd)
deck="$root/bin/deck"
hosts_sh="$root/testhosts/hosts.sh"
rounds=${ROUNDS:-5}
idle_secs=${IDLE_SECS:-30}
dir=${DECK_TESTHOSTS_DIR:-/run/deck-testhosts}
lock=/run/deck-testhosts.lock
bench_name=bench/controller
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
metrics=127.0.0.1:19470

for tool in curl jq "$deck" "$root/examples/hello/hello"; do
	command -v "$tool" >/dev/null || { echo "bench/controller: $tool is missing (make build examples deps)" >&2; exit 1; }
done
work=$(mktemp -d)
ctl_pid=
hosts_are_up=0
cleanup() {
	[ -n "$ctl_pid" ] && { kill "$ctl_pid" 2>/dev/null || true; wait "$ctl_pid" 2>/dev/null || true; }
	[ "$hosts_are_up" = 1 ] && { "$hosts_sh" heal 3 --dir "$dir" >/dev/null 2>&1 9>&- || true; "$hosts_sh" down --dir "$dir" >/dev/null 2>&1 9>&- || true; }
	cd /
	rm -rf "$work"
}
trap cleanup EXIT

lock_hosts
log "starting 3 hosts"
"$hosts_sh" up 3 --ssh 3 --dir "$dir" >/dev/null 9>&-
hosts_are_up=1
app="$work/app"
cp -r "$root/examples/hello" "$app"
export DECK_HOSTS_FILE="$dir/hosts.yaml" NO_COLOR=1
cd "$app"

write_app() { # resync
	cat >deck.yaml <<YAML
app: hello
environments:
  test:
    hosts_file: $dir/hosts.yaml
    load_balancers:
      - {name: edge, host: h1, provider: caddy, listen: 10.77.0.11:80, admin: $dir/h1/caddy/admin.sock}
    controller: {host_grace: 3s, resync: $1, lease: 5s}
YAML
}
write_service() { # count
	cat >deck/hello.yaml <<YAML
name: hello
type: Load Balanced Web Service
image: {build: ., port: 8080}
cpu: 16
memory: 16
count: $1
variables: {GREETING: bench}
healthcheck: {path: /healthz, interval: 500ms, timeout: 1s, retries: 3}
http:
  path: /
  deregistration_delay: 2s
  healthcheck: {path: /healthz, healthy_threshold: 2, interval: 1s, timeout: 500ms}
stop_timeout: 2s
YAML
}
start_controller() {
	"$deck" controller --listen "$metrics" 2>"$work/controller.log" 9>&- &
	ctl_pid=$!
	until grep -q 'msg=leading' "$work/controller.log"; do sleep 0.05; done
	until curl -fsS "http://$metrics/healthz" 2>/dev/null | jq -e '.[0].LastReconcile != "0001-01-01T00:00:00Z"' >/dev/null; do sleep 0.05; done
}
stop_controller() { kill "$ctl_pid"; wait "$ctl_pid" || true; ctl_pid=; }

# serving N [not-host] [not-task]: deck status shows N running, healthy, registered tasks,
# none on not-host, none with id not-task.
serving() {
	"$deck" status -o json --host-timeout 1s 2>/dev/null | jq -e --argjson n "$1" --arg h "${2:-}" --arg t "${3:-}" \
		'[.services[0].tasks[] | select(.state == "running" and .healthy and ((.registered // []) | length > 0)
		  and .host != $h and .id != $t)] | length == $n' >/dev/null
}
# a running task of hello on host h1: "container-id task-id"
victim() {
	curl -fsS --unix-socket "$dir/h1/podman.sock" -G "http://d/v4.0.0/libpod/containers/json" \
		--data-urlencode 'filters={"label":["deck.app=hello"],"status":["running"]}' |
		jq -r '.[0] | "\(.Id) \(.Labels["deck.task"])"'
}

write_app 30s
write_service 3
"$deck" deploy --yes >/dev/null
start_controller
log "kill -> replacement serving, $rounds rounds"
: >"$work/kill"
for _ in $(seq "$rounds"); do
	read -r cid tid < <(victim)
	t0=$(now_ms)
	curl -fsS --unix-socket "$dir/h1/podman.sock" -X POST "http://d/v4.0.0/libpod/containers/$cid/kill" >/dev/null
	until serving 3 "" "$tid"; do sleep 0.02; done
	echo $(($(now_ms) - t0)) | tee -a "$work/kill" >&2
done

log "cut h3 off"
t0=$(now_ms)
"$hosts_sh" partition 3 --dir "$dir" >/dev/null 9>&-
until serving 3 h3; do sleep 0.05; done
cut=$(($(now_ms) - t0))
"$hosts_sh" heal 3 --dir "$dir" >/dev/null 9>&-
t0=$(now_ms)
# stale_gone: h3 answers again, its stale task is stopped, and exactly 3 tasks run.
stale_gone() {
	"$deck" status -o json --host-timeout 1s 2>/dev/null | jq -e '([.hosts[] | select(.name == "h3" and .reachable)] | length == 1)
		and ([.services[0].tasks[] | select(.state == "running")] | length == 3)
		and ([.services[0].tasks[] | select(.host == "h3")] | length == 0)' >/dev/null
}
until stale_gone; do sleep 0.1; done
back=$(($(now_ms) - t0))
stop_controller

log "steady: 60 tasks"
write_service 60
"$deck" deploy --yes >/dev/null
write_app 1s
start_controller
m0=$(curl -fsS "http://$metrics/metrics" | awk '/^deck_reconcile_duration_seconds_(sum|count)/ {print $2}' | paste -sd' ')
sleep 21
m1=$(curl -fsS "http://$metrics/metrics" | awk '/^deck_reconcile_duration_seconds_(sum|count)/ {print $2}' | paste -sd' ')
reconcile=$(echo "$m0 $m1" | awk '{printf "%.0f", ($3-$1)/($4-$2)*1000}')
count=$(echo "$m0 $m1" | awk '{print $4-$2}')
stop_controller
write_app 30s
start_controller
tick=$(getconf CLK_TCK)
c0=$(awk '{print $14+$15}' "/proc/$ctl_pid/stat")
sleep "$idle_secs"
c1=$(awk '{print $14+$15}' "/proc/$ctl_pid/stat")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$ctl_pid/status")
idle=$(echo "$c0 $c1 $tick $idle_secs" | awk '{printf "%.2f", ($2-$1)/$3/$4*100}')
stop_controller

echo
echo "deck controller, 3 hosts (h3 over ssh), Caddy on h1"
printf '%-52s %s\n' "kill -> healthy replacement serving (median / max)" "$(median <"$work/kill") / $(sort -n "$work/kill" | tail -1) ms  (target < 2000)"
printf '%-52s %s\n' "host cut -> tasks rescheduled and serving (grace 3s)" "$cut ms  (target < 8000)"
printf '%-52s %s\n' "host back -> its stale task stopped" "$back ms"
printf '%-52s %s\n' "reconcile, 60 tasks on 3 hosts (mean of $count)" "$reconcile ms"
printf '%-52s %s\n' "idle controller, 60 tasks: CPU over ${idle_secs}s / RSS" "$idle% of one core / $((rss / 1024)) MiB"
