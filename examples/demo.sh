#!/usr/bin/env bash
# make demo: three Podman hosts on this machine (h3 reached only over ssh), examples/hello
# deployed to them with deck, its status, and every task answering HTTP.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deck="$root/bin/deck"
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
