#!/usr/bin/env bash
# Deploy speed, measured against a baseline in the same run, on three real Podman hosts
# (h3 over ssh):
#   1. cold deploy of 30 tasks of examples/hello (deck deploy --yes, waiting for every task
#      to be healthy) vs the same 30 containers started by raw `podman --url ... run -d`,
#      10 per host, hosts in parallel (no health wait). Target: ratio <= 1.3.
#   2. no-op deploy with those 30 tasks running. Target: median < 300 ms.
# Each figure is the median of ROUNDS rounds (default 3). Images are on every host first, so
# both sides measure starting containers, not copying images.
set -euo pipefail
[ -n "${BENCH_TRACE:-}" ] && set -x
root=$(cd "$(dirname "$0")/.." && pwd)
deck="$root/bin/deck"
rounds=${ROUNDS:-3}
dir=${DECK_TESTHOSTS_DIR:-/run/deck-testhosts}
[ -x "$deck" ] || { echo "bench: build deck first (make build)" >&2; exit 1; }

"$root/testhosts/hosts.sh" up 3 --ssh 3 --dir "$dir" >/dev/null
trap '"$root/testhosts/hosts.sh" down --dir "$dir" >/dev/null' EXIT
export DECK_HOSTS_FILE="$dir/hosts.yaml" NO_COLOR=1

work=$(mktemp -d)
cp -r "$root/examples/hello/." "$work/"
[ -x "$work/hello" ] || (cd "$root" && CGO_ENABLED=0 go build -o "$work/hello" ./examples/hello)
sed -i 's/^count: .*/count: 30/; /^placement:/,$d' "$work/deck/hello.yaml"
cd "$work"

# The podman CLI checks ssh host keys against ~/.ssh/known_hosts: give it the test hosts' file
# in a home of its own rather than touching the user's.
podhome="$work/podman-home"
mkdir -p "$podhome/.ssh"
cp "$dir/ssh/known_hosts" "$podhome/.ssh/known_hosts"
pod() { HOME="$podhome" podman "$@"; }

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

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

# Warm up: the first deploy builds the image and copies it to every host.
"$deck" deploy --yes >/dev/null 2>&1
image=$(pod $(podman_args 1) images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/deck/hello-hello:' | head -1)
"$deck" delete hello --yes >/dev/null 2>&1

raw=() cold=()
for r in $(seq "$rounds"); do
  t0=$(now)
  for h in 1 2 3; do
    (
      args=$(podman_args "$h")
      for i in $(seq 10); do
        pod $args run -d --label bench=raw -p 8080 --memory 32m --cpu-shares 64 "$image" >/dev/null
      done
    ) &
  done
  wait
  t1=$(now)
  raw+=("$(ms "$t0" "$t1")")
  for h in 1 2 3; do
    pod $(podman_args "$h") ps -aq --filter label=bench=raw | xargs -r env HOME="$podhome" podman $(podman_args "$h") rm -f -t 0 >/dev/null
  done

  t0=$(now)
  "$deck" deploy --yes >/dev/null 2>&1
  t1=$(now)
  cold+=("$(ms "$t0" "$t1")")
  if [ "$r" -lt "$rounds" ]; then "$deck" delete hello --yes >/dev/null 2>&1; fi
done

noop=()
for r in $(seq 9); do
  t0=$(now)
  "$deck" deploy --yes >/dev/null 2>&1
  t1=$(now)
  noop+=("$(ms "$t0" "$t1")")
done
"$deck" delete hello --yes >/dev/null 2>&1

raw_med=$(printf '%s\n' "${raw[@]}" | median)
cold_med=$(printf '%s\n' "${cold[@]}" | median)
noop_med=$(printf '%s\n' "${noop[@]}" | median)
echo "cold deploy, 30 tasks on 3 hosts: deck ${cold_med} ms (healthy), raw podman run -d ${raw_med} ms; ratio $(awk -v a="$cold_med" -v b="$raw_med" 'BEGIN{printf "%.2f", a/b}')x (target <= 1.3x)"
echo "  rounds: deck ${cold[*]} ms; raw ${raw[*]} ms"
echo "no-op deploy, 30 tasks running: median ${noop_med} ms over ${#noop[@]} runs (target < 300 ms); runs: ${noop[*]}"
cd /
rm -rf "$work"
