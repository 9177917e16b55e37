#!/usr/bin/env bash
# Installs everything ucloud-virt needs to build, run its demo and run its tests (Debian 12).
set -euo pipefail

packages=(
	# build
	meson ninja-build pkg-config gcc gettext clang-format
	libglib2.0-dev libsoup-3.0-dev libjson-glib-dev libvirt-dev libvirt-glib-1.0-dev
	libsqlite3-dev libgnutls28-dev libisofs-dev libarchive-dev
	# run: libvirt + QEMU, overlays
	libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils
	# the private libvirtd of the demo and the tests
	tini iproute2 dnsmasq-base util-linux
	# the test guest
	busybox-static cpio kmod dosfstools mtools syslinux syslinux-common xz-utils zstd
	# the container-host image: a static agent (libc.a), ELF checks of crun's libraries
	libc6-dev binutils
	# container images: layers become one read-only erofs filesystem
	erofs-utils
	# demo and scripts
	curl ca-certificates python3
	# unit tests: isoinfo reads seeds back, PyYAML parses them as cloud-init does
	genisoimage python3-yaml
	# browser tests: real noVNC and xterm.js clients in Chromium; a monospace font for the terminal
	chromium fonts-dejavu-core
)
# Node.js may already come from outside Debian, whose nodejs then provides npm and conflicts with
# Debian's npm package: ask for both only when the commands are missing.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "Installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# DOCKER-job tests: a real docker-registry, umoci and skopeo (installed without starting the
# package's own registry service)
bash "$(dirname "$0")/../tests/integration/local-registry.sh" install

# The browser tests' npm packages, exactly as locked. A copy of the lock inside node_modules marks
# a finished install, so a rerun that matches needs neither the registry nor a fresh unpack.
browser=$(cd "$(dirname "$0")/../tests/browser" && pwd)
if ! cmp -s "$browser/package-lock.json" "$browser/node_modules/.installed-lock.json"; then
	echo "Installing npm packages in tests/browser"
	(cd "$browser" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)
	cp "$browser/package-lock.json" "$browser/node_modules/.installed-lock.json"
fi
