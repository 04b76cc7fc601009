#!/usr/bin/env bash
# Make Compose v2 (`docker compose`) available. Where it is missing, fetch Debian
# trixie's docker-compose package (Compose v2, one static binary) with a private
# apt state, so the system's apt sources and package lists stay untouched.
set -euo pipefail
CI_NAME=${CI_NAME:-bootstrap}
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/common.sh"
suite=${COMPOSE_DEBIAN_SUITE:-trixie}

if v=$(docker compose version --short 2>/dev/null); then
    say "compose: docker compose $v"
    exit 0
fi
if v1=$(docker-compose version --short 2>/dev/null); then
    say "compose: only the legacy docker-compose $v1 (v1) is installed; the project needs Compose v2"
fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
    die "Compose v2 is missing: install the docker compose plugin (https://docs.docker.com/compose/install/linux/)"
fi
mirror=$(debian_mirror) ||
    die "Compose v2 is missing and no Debian mirror is configured in /etc/apt (set DEBIAN_MIRROR=URL to name one)"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || die "Compose v2 is missing and $keyring is not there (apt-get install debian-archive-keyring)"

if is_root; then plugins=/usr/local/lib/docker/cli-plugins
else plugins=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sources" "$work/lists/partial" "$work/cache/archives/partial"
cat >"$work/sources/$suite.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $suite
Components: main
Signed-By: $keyring
SOURCES
apt_private=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$work/sources"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1
    -o APT::Sandbox::User="$(id -un)")

say "compose: fetching docker-compose from Debian $suite ($mirror) with a private apt state"
apt-get "${apt_private[@]}" -qq update >&2 || die "apt-get update against $mirror ($suite) failed"
(cd "$work" && apt-get "${apt_private[@]}" -qq download docker-compose >&2) ||
    die "could not download docker-compose from Debian $suite"
deb=$(ls "$work"/docker-compose_*.deb)
dpkg-deb -x "$deb" "$work/root"
binary="$work/root/usr/libexec/docker/cli-plugins/docker-compose"
[ -x "$binary" ] || die "$(basename "$deb") has no usr/libexec/docker/cli-plugins/docker-compose"

mkdir -p "$plugins"
install -m 0755 "$binary" "$plugins/docker-compose"
v=$(docker compose version --short 2>/dev/null) ||
    die "installed $plugins/docker-compose but 'docker compose version' still fails"
say "compose: installed docker compose $v from $(basename "$deb") into $plugins"
