#!/usr/bin/env bash
# Choose the Python base image the project's Dockerfiles build FROM, and say why:
#   1. $BASE_IMAGE, when it is present locally or can be pulled;
#   2. else socket-harness/python-base:<suite> when an earlier run built it;
#   3. else build that one offline from Debian packages (ci/lib/debian-image.sh).
# Writes the reference to build/base-image and prints it on stdout.
set -euo pipefail
CI_NAME=${CI_NAME:-bootstrap}
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/common.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/debian-image.sh"
build_dir=${BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
suite=${BASE_SUITE:-bookworm}
default_ref=${BASE_IMAGE_REPO:-socket-harness/python-base}:$suite

# The Dockerfiles run `python3 -m ...` and the code needs Python 3.11 or later.
check_python() {
    docker run --rm --network none --entrypoint python3 "$1" \
        -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 ||
        die "$1 has no python3 >= 3.11; choose another BASE_IMAGE"
}

ref=$(choose_base BASE_IMAGE "$default_ref" python-base python3 'CMD ["python3"]')
check_python "$ref"
mkdir -p "$build_dir"
printf '%s\n' "$ref" >"$build_dir/base-image"
say "base image: $ref (written to ${build_dir#"$PWD"/}/base-image)"
printf '%s\n' "$ref"
