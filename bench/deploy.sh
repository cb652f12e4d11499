#!/usr/bin/env bash
# Deploy speed of deck, each figure beside a floor measured in the same run on the same real
# Podman hosts (testhosts/hosts.sh; the last host is reached over ssh).
#
# The floor (bench/floor) creates and starts the very containers deck would (same image,
# published port, memory, cpu shares, stop timeout, env and labels), 4 at once per host,
# hosts in parallel, through the Podman API, and polls each task's /healthz every 10 ms until
# it answers 200. Whatever deck spends beyond that is deck's own overhead.
#
# Sections (SECTIONS overrides, e.g. SECTIONS=loss):
#   base             3 hosts: cold deploy of 30 tasks, deck vs floor, plus serial
#                    `podman run -d` per host as an extra row; no-op deploy and `deck status`
#                    with those 30 running, beside the floor of reading the fleet (list
#                    every host's containers and probe each task once, all at once).
#   scale (SCALE=1)  12 hosts: cold deploy of 30, 120 and 240 tasks, deck vs floor; no-op
#                    deploy and `deck status` with 240 running.
#   loss  (LOSS=1)   12 hosts: LOSS_DEPLOYS (20) cold deploys of 240 tasks; after each, the
#                    tasks deck reported healthy are compared with those answering 200.
# Cold rows are ROUNDS (5) interleaved rounds (deck, floor, podman run, deck, floor, ...);
# no-op and status rows are REPEATS (9) runs; figures are medians, wall clock from process
# start to exit for both deck and the floor. Images are on every host before anything is
# timed (the warm-up deploy copies them), and every cleanup happens outside the timed part,
# followed by SETTLE seconds (1) so one run's teardown does not slow the next.
set -euo pipefail
# Failures inside $(...) stop the script too (bash clears -e there otherwise).
shopt -s inherit_errexit
[ -n "${BENCH_TRACE:-}" ] && set -x
root=$(cd "$(dirname "$0")/.." && pwd)
deck="$root/bin/deck"
floor="$root/bin/floor"
hosts_sh="$root/testhosts/hosts.sh"
rounds=${ROUNDS:-5}
repeats=${REPEATS:-9}
settle=${SETTLE:-1}
loss_deploys=${LOSS_DEPLOYS:-20}
dir=${DECK_TESTHOSTS_DIR:-/run/deck-testhosts}
lock=/run/deck-testhosts.lock
bench_name=bench
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
# The tasks' resources, the same for deck (the manifest) and the floor (its flags): small,
# so that 240 tasks fit on this machine.
memory=32 cpu=64

default_sections() {
	echo base
	[ -n "${SCALE:-}" ] && [ "${SCALE}" != 0 ] && echo scale
	[ -n "${LOSS:-}" ] && [ "${LOSS}" != 0 ] && echo loss
	true
}
sections=${SECTIONS:-$(default_sections | xargs)}

for bin in "$deck" "$floor"; do
	[ -x "$bin" ] || { echo "bench: $bin is missing (make build, then make bench builds the floor)" >&2; exit 1; }
done

work=$(mktemp -d)
table="$work/table"
hosts_are_up=0
cleanup() {
	# A run that stops half way still shows what it measured.
	[ -s "$table" ] && print_table "partial, the run stopped"
	[ "$hosts_are_up" = 1 ] && "$hosts_sh" down --dir "$dir" >/dev/null 2>&1 9>&- || true
	cd /
	rm -rf "$work"
}
trap cleanup EXIT
export NO_COLOR=1

# --- the shared test hosts --------------------------------------------------------------

# unlock_hosts lets waiting tests in between sections.
unlock_hosts() {
	flock -u 9
	exec 9>&-
	unset DECK_TESTHOSTS_LOCKED
}

# hosts_up starts N hosts, the last one over ssh. The lock's descriptor is closed for
# hosts.sh: the daemons it starts must not inherit it and keep the lock after this script.
hosts_up() {
	local n=$1
	log "starting $n hosts"
	"$hosts_sh" up "$n" --ssh "$n" --dir "$dir" >/dev/null 9>&-
	hosts_are_up=1
	export DECK_HOSTS_FILE="$dir/hosts.yaml"
	nhosts=$n
	# The podman CLI checks ssh host keys against ~/.ssh/known_hosts: give it the test
	# hosts' file in a home of its own rather than touching the user's.
	podhome="$work/podman-home"
	mkdir -p "$podhome/.ssh"
	cp "$dir/ssh/known_hosts" "$podhome/.ssh/known_hosts"
}

hosts_down() {
	"$hosts_sh" down --dir "$dir" >/dev/null 9>&-
	hosts_are_up=0
}

# --- the app --------------------------------------------------------------------------

# prepare_app copies examples/hello with the bench's resources, a fast health check and no
# placement constraint (the floor spreads evenly over all hosts, so does deck's default).
prepare_app() {
	app="$work/app"
	rm -rf "$app"
	cp -r "$root/examples/hello/." "$app/"
	[ -x "$app/hello" ] || (cd "$root" && CGO_ENABLED=0 go build -o "$app/hello" ./examples/hello)
	sed -i "s/^memory: .*/memory: $memory/; s/^cpu: .*/cpu: $cpu/; s/^  interval: .*/  interval: 1s/; /^placement:/,\$d" \
		"$app/deck/hello.yaml"
	grep -q '^  path: /healthz' "$app/deck/hello.yaml" || { log "examples/hello has no /healthz check any more"; exit 1; }
}

set_count() { sed -i "s/^count: .*/count: $1/" "$app/deck/hello.yaml"; }

# deck_do runs deck in the app's folder, its output in $work/deck.log; on failure it shows
# the end of that output.
deck_do() {
	if ! (cd "$app" && "$deck" "$@") >"$work/deck.log" 2>&1; then
		log "deck $* failed:"
		grep -v '^  endpoints:' "$work/deck.log" | tail -n 8 | cut -c1-300 >&2
		return 1
	fi
}

# deck_converge deploys until deck succeeds (up to 3 times): a deploy that lost a task to a
# transient failure leaves the rest running, and the next one starts what is missing.
deck_converge() {
	local i
	for i in 1 2 3; do
		deck_do deploy --yes && return 0
		log "deploy $i of 3 failed; deploying again"
	done
	return 1
}

deck_delete() { deck_do delete hello --yes; sleep "$settle"; }

# warm_up deploys once so the image is built and copied to every host (with 30 tasks
# spread over at most 12 hosts, each gets some), notes the image, and deletes.
warm_up() {
	log "warm-up deploy (builds the image and copies it to every host)"
	set_count 30
	deck_do deploy --yes -o json
	image=$(grep -m1 -o '"image": *"[^"]*"' "$work/deck.log" | sed 's/.*"image": *"//; s/"$//')
	[ -n "$image" ] || { log "no image in deck's plan"; exit 1; }
	deck_delete
	"$floor" -cleanup
}

# --- one timed run of each kind; each prints ms, or "fail" -----------------------------
# A failed run is shown as such in the raw figures and left out of the median: one
# failure should not cost the whole table.

time_deck_cold() {
	local t0 t1 ok=1
	t0=$(now_ms)
	deck_do deploy --yes || ok=0
	t1=$(now_ms)
	deck_delete
	elapsed "$ok" "$t0" "$t1"
}

time_floor() {
	local n=$1 t0 t1 ok=1
	t0=$(now_ms)
	"$floor" -v -n "$n" -image "$image" -memory "$memory" -cpu "$cpu" >/dev/null 2>"$work/floor.log" || ok=0
	t1=$(now_ms)
	[ "$ok" = 1 ] || cut -c1-300 "$work/floor.log" >&2
	# The floor retries a task whose random host port was taken (a Podman race); count them.
	sed -n 's/.* \([0-9]*\) port retries$/\1/p' "$work/floor.log" >>"$work/port-retries"
	"$floor" -cleanup
	sleep "$settle"
	elapsed "$ok" "$t0" "$t1"
}

elapsed() { if [ "$1" = 1 ]; then echo $(($3 - $2)); else echo fail; fi; }

# podman CLI arguments for host N, from hosts.yaml. The podman 4.3 CLI wants an explicit
# ssh port, so :22 is added where the URL has none.
podman_args() {
	awk -v want="h$1" '
    /^- name:/ {name=$3}
    name==want && /url:/ {url=$2}
    name==want && /identity:/ {id=$2}
    END {printf "--url %s", url; if (id != "") printf " --identity %s", id}' "$DECK_HOSTS_FILE" |
		sed -E 's#^--url (ssh://[^/:]+)/#--url \1:22/#'
}
pod() { HOME="$podhome" podman "$@"; }

# time_podman_run starts N containers with `podman run -d`, serially on each host, hosts in
# parallel, without waiting for health: the CLI way, as an extra reference.
time_podman_run() {
	local n=$1 per t0 t1 h
	per=$((n / nhosts))
	t0=$(now_ms)
	for h in $(seq "$nhosts"); do
		(
			args=$(podman_args "$h")
			for _ in $(seq "$per"); do
				# shellcheck disable=SC2086
				pod $args run -d --label bench=raw -p 8080 --memory "${memory}m" --cpu-shares "$cpu" \
					--stop-timeout 10 "$image" >/dev/null
			done
		) &
	done
	wait
	t1=$(now_ms)
	for h in $(seq "$nhosts"); do
		# shellcheck disable=SC2046,SC2086
		pod $(podman_args "$h") ps -aq --filter label=bench=raw | xargs -r env HOME="$podhome" podman $(podman_args "$h") rm -f -t 0 >/dev/null
	done
	sleep "$settle"
	echo $((t1 - t0))
}

time_cmd() {
	local t0 t1 ok=1
	t0=$(now_ms)
	deck_do "$@" || ok=0
	t1=$(now_ms)
	elapsed "$ok" "$t0" "$t1"
}

# --- rows -----------------------------------------------------------------------------

# row NAME VALUE BASE KIND TARGET RAW: KIND "ratio" checks VALUE/BASE <= TARGET, "ms"
# checks VALUE < TARGET, "-" checks nothing.
row() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$table"
}

print_table() {
	echo
	echo "deck vs floor: $1 (medians, ms; deck and floor are each process start to exit)"
	awk -F'\t' '
    BEGIN { printf "%-36s %8s %8s %7s %9s  %s\n", "", "deck", "floor", "ratio", "target", "" }
    {
      ratio = "-"; target = "-"; verdict = ""
      num = ($2 ~ /^[0-9]+$/) && ($3 == "-" || $3 ~ /^[1-9][0-9]*$/)
      if (num && $3 != "-") ratio = sprintf("%.3f", $2 / $3)
      if ($4 == "ratio") { target = "<= " $5 "x"; verdict = (num && $2 / $3 <= $5) ? "ok" : "MISS" }
      if ($4 == "ms")    { target = "< " $5 " ms"; verdict = (num && $2 < $5) ? "ok" : "MISS" }
      printf "%-36s %8s %8s %7s %9s  %s\n", $1, $2, $3, ratio, target, verdict
      if ($6 != "") printf "    %s\n", $6
    }' "$table"
	: >"$table"
}

# cold_row N RATIO_TARGET [podman]: ROUNDS interleaved cold deploys of N tasks by deck and
# the floor (and podman run -d when asked). RATIO_TARGET "-": no target.
cold_row() {
	local n=$1 target=$2 with_podman=${3:-} r d f p
	local deck_ms=() floor_ms=() pod_ms=()
	set_count "$n"
	: >"$work/port-retries"
	for r in $(seq "$rounds"); do
		d=$(time_deck_cold)
		f=$(time_floor "$n")
		deck_ms+=("$d") floor_ms+=("$f")
		p=-
		if [ -n "$with_podman" ]; then
			p=$(time_podman_run "$n")
			pod_ms+=("$p")
		fi
		log "cold ${nhosts}x$n round $r/$rounds: deck $d, floor $f, podman run $p ms"
	done
	local dm fm pm kind=ratio
	dm=$(printf '%s\n' "${deck_ms[@]}" | median)
	fm=$(printf '%s\n' "${floor_ms[@]}" | median)
	[ "$target" != - ] || kind=-
	row "cold deploy ${nhosts} hosts x $n tasks" "$dm" "$fm" "$kind" "$target" \
		"rounds: deck ${deck_ms[*]} | floor ${floor_ms[*]} (floor port retries: $(awk '{s+=$1} END {print s+0}' "$work/port-retries"))"
	if [ -n "$with_podman" ]; then
		pm=$(printf '%s\n' "${pod_ms[@]}" | median)
		row "  podman run -d, serial per host" "$pm" - - - \
			"rounds: ${pod_ms[*]} (no health wait; deck / podman run = $(awk -v a="$dm" -v b="$pm" 'BEGIN{if (b > 0) printf "%.2f", a/b; else print "-"}'))"
	fi
}

# time_observe: the floor of a command that reads the fleet: list the app's containers on
# every host and probe each running task once, all at once, over the ssh connections deck
# shares (floor -healthy). Prints ms, or "fail" when not all N tasks answered.
time_observe() {
	local n=$1 t0 t1 ok=1 healthy total
	t0=$(now_ms)
	"$floor" -healthy deck.app=hello -mux "$deck" >"$work/observe" 2>&1 || ok=0
	t1=$(now_ms)
	read -r healthy total <"$work/observe" || ok=0
	if [ "$ok" != 1 ] || [ "${healthy:-0}" != "$n" ]; then
		ok=0
		cut -c1-300 "$work/observe" >&2
	fi
	elapsed "$ok" "$t0" "$t1"
}

# steady_rows deploys N tasks (untimed), then times REPEATS interleaved runs of a no-op
# deploy, `deck status` and the floor's observation (time_observe), which both must at least
# do: the ratio is deck's own cost on top of what Podman and the tasks take to answer.
steady_rows() {
	local n=$1 noop_target=$2 status_target=$3 i noop=() status=() obs=() nm sm om
	set_count "$n"
	deck_converge
	for i in $(seq "$repeats"); do
		noop+=("$(time_cmd deploy --yes)")
		status+=("$(time_cmd status)")
		obs+=("$(time_observe "$n")")
	done
	log "no-op deploy: ${noop[*]} | deck status: ${status[*]} | floor (list + probe): ${obs[*]} ms"
	nm=$(printf '%s\n' "${noop[@]}" | median)
	sm=$(printf '%s\n' "${status[@]}" | median)
	om=$(printf '%s\n' "${obs[@]}" | median)
	row "no-op deploy, $n running on $nhosts hosts" "$nm" "$om" ms "$noop_target" "runs: ${noop[*]} | floor: list every host + probe every task once, ${obs[*]}"
	row "deck status, $n on $nhosts hosts" "$sm" "$om" ms "$status_target" "runs: ${status[*]}"
	deck_delete
}

# --- sections -------------------------------------------------------------------------

section_base() {
	hosts_up 3
	warm_up
	cold_row 30 1.15 podman
	steady_rows 30 100 150
	print_table "3 hosts (h3 over ssh), $rounds rounds"
	hosts_down
}

section_scale() {
	hosts_up 12
	warm_up
	cold_row 30 1.3
	cold_row 120 -
	cold_row 240 1.1
	steady_rows 240 150 300
	print_table "12 hosts (h12 over ssh), $rounds rounds"
	hosts_down
}

# section_loss: after each cold deploy of 240 tasks, the tasks deck reported healthy
# (its task-healthy events) against the containers of the app that answer 200 on /healthz,
# counted by the floor program straight from the hosts.
section_loss() {
	local i reported healthy total lost=0 all=0 failed=0 short=0
	hosts_up 12
	warm_up
	set_count 240
	for i in $(seq "$loss_deploys"); do
		if ! deck_do deploy --yes; then failed=$((failed + 1)); fi
		reported=$(grep -c ' task-healthy ' "$work/deck.log" || true)
		healthy=0 total=0
		read -r healthy total < <("$floor" -healthy deck.app=hello) || log "the floor could not count the tasks"
		all=$((all + reported))
		[ "$healthy" -ge "$reported" ] || lost=$((lost + reported - healthy))
		[ "$healthy" -ge 240 ] || short=$((short + 240 - healthy))
		log "loss deploy $i/$loss_deploys: deck reported $reported healthy; $healthy of $total containers answer 200"
		deck_delete
	done
	echo
	echo "lost $lost of $all (tasks deck reported healthy that did not answer 200 after; target: 0)"
	echo "  $loss_deploys cold deploys of 240 tasks on 12 hosts; $failed failed, leaving $short tasks short of 240 in all"
	hosts_down
}

: >"$table"
prepare_app
for s in $sections; do
	lock_hosts
	"section_$s"
	unlock_hosts
done
