#!/usr/bin/env bash
# The load balancer's figures on real Podman hosts, each beside a baseline measured in the
# same run: what routing through Caddy adds to deck's deploys, how long a rollback takes,
# and what a rollout does to requests going through the balancer.
#
# 3 hosts (testhosts/hosts.sh; h3 reached over ssh; Caddy on h1, listening on 10.77.0.11:80,
# as examples/hello's deck.yaml says). The app is a copy of examples/hello with 6 tasks and
# fast health checks (container check every 500ms, timeout 1s; the balancer's target check
# healthy_threshold 2 every 1s, timeout 500ms; deregistration_delay 5s). The baseline app
# is the same copy with the environment's load_balancers removed from deck.yaml.
#
# ROUNDS (3) interleaved rounds (LB and no-LB alternate which goes first), each:
#   cold     deck deploy --yes from nothing, 6 tasks. With the LB: until all 6 answer
#            through 10.77.0.11:80 — deck returns once it registered them, so right after it
#            exits 30 requests go through the balancer and must come from 6 distinct tasks
#            (round robin); if not, the check repeats every 100ms and the time includes the
#            wait. Without: until deck exits (all tasks healthy).
#   rolling  a deploy that replaces all 6 tasks (GREETING changes), LB vs no LB, each
#            right after its cold deploy.
#   rollback deploys GREETING=hello (revision 1's task definition: the warm-up recorded it),
#            then two other revisions, then times `deck rollback hello --to 1 --yes`, and
#            checks that 6 tasks answer "hello" through the balancer. Target: < 5 s.
#   load     bin/loadgen at RATE (500) req/s over CONNS (16) connections: LOAD_SECS (10)
#            seconds through the balancer at rest, the same straight to one task (one that
#            answers, not on h1 when another does), then through the balancer during a
#            rolling deploy (started before deck, stopped with SIGTERM once deck exits).
#            p99 during the rollout vs at rest, max, and the failed requests (target: 0;
#            their kinds and first samples are printed). VERBOSE=1 also prints, for each
#            rollout, when its slowest requests were sent beside deck's route events.
# Figures are medians over the rounds; deploy times are wall clock from deck's start. Every
# cleanup (deck delete) happens outside the timed part, followed by SETTLE (1) seconds. A
# deck command that fails is shown with its whole output, counted as "fail" in the raw
# figures and left out of the median. Tasks deck found unhealthy on the way (and replaced),
# and drains cut short by the deregistration delay, are listed after the table.
#
# The hosts' Podman bridges have a fixed MAC address (testhosts/hosts.sh pin_bridge): with
# netavark 1.4 it changes as tasks come and go otherwise, and tasks lose their replies.
#
# The test hosts are shared with the Go tests: the script holds /run/deck-testhosts.lock
# (as bench/deploy.sh does; it waits while a test holds it) and tears its hosts down on exit.
# Needs bin/deck, bin/loadgen, examples/hello/hello (make build examples), curl and jq.
set -euo pipefail
shopt -s inherit_errexit
[ -n "${BENCH_TRACE:-}" ] && set -x
root=$(cd "$(dirname "$0")/.." && pwd)
deck="$root/bin/deck"
loadgen="$root/bin/loadgen"
hosts_sh="$root/testhosts/hosts.sh"
rounds=${ROUNDS:-3}
settle=${SETTLE:-1}
rate=${RATE:-500}
conns=${CONNS:-16}
load_secs=${LOAD_SECS:-10}
tasks=6
dir=${DECK_TESTHOSTS_DIR:-/run/deck-testhosts}
lock=/run/deck-testhosts.lock
bench_name=bench/lb
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
lb_addr=10.77.0.11:80
lb_url="http://$lb_addr/"

for tool in curl jq "$deck" "$loadgen" "$root/examples/hello/hello"; do
	command -v "$tool" >/dev/null || { echo "bench/lb: $tool is missing (make build examples deps)" >&2; exit 1; }
done

work=$(mktemp -d)
table="$work/table"
failures="$work/failures"
hosts_are_up=0
load_pid=
cleanup() {
	if [ -n "$load_pid" ]; then kill -TERM "$load_pid" 2>/dev/null || true; wait "$load_pid" 2>/dev/null || true; fi
	# A run that stops half way still shows what it measured, and why it stopped.
	[ -s "$table" ] && print_table "partial, the run stopped"
	[ -s "$failures" ] && { echo; echo "deck failed:"; cat "$failures"; }
	[ "$hosts_are_up" = 1 ] && "$hosts_sh" down --dir "$dir" >/dev/null 2>&1 9>&- || true
	cd /
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export NO_COLOR=1

# --- the shared test hosts (as bench/deploy.sh) ----------------------------------------

# hosts_up: the lock's descriptor is closed for hosts.sh, so the daemons it starts do not
# keep the lock after this script.
hosts_up() {
	log "starting 3 hosts (h3 over ssh, Caddy on h1)"
	"$hosts_sh" up 3 --ssh 3 --dir "$dir" >/dev/null 9>&-
	hosts_are_up=1
	export DECK_HOSTS_FILE="$dir/hosts.yaml"
}

# --- the app --------------------------------------------------------------------------

# prepare_app copies examples/hello with 6 tasks and fast checks, and keeps two deck.yaml
# (outside the app, so neither is in a build context): with the environment's
# load_balancers, and without. The target check's timeout must be below its 1s interval.
prepare_app() {
	app="$work/app"
	cp -r "$root/examples/hello/." "$app/"
	local svc="$app/deck/hello.yaml"
	sed -i -e "s/^count: .*/count: $tasks/" \
		-e '/^healthcheck:/,/^[^ ]/{s/^  interval: .*/  interval: 500ms/; s/^  timeout: .*/  timeout: 1s/}' \
		-e '/^  healthcheck:/,/^[^ ]/{s/^    healthy_threshold: .*/    healthy_threshold: 2/; s/^    interval: .*/    interval: 1s/; s/^    timeout: .*/    timeout: 500ms/}' \
		-e 's/^  deregistration_delay: .*/  deregistration_delay: 5s/' "$svc"
	for want in "count: $tasks" "  interval: 500ms" "  timeout: 1s" "    healthy_threshold: 2" "    interval: 1s" \
		"    timeout: 500ms" "  deregistration_delay: 5s" "  GREETING: hello"; do
		grep -qx "$want" "$svc" || { log "examples/hello/deck/hello.yaml changed shape: no \"$want\" after editing"; exit 1; }
	done
	cp "$app/deck.yaml" "$work/deck.lb.yaml"
	# load_balancers: and its indented lines (and the comment just above it) go.
	awk '/^    load_balancers:/ {skip=1; next}
	     skip && /^      / {next}
	     {skip=0; print}' "$app/deck.yaml" | grep -v "Caddy on h1" >"$work/deck.nolb.yaml"
	! grep -q load_balancers "$work/deck.nolb.yaml" || { log "could not remove load_balancers from deck.yaml"; exit 1; }
	grep -q "listen: .*${lb_addr}" "$work/deck.lb.yaml" || { log "examples/hello's balancer no longer listens on $lb_addr"; exit 1; }
}

# use lb|nolb: the deck.yaml the next deck commands read.
use() { cp "$work/deck.$1.yaml" "$app/deck.yaml"; cfg=$1; }
greeting() { sed -i "s/^  GREETING: .*/  GREETING: $1/" "$app/deck/hello.yaml"; }

# deck_do runs deck in the app's folder, its output in $work/deck.log. On failure the whole
# output goes to stderr and into the failures printed at the end. Either way, what deck
# did beyond the asked-for change goes into the notes printed at the end: tasks it found
# unhealthy (and replaced), drains cut short by the deregistration delay.
deck_do() {
	local rc=0
	(cd "$app" && "$deck" "$@") >"$work/deck.log" 2>&1 || rc=$?
	grep -E '^20[0-9-]+T.*(task-stopping .*task is unhealthy|deregistration delay .* passed)' "$work/deck.log" |
		sed -E "s|^[^ ]+ +||; s|^|  $(date +%T) deck $* (${cfg:-lb}): |" | cut -c1-240 >>"$work/notes" || true
	if [ "$rc" != 0 ]; then
		{
			echo "--- $(date +%T) deck $* (deck.yaml ${cfg:-lb}) failed:"
			grep -v '^  endpoints:' "$work/deck.log" | cut -c1-400
		} >>"$failures"
		log "deck $* failed:"
		grep -v '^  endpoints:' "$work/deck.log" | cut -c1-400 >&2
		return 1
	fi
}

# delete removes the app's tasks (and its route), then lets the hosts settle. Nothing to
# delete (a deploy failed before starting any) is fine; any other failure leaves
# containers a cold deploy would find: that stops the run.
delete() {
	if ! (cd "$app" && "$deck" delete hello --yes) >"$work/deck.log" 2>&1; then
		if ! grep -q 'has no tasks in app hello.*nothing to delete' "$work/deck.log"; then
			{ echo "--- $(date +%T) deck delete hello --yes (deck.yaml ${cfg:-lb}) failed:"; cut -c1-400 "$work/deck.log"; } >>"$failures"
			log "deck delete failed; stopping:"
			cut -c1-400 "$work/deck.log" >&2
			exit 1
		fi
	fi
	sleep "$settle"
}

# serving_tasks [GREETING]: how many distinct tasks answered 30 requests through the
# balancer (with GREETING, only answers that start with it count).
serving_tasks() {
	local urls=() i
	for i in $(seq 30); do urls+=("$lb_url"); done
	{ curl -sf --max-time 5 "${urls[@]}" || true; } |
		grep "^${1:-}" | grep -o 'task [0-9a-f]*' | sort -u | grep -c . || true
}

# wait_serving T0 [GREETING]: prints "MS FIRST", MS the time from T0 until all tasks answer
# through the balancer (the moment deck exited when they do right away, else the end of
# the first check that found them all; "fail" after 30 s), FIRST the tasks the first check
# found.
wait_serving() {
	local t0=$1 t1 first n deadline
	t1=$(now_ms)
	first=$(serving_tasks "${2:-}")
	[ "$first" -lt "$tasks" ] || { echo "$((t1 - t0)) $first"; return; }
	deadline=$((t1 + 30000))
	while [ "$(now_ms)" -lt "$deadline" ]; do
		sleep 0.1
		n=$(serving_tasks "${2:-}")
		[ "$n" -lt "$tasks" ] || { echo "$(($(now_ms) - t0)) $first"; return; }
	done
	echo "fail $first"
}

# warm_up deploys once with the balancer, GREETING=hello: the image is built and copied to
# every host, and revision 1 is that task definition (rollbacks return to it).
warm_up() {
	log "warm-up deploy (builds the image, copies it to every host; records revision 1)"
	use lb
	greeting hello
	deck_do deploy --yes
	local rev
	rev=$(cd "$app" && "$deck" history hello -o json | jq -r '[.revisions[].revision] | max')
	[ "$rev" = 1 ] || { log "the warm-up deploy recorded revision $rev, not 1 (hosts with an old history?)"; exit 1; }
	delete
}

# --- the blocks of a round -------------------------------------------------------------

declare -A res # KEY -> space-separated per-round figures

add() { res[$1]="${res[$1]:-}${res[$1]:+ }$2"; }

# deploy_block lb|nolb ROUND: a timed cold deploy (with lb: to serving), a timed rolling
# deploy over it, then delete.
deploy_block() {
	local kind=$1 r=$2 t0 t1 cold=fail first=- roll=fail
	use "$kind"
	greeting hello
	t0=$(now_ms)
	if deck_do deploy --yes; then
		t1=$(now_ms)
		if [ "$kind" = lb ]; then
			read -r cold first < <(wait_serving "$t0")
			add cold_first "$first"
		else
			cold=$((t1 - t0))
		fi
		sleep "$settle"
		greeting "roll$r"
		t0=$(now_ms)
		deck_do deploy --yes && roll=$(($(now_ms) - t0))
		# Not timed: do all the new tasks answer through the balancer once deck is done?
		[ "$kind" = lb ] && add roll_serving "$(serving_tasks "roll$r")"
	fi
	add "cold_$kind" "$cold"
	add "roll_$kind" "$roll"
	log "round $r, $kind: cold $cold ms${first:+ (first check: $first tasks)}, rolling $roll ms"
	delete
}

# rollback_block ROUND: revisions hello (revision 1's definition), rb$r-a, rb$r-b, then the
# timed rollback to 1. Leaves the app running (the load block goes on from there).
rollback_block() {
	local r=$1 t0 ms=fail n=-
	use lb
	greeting hello
	deck_do deploy --yes && greeting "rb$r-a" && deck_do deploy --yes && greeting "rb$r-b" && deck_do deploy --yes && {
		t0=$(now_ms)
		deck_do rollback hello --to 1 --yes && ms=$(($(now_ms) - t0))
		n=$(serving_tasks hello)
	}
	greeting hello # the manifest matches what runs again
	add rollback "$ms"
	add rollback_hello "$n"
	log "round $r, rollback --to 1: $ms ms; then $n tasks answered \"hello\" through the balancer"
}

# load NAME URL SECONDS: loadgen for SECONDS; appends "p99_ns max_ns failed rate" to res.
load() {
	"$loadgen" -url "$2" -rate "$rate" -conns "$conns" -duration "${3}s" -json >"$work/$1.json"
	record_load "$1"
}

record_load() {
	local f="$work/$1.json"
	add "$1_p99" "$(jq -r '(.p99_ns / 1e4 | round) / 100' "$f")"
	add "$1_max" "$(jq -r '(.max_ns / 1e4 | round) / 100' "$f")"
	add "$1_failed" "$(jq -r '.failed' "$f")"
	add "$1_rate" "$(jq -r '.rate | round' "$f")"
	add "$1_sent" "$(jq -r '.sent' "$f")"
	if [ "$(jq -r '.failed' "$f")" != 0 ]; then
		{
			echo "--- $(date +%T) $1: $(jq -r '"\(.failed) of \(.sent) failed: \(.errors | to_entries | map("\(.value) \(.key)") | join(", "))"' "$f")"
			jq -r '.failed_samples[]? | "    " + .' "$f" | head -n 4
		} >>"$work/load-failures"
	fi
}

# direct_target prints one task's address for the direct baseline: the first that answers,
# tasks on h1 (where Caddy runs, 10.77.0.11) last.
direct_target() {
	local ep
	for ep in $(cd "$app" && "$deck" status -o json | jq -r '.. | objects | .endpoint? // empty' | sort -t. -k4,4 -r); do
		curl -sf -o /dev/null --max-time 1 "http://$ep/healthz" && { echo "$ep"; return; }
	done
}

# load_block ROUND: with the app serving, RATE req/s through the balancer at rest, straight
# to one task, then through the balancer during a rolling deploy; then delete.
load_block() {
	local r=$1 ep
	sleep "$settle"
	ep=$(direct_target)
	[ -n "$ep" ] || { log "no task of the app answers on its own address"; exit 1; }
	add direct_ep "$ep"
	add rest_serving "$(serving_tasks)"
	load rest "$lb_url" "$load_secs"
	load direct "http://$ep/" "$load_secs"
	greeting "load$r"
	"$loadgen" -url "$lb_url" -rate "$rate" -conns "$conns" -json >"$work/rollout.json" &
	load_pid=$!
	sleep 0.2 # loadgen has its connections open when deck starts
	local t0 ok=1
	t0=$(now_ms)
	deck_do deploy --yes || ok=0
	add load_deploy "$([ "$ok" = 1 ] && echo $(($(now_ms) - t0)) || echo fail)"
	kill -TERM "$load_pid"
	wait "$load_pid" || true
	load_pid=
	record_load rollout
	# When the slowest request started, from deck's start (+) or before it (-).
	local slow_at
	slow_at=$(jq -r '.slowest[0].start // empty' "$work/rollout.json")
	[ -z "$slow_at" ] || add rollout_slowest_at "$(awk -v a="$(date -d "$slow_at" +%s%3N)" -v b="$t0" 'BEGIN {printf "%+.1fs", (a - b) / 1000}')"
	# VERBOSE=1: the slowest requests beside deck's own timeline of that deploy.
	{
		echo "--- round $r: rollout under load, deck started $(date -d "@$((t0 / 1000)).$(printf %03d $((t0 % 1000)))" +%T.%3N);" \
			"slowest requests (start, latency):"
		jq -r '.slowest[:5][] | "    \(.start[11:23]) \(.latency_ns / 1e6 | floor) ms \(.outcome)"' "$work/rollout.json"
		grep -E '^20[0-9-]+T' "$work/deck.log" | grep -E 'route|draining|service-done' | sed 's/^/    deck: /' | cut -c1-200
	} >>"$work/rollouts"
	log "round $r, $rate req/s: p99 at rest $(last rest_p99) ms, to one task $(last direct_p99) ms," \
		"during the rollout $(last rollout_p99) ms (max $(last rollout_max) ms, $(last rollout_failed) failed of $(last rollout_sent))"
	delete
}

last() { echo "${res[$1]##* }"; }
raw() { echo "${res[$1]:-}"; }

# --- the table ------------------------------------------------------------------------

# row NAME VALUE BASE UNIT KIND TARGET RAW: UNIT ms (integer) | ms2 (2 decimals) | req/s |
# n; KIND ratio checks VALUE/BASE <= TARGET, lt checks VALUE < TARGET, eq VALUE == TARGET,
# - nothing.
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$table"; }

print_table() {
	echo
	echo "load balancer (Caddy on h1) vs baseline: $1"
	awk -F'\t' '
    function show(v, u) {
      if (v == "-" || v == "fail") return v
      if (u == "ms")    return sprintf("%d ms", v + 0.5)
      if (u == "ms2")   return sprintf("%.2f ms", v)
      if (u == "req/s") return sprintf("%.0f/s", v)
      return v
    }
    BEGIN { printf "%-44s %11s %11s %7s %10s\n", "", "with LB", "baseline", "ratio", "target" }
    {
      num = ($2 ~ /^[0-9.]+$/); base = ($3 ~ /^[0-9.]+$/) && $3 > 0
      ratio = (num && base) ? sprintf("%.2f", $2 / $3) : "-"
      target = "-"; verdict = ""
      if ($5 == "ratio") { target = "<= " $6 "x"; verdict = (num && base && $2 / $3 <= $6) ? "ok" : "MISS" }
      if ($5 == "lt")    { target = "< " show($6, $4); verdict = (num && $2 < $6) ? "ok" : "MISS" }
      if ($5 == "eq")    { target = "= " $6; verdict = (num && $2 == $6) ? "ok" : "MISS" }
      printf "%-44s %11s %11s %7s %10s  %s\n", $1, show($2, $4), show($3, $4), ratio, target, verdict
      if ($7 != "") printf "    %s\n", $7
    }' "$table"
	: >"$table"
}

med() { printf '%s\n' $(raw "$1") | median; }
sum() { printf '%s\n' $(raw "$1") | awk '/^[0-9]+$/ {s+=$1} END {print s+0}'; }

table_rows() {
	row "cold deploy to serving, $tasks tasks" "$(med cold_lb)" "$(med cold_nolb)" ms - - \
		"rounds: LB $(raw cold_lb) (tasks answering right after deck exits: $(raw cold_first)) | no LB $(raw cold_nolb)"
	row "rolling deploy, $tasks tasks" "$(med roll_lb)" "$(med roll_nolb)" ms - - \
		"rounds: LB $(raw roll_lb) (new tasks answering through the LB right after: $(raw roll_serving)) | no LB $(raw roll_nolb)"
	row "deck rollback --to 1, $tasks tasks" "$(med rollback)" - ms lt 5000 \
		"rounds: $(raw rollback) (tasks answering \"hello\" after it: $(raw rollback_hello))"
	row "p99 at $rate req/s: rollout vs at rest" "$(med rollout_p99)" "$(med rest_p99)" ms2 - - \
		"rounds: rollout $(raw rollout_p99) | rest $(raw rest_p99) (rollout deploys: $(raw load_deploy) ms)"
	row "  max latency: rollout vs at rest" "$(med rollout_max)" "$(med rest_max)" ms2 - - \
		"rounds: rollout $(raw rollout_max) (the slowest sent at, from deck's start: $(raw rollout_slowest_at)) | rest $(raw rest_max)"
	row "  failed requests during the rollouts" "$(sum rollout_failed)" - n eq 0 \
		"rounds: $(raw rollout_failed) failed of $(raw rollout_sent) sent (at rest: $(raw rest_failed) of $(raw rest_sent))"
	row "p99 at $rate req/s: Caddy vs one task" "$(med rest_p99)" "$(med direct_p99)" ms2 - - \
		"rounds: Caddy $(raw rest_p99) (tasks answering through it before: $(raw rest_serving)) | direct $(raw direct_p99) (to $(raw direct_ep))"
	row "  requests/s: Caddy vs one task" "$(med rest_rate)" "$(med direct_rate)" req/s - - \
		"rounds: Caddy $(raw rest_rate) | direct $(raw direct_rate) (failed direct: $(raw direct_failed))"
}

# --- the run --------------------------------------------------------------------------

: >"$table"
prepare_app
lock_hosts
started=$(date +%s)
hosts_up
warm_up
for r in $(seq "$rounds"); do
	if [ $((r % 2)) = 1 ]; then
		deploy_block lb "$r"
		deploy_block nolb "$r"
	else
		deploy_block nolb "$r"
		deploy_block lb "$r"
	fi
	rollback_block "$r"
	if [ "$(last rollback)" = fail ]; then
		delete # the load block needs the app serving
		log "round $r: no load block (the rollback failed)"
		continue
	fi
	load_block "$r"
done
table_rows
bridge="Podman bridges pinned"
print_table "3 hosts (h3 over ssh), $rounds rounds, medians; $bridge; loadgen $conns conns, ${load_secs}s at rest, $(nproc) CPUs shared by all; load average $(cut -d' ' -f1-3 /proc/loadavg); $(($(date +%s) - started))s"
if [ -s "$work/load-failures" ]; then
	echo
	echo "failed requests:"
	cat "$work/load-failures"
fi
if [ -s "$work/notes" ]; then
	echo
	echo "deck found tasks unhealthy (and replaced them), or cut a drain short:"
	cat "$work/notes"
fi
if [ -n "${VERBOSE:-}" ] && [ -s "$work/rollouts" ]; then
	echo
	cat "$work/rollouts"
fi
