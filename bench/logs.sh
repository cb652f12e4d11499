#!/usr/bin/env bash
# deck logs speed: `deck logs lines --tail 100` over 30 tasks of examples/lines on 3 real
# Podman hosts (testhosts/hosts.sh; h3 reached over ssh). Each of REPEATS (7) runs is timed
# from process start to its first line on stdout and to its last (EOF); the figures are
# medians, with the number of lines (30 x 100 = 3000 expected). The tasks write a line
# every 20 ms and run for WARM seconds (5) before anything is timed, so each has over 100.
set -euo pipefail
shopt -s inherit_errexit
root=$(cd "$(dirname "$0")/.." && pwd)
deck="$root/bin/deck"
hosts_sh="$root/testhosts/hosts.sh"
repeats=${REPEATS:-7}
warm=${WARM:-5}
dir=${DECK_TESTHOSTS_DIR:-/run/deck-testhosts}
lock=/run/deck-testhosts.lock
bench_name=bench-logs
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

[ -x "$deck" ] || { log "build deck first: make build"; exit 1; }
work=$(mktemp -d)
hosts_are_up=0
cleanup() {
	[ "$hosts_are_up" = 1 ] && "$hosts_sh" down --dir "$dir" >/dev/null 2>&1 9>&- || true
	cd /
	rm -rf "$work"
}
trap cleanup EXIT
export NO_COLOR=1

lock_hosts
log "starting 3 hosts"
"$hosts_sh" up 3 --ssh 3 --dir "$dir" >/dev/null 9>&-
hosts_are_up=1
export DECK_HOSTS_FILE="$dir/hosts.yaml"

app="$work/lines"
cp -r "$root/examples/lines" "$app"
(cd "$root" && CGO_ENABLED=0 go build -o "$app/lines" ./examples/lines)
sed -i 's/^count: .*/count: 30/' "$app/deck/lines.yaml"
cd "$app"
log "deploying 30 tasks"
"$deck" deploy --yes >/dev/null 2>"$work/deploy.err" || { cat "$work/deploy.err" >&2; exit 1; }
sleep "$warm" # the tasks write their first 100+ lines (a duration of the app, not a wait on deck)

# timed prints "first_ms last_ms lines" for one run of deck logs.
timed() {
	python3 -c '
import subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
first, n = None, 0
for line in p.stdout:
    if first is None:
        first = time.monotonic()
    n += 1
end = time.monotonic()
if p.wait() != 0 or first is None:
    print("fail fail 0"); sys.exit(0)
print("%.0f %.0f %d" % ((first - t0) * 1000, (end - t0) * 1000, n))
' "$deck" logs lines --tail 100
}

: >"$work/runs"
for _ in $(seq "$repeats"); do timed >>"$work/runs"; done
first=$(cut -d' ' -f1 "$work/runs" | median)
last=$(cut -d' ' -f2 "$work/runs" | median)
lines=$(cut -d' ' -f3 "$work/runs" | sort -u | tr '\n' ' ')
echo "deck logs --tail 100, 30 tasks on 3 hosts (h3 over ssh), median of $repeats runs:"
echo "  time to first line: ${first} ms"
echo "  time to last line:  ${last} ms"
echo "  lines per run:      ${lines}"
