#!/usr/bin/env bash
# Runs deck deploy --yes or deck plan, as the command input says, in the step's working
# directory. deck itself writes the job summary, the step outputs and the annotations (it
# sees GITHUB_ACTIONS=true). deck plan exits 2 when there are changes: that is a success
# here, and deck has set the output changes=true.
#
# Inputs (from action.yml): INPUT_COMMAND, INPUT_ENVIRONMENT, INPUT_FLAGS.
set -euo pipefail

command=${INPUT_COMMAND:-deploy}
case "$command" in
deploy) args=(deploy --yes) ;;
plan) args=(plan) ;;
*)
	echo "::error title=deck action::the command input is deploy or plan, not ${command}"
	exit 1
	;;
esac
if [[ -n ${INPUT_ENVIRONMENT:-} ]]; then
	args+=(--env "$INPUT_ENVIRONMENT")
fi
if [[ -n ${INPUT_FLAGS:-} ]]; then
	# Split on whitespace like a command line, without expanding globs.
	set -f
	# shellcheck disable=SC2206
	extra=($INPUT_FLAGS)
	set +f
	args+=("${extra[@]}")
fi

echo "deck ${args[*]}"
status=0
deck "${args[@]}" || status=$?
if [[ $command == plan && $status == 2 ]]; then
	echo "deck plan: there are changes to deploy"
	status=0
fi
exit "$status"
