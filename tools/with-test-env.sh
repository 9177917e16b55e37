#!/usr/bin/env bash
# Runs a command with what the integration tests and benchmarks need: the build, the test guest
# and a private libvirtd (stopped again afterwards), named by UCV_TEST_* variables.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${UCV_BUILD_DIR:-$top/_build}

bash tools/install-deps.sh
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --werror
fi
ninja -C "$build"
bash tests/guest/build-guest.sh "$build/guest"

work=$(mktemp -d /tmp/ucv-test.XXXXXX)
cleanup() {
	bash tests/integration/private-libvirtd.sh stop "$work/libvirt" || true
	rm -rf "$work"
}
trap cleanup EXIT
bash tests/integration/private-libvirtd.sh start "$work/libvirt"
UCV_TEST_LIBVIRT_URI=$(bash tests/integration/private-libvirtd.sh uri "$work/libvirt")
export UCV_TEST_LIBVIRT_URI
# the private libvirtd's own files; its lib/ is /var/lib/libvirt inside (managed saves: qemu/save)
export UCV_TEST_LIBVIRT_DIR="$work/libvirt"
export UCV_TEST_GUEST_IMAGE="$build/guest/ucv-test-guest.qcow2"
export UCV_BUILD_DIR=$build
"$@"
