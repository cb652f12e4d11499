#!/usr/bin/env bash
# keys.sh write: writes the ssh-key and known-hosts inputs (secrets) to files only this
# user can read (0600), in a private directory under RUNNER_TEMP, and names them in the
# step's outputs (key-file, known-hosts-file, dir). keys.sh remove: removes that directory;
# action.yml runs it with if: always(), so the key goes even when the deploy fails.
#
# The secrets are never printed: the script does not trace, and only paths are output.
set -euo pipefail
set +x

case "${1:-}" in
write)
	umask 077
	if [[ -z ${INPUT_SSH_KEY:-} && -z ${INPUT_KNOWN_HOSTS:-} ]]; then
		exit 0
	fi
	dir=$(mktemp -d "${RUNNER_TEMP:?}/deck-ssh.XXXXXX")
	# The directory first, so remove finds it even if writing a file fails.
	echo "dir=$dir" >>"${GITHUB_OUTPUT:?}"
	if [[ -n ${INPUT_SSH_KEY:-} ]]; then
		# A key pasted on Windows has CRLF line ends; ssh wants LF and a final newline.
		printf '%s\n' "${INPUT_SSH_KEY//$'\r'/}" >"$dir/id"
		chmod 0600 "$dir/id"
		echo "key-file=$dir/id" >>"$GITHUB_OUTPUT"
	fi
	if [[ -n ${INPUT_KNOWN_HOSTS:-} ]]; then
		printf '%s\n' "${INPUT_KNOWN_HOSTS//$'\r'/}" >"$dir/known_hosts"
		chmod 0600 "$dir/known_hosts"
		echo "known-hosts-file=$dir/known_hosts" >>"$GITHUB_OUTPUT"
	fi
	;;
remove)
	dir=${DECK_SSH_DIR:-}
	[[ -n $dir ]] || exit 0
	case "$dir" in
	"${RUNNER_TEMP:?}"/deck-ssh.*) rm -rf -- "$dir" ;;
	*)
		echo "::error title=deck action::refusing to remove $dir: not a directory keys.sh made"
		exit 1
		;;
	esac
	;;
*)
	echo "usage: keys.sh write|remove" >&2
	exit 2
	;;
esac
