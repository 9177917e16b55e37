#!/usr/bin/env bash
# Installs everything ucloud-virt needs to build, run its demo and run its tests (Debian 12).
set -euo pipefail

packages=(
	# build
	meson ninja-build pkg-config gcc gettext clang-format
	libglib2.0-dev libsoup-3.0-dev libjson-glib-dev libvirt-dev libvirt-glib-1.0-dev
	libsqlite3-dev libgnutls28-dev libisofs-dev
	# run: libvirt + QEMU, overlays
	libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils
	# the private libvirtd of the demo and the tests
	tini iproute2 dnsmasq-base util-linux
	# the test guest
	busybox-static cpio kmod dosfstools mtools syslinux syslinux-common xz-utils zstd
	# demo and scripts
	curl ca-certificates python3
	# unit tests: isoinfo reads seeds back, PyYAML parses them as cloud-init does
	genisoimage python3-yaml
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
