#!/usr/bin/env bash
# Runs ucloud-virt on its embedded default: a private libvirtd, demo products, a demo image and a
# local stand-in for UCloud's Core that prints the updates it receives. Ctrl-C stops everything.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${UCV_BUILD_DIR:-$top/_build}
demo=/var/tmp/ucloud-virt-demo

bash tools/install-deps.sh
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build"
fi
ninja -C "$build"
bash tests/guest/build-guest.sh "$build/guest"

mkdir -p "$demo/core" "$demo/images" "$demo/state"
cp "$build/guest/ucv-test-guest.qcow2" "$demo/images/ucv-demo.qcow2"
sed 's/"provider": "example"/"provider": "demo"/' data/products.json >"$demo/products.json"

core_pid=
stop_all() {
	trap - EXIT INT TERM
	[ -n "$core_pid" ] && kill "$core_pid" 2>/dev/null || true
	bash tests/integration/private-libvirtd.sh stop "$demo/libvirt" || true
}
trap stop_all EXIT INT TERM

bash tests/integration/private-libvirtd.sh start "$demo/libvirt"
"$build/tests/fake-core/ucv-fake-core" --state-dir "$demo/core" --port 8890 --provider-id demo \
	> >(sed -u 's/^/[core] /') &
core_pid=$!
for _ in $(seq 50); do
	[ -s "$demo/core/ucloud-public-key" ] && break
	sleep 0.1
done

cat <<TXT

ucloud-virt is starting on http://127.0.0.1:8889 (provider "demo").
In another terminal, submit a VM job with:

    $top/tools/demo-submit.sh

and stop it again with:

    $top/tools/demo-submit.sh terminate <job id>

TXT
"$build/ucloud-virt" --config data/quickstart.conf -v
