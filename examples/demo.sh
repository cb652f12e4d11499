#!/usr/bin/env bash
# make demo: three Podman hosts on this machine (h3 reached only over ssh) and a Caddy load
# balancer on h1; examples/hello deployed to them with deck; its status; one address
# answering from different tasks; then a new revision rolled out under load, through the
# load balancer, with the failed requests counted.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deck="$root/bin/deck"
loadgen="$root/bin/loadgen"
dir=${DECK_TESTHOSTS_DIR:-/run/deck-testhosts}

cleanup() {
  if [ "${KEEP:-}" = 1 ]; then
    echo
    echo "The hosts keep running (KEEP=1). Try:"
    echo "  cd examples/hello && DECK_HOSTS_FILE=$dir/hosts.yaml $deck status"
    echo "Tear them down with: $root/testhosts/hosts.sh down"
  else
    echo
    echo "==> Tearing the hosts down (KEEP=1 make demo leaves them running)"
    "$root/testhosts/hosts.sh" down --dir "$dir" >/dev/null
  fi
}

echo "==> Starting 3 Podman hosts (h3 over ssh://)"
"$root/testhosts/hosts.sh" up 3 --ssh 3 --dir "$dir"
trap cleanup EXIT
export DECK_HOSTS_FILE="$dir/hosts.yaml"
cd "$root/examples/hello"

echo
echo "==> deck deploy --yes"
"$deck" deploy --yes

echo
echo "==> deck status"
"$deck" status

echo
echo "==> Every task answers:"
"$deck" status --output json | sed -n 's/.*"endpoint": "\([^"]*\)".*/\1/p' | while read -r ep; do
  printf '  curl http://%s/  ->  ' "$ep"
  curl -fsS --max-time 5 "http://$ep/"
done

lb=${DECK_LB_LISTEN:-10.77.0.11:80}
echo
echo "==> One address, http://$lb/, answered by different tasks behind the load balancer:"
for _ in 1 2 3 4 5 6; do
  printf '  curl http://%s/  ->  ' "$lb"
  curl -fsS --max-time 5 "http://$lb/"
done

echo
echo "==> A new revision (GREETING=bonjour) rolled out while 200 requests/s go through the load balancer"
echo "    (100/s on kept-alive connections, 100/s on a new connection each, as curl in a loop)"
work=$(mktemp -d)
cp -r "$root/examples/hello/." "$work/"
sed -i 's/GREETING: hello/GREETING: bonjour/' "$work/deck/hello.yaml"
"$loadgen" -url "http://$lb/" -rate 100 -conns 8 >"$work/load.txt" &
load=$!
"$loadgen" -url "http://$lb/" -rate 100 -conns 8 -new-conns >"$work/fresh.txt" &
fresh=$!
(cd "$work" && "$deck" deploy --yes)
kill -TERM "$load" "$fresh"
wait "$load" || true
wait "$fresh" || true
result=$(cat "$work/load.txt")
fresh_result=$(cat "$work/fresh.txt")
rm -rf "$work"
echo
echo "==> Requests through the load balancer during the rollout:"
echo "  kept-alive connections: $result"
echo "  a new connection each:  $fresh_result"
printf '  now: '
curl -fsS --max-time 5 "http://$lb/"
case "$result$fresh_result" in
*", 0 failed,"*", 0 failed,"*) echo "  0 failed: not one request was dropped while every task was replaced." ;;
*) echo "demo: requests failed during the rollout" >&2; exit 1 ;;
esac
