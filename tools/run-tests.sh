#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs every test of ucloud-virt: unit tests, then the
# integration suite against a private libvirtd with real (emulated) guests and a fake UCloud Core.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${UCV_BUILD_DIR:-$top/_build}
export UCV_BUILD_DIR=$build

bash tools/install-deps.sh
bash tools/check-format.sh
bash tools/check-translations.sh
exec bash tools/with-test-env.sh bash tools/run-suites.sh
