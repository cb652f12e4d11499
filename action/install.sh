#!/usr/bin/env bash
# Installs a released deck binary for the runner's OS and architecture: downloads the
# goreleaser archive (deck_VERSION_OS_ARCH.tar.gz) and checksums.txt, refuses the archive
# unless its sha256 is the one checksums.txt lists, and puts deck on the job's PATH.
#
# Inputs (from action.yml): INPUT_VERSION (a release such as 1.4.0 or v1.4.0, or latest),
# INPUT_DOWNLOAD_URL (where the release's assets are; default the GitHub release).
# Runner: RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, GITHUB_PATH.
set -euo pipefail

fail() {
	echo "::error title=deck action::$*"
	exit 1
}

repo=${DECK_REPOSITORY:-deckhq/deck}
version=${INPUT_VERSION:-latest}
version=${version#v}

case "${RUNNER_OS:-}" in
Linux) os=linux ;;
macOS) os=darwin ;;
*) fail "deck is released for Linux and macOS runners, not RUNNER_OS=${RUNNER_OS:-unset}" ;;
esac
case "${RUNNER_ARCH:-}" in
X64) arch=amd64 ;;
ARM64) arch=arm64 ;;
*) fail "deck is released for X64 and ARM64 runners, not RUNNER_ARCH=${RUNNER_ARCH:-unset}" ;;
esac

base=${INPUT_DOWNLOAD_URL:-}
if [[ -z $base ]]; then
	if [[ $version == latest ]]; then
		base="https://github.com/$repo/releases/latest/download"
	else
		base="https://github.com/$repo/releases/download/v$version"
	fi
fi
base=${base%/}

work=$(mktemp -d "${RUNNER_TEMP:?}/deck-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

fetch() { curl --fail --silent --show-error --location --retry 3 --output "$2" "$1"; }

fetch "$base/checksums.txt" "$work/checksums.txt" || fail "cannot download $base/checksums.txt"

# checksums.txt lines are "<sha256>  <file>". For latest, the archive's name (and so the
# version) is the one listed for this OS and architecture.
suffix="_${os}_${arch}.tar.gz"
if [[ $version == latest ]]; then
	archive=$(awk -v s="$suffix" 'substr($2, length($2) - length(s) + 1) == s && index($2, "deck_") == 1 { print $2; exit }' "$work/checksums.txt")
	[[ -n $archive ]] || fail "checksums.txt at $base lists no deck archive for $os/$arch"
	version=${archive#deck_}
	version=${version%"$suffix"}
else
	archive="deck_${version}${suffix}"
fi
want=$(awk -v f="$archive" '$2 == f { print $1; exit }' "$work/checksums.txt")
[[ -n $want ]] || fail "checksums.txt at $base does not list $archive"

fetch "$base/$archive" "$work/$archive" || fail "cannot download $base/$archive"
if command -v sha256sum >/dev/null; then
	got=$(sha256sum "$work/$archive" | awk '{ print $1 }')
else
	got=$(shasum -a 256 "$work/$archive" | awk '{ print $1 }')
fi
if [[ $got != "$want" ]]; then
	fail "checksum mismatch for $archive: checksums.txt says $want, the download has $got; not installing it"
fi
echo "Verified $archive (sha256 $got)"

bin="$RUNNER_TEMP/deck-$version-$os-$arch"
mkdir -p "$bin"
tar -xzf "$work/$archive" -C "$work"
[[ -f $work/deck ]] || fail "$archive has no deck binary at its top level"
install -m 0755 "$work/deck" "$bin/deck"
echo "$bin" >>"${GITHUB_PATH:?}"
echo "Installed deck $version to $bin"
"$bin/deck" version
