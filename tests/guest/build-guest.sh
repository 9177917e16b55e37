#!/usr/bin/env bash
# Builds the tiny disk-booting test guest (Debian cloud kernel + busybox initramfs on a syslinux FAT disk) into OUTDIR.
#
# Usage: tests/guest/build-guest.sh [--name NAME] [--append 'KERNEL ARGS'] OUTDIR
#
# Results in OUTDIR (NAME defaults to ucv-test-guest):
#   NAME.qcow2             the bootable disk (SeaBIOS -> syslinux -> kernel + initramfs); --append
#                          adds kernel arguments to its boot entry, e.g. --append ucv.poweroff=5
#   vmlinuz, initrd.img    the same kernel and initramfs, for direct kernel boot
#   NAME.env               KERNEL_VERSION, CMDLINE, MARKER and PROMPT, for tests to source
#   debs/, cache/          downloaded packages and their extracted trees (a rebuild reuses them)
#
# Guest behaviour: prints "ucloud-virt-guest: ready hostname=<name>" on ttyS0 once its drivers are
# loaded, then keeps a root shell (prompt "ucv# ") on ttyS0. `poweroff -f` powers it off. The ACPI
# power button (what `virsh shutdown` presses by default) is handled by busybox acpid, started
# before the ready line: it prints "ucloud-virt-guest: powering off" on ttyS0 and powers off through
# busybox init (processes signalled, sync), so the hypervisor sees a guest-initiated power-off;
# should init not act on the request, the handler forces it (`poweroff -f`). Kernel command line
# knobs: ucv.poweroff=N (power off after N seconds), ucv.hostname=NAME. Without
# ucv.hostname the name comes from a NoCloud seed (ISO9660 labelled cidata on a virtio disk or a
# virtio-scsi CD-ROM: local-hostname in meta-data), else "ucv-test-guest". With a seed, the guest
# mounts it read-only on /mnt/seed and, before the ready line, prints
# "ucloud-virt-guest: seed hostname=<local-hostname> key=<fingerprint>", the fingerprint of the
# first key in user-data as `ssh-keygen -lf` prints it (SHA256:…) or "none". Before the ready line
# it also starts watching the keyboard (the PS/2 one that a VNC viewer types into): each key press
# prints "ucloud-virt-guest: key <code>" on ttyS0, with the Linux key code (KEY_Q = 16, …);
# releases and auto-repeats print nothing.
set -euo pipefail

readonly MARKER_PREFIX="ucloud-virt-guest:"
readonly KERNEL_META="linux-image-cloud-amd64"
readonly BASE_CMDLINE="console=ttyS0 quiet"
# pvpanic_mmio drives <panic model='isa'/>, pvpanic_pci <panic model='pvpanic'/>; virtio_scsi, sr_mod
# and isofs read a NoCloud seed CD-ROM (the cloud kernel has no AHCI, so no SATA CD-ROMs); button
# turns the ACPI power button into an input device and evdev gives acpid its /dev/input/event*.
readonly MODULES=(virtio_pci virtio_blk virtio_console virtio_net virtio_rng pvpanic pvpanic_mmio
	pvpanic_pci virtio_scsi sr_mod isofs button evdev)
readonly PACKAGES=(dosfstools mtools syslinux syslinux-common qemu-utils kmod cpio gzip xz-utils
	zstd util-linux)

apt_updated=0

log() {
	printf 'build-guest: %s\n' "$*" >&2
}

die() {
	log "error: $*"
	exit 1
}

apt_update_once() {
	if [[ $apt_updated -eq 0 ]]; then
		log "apt-get update"
		apt-get update -qq -o DPkg::Lock::Timeout=120
		apt_updated=1
	fi
}

ensure_packages() {
	local missing=() pkg installed
	installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null |
		sed -n 's/ install ok installed$//p')
	for pkg in "${PACKAGES[@]}"; do
		grep -qx "$pkg" <<<"$installed" || missing+=("$pkg")
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	apt_update_once
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		-o DPkg::Lock::Timeout=120 "${missing[@]}" >/dev/null
}

# Debian's container images switch apt's binary cache off, which makes every query take a second;
# keep a private one next to the downloads.
apt_cache() {
	apt-cache -o Dir::Cache::pkgcache="$CACHE_DIR/apt-pkgcache.bin" \
		-o Dir::Cache::srcpkgcache="$CACHE_DIR/apt-srcpkgcache.bin" "$@"
}

# Prints the versioned kernel package the metapackage currently depends on.
resolve_kernel_package() {
	apt_cache depends "$KERNEL_META" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1
}

package_version() {
	apt_cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1
}

# Where the cache keeps the candidate version of a package (empty if apt does not know it).
deb_path() {
	local version
	version=$(package_version "$1")
	[[ -n $version ]] && printf '%s/%s_%s_amd64.deb\n' "$DEB_DIR" "$1" "${version//:/%3a}"
	return 0
}

# Downloads a package into the deb cache unless that exact version is already there; a miss
# refreshes the package lists first, so a fresh download is always of the current version.
# Prints the path of the .deb.
fetch_deb() {
	local pkg=$1 file
	file=$(deb_path "$pkg")
	if [[ -z $file || ! -s $file ]]; then
		apt_update_once
		file=$(deb_path "$pkg")
		[[ -n $file ]] || die "apt knows no package $pkg"
	fi
	if [[ ! -s $file ]]; then
		log "downloading $(basename "$file")"
		(cd "$DEB_DIR" && apt-get download -qq -o APT::Sandbox::User=root "$pkg") >&2
	fi
	[[ -s $file ]] || die "download of $pkg did not produce $file"
	printf '%s\n' "$file"
}

# Extracts a .deb once into the cache (keyed by its file name) and prints the directory.
extract_deb() {
	local deb=$1 dir
	dir="$CACHE_DIR/$(basename "$deb" .deb)"
	if [[ ! -e $dir/.complete ]]; then
		rm -rf "$dir"
		dpkg -x "$deb" "$dir"
		touch "$dir/.complete"
	fi
	printf '%s\n' "$dir"
}

# Drops packages and extracted trees of versions this build no longer uses.
prune_cache() {
	local keep=("$@") path base k used
	for path in "$DEB_DIR"/*.deb "$CACHE_DIR"/*/; do
		[[ -e $path ]] || continue
		base=$(basename "$path" .deb)
		used=0
		for k in "${keep[@]}"; do
			[[ $base == "$(basename "$k" .deb)" ]] && used=1
		done
		[[ $used -eq 1 ]] || rm -rf "$path"
	done
}

# find_module, add_module (LOAD_ORDER) and friends
# shellcheck source=tools/lib/kernel-modules.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/lib/kernel-modules.sh"

write_init() {
	cat >"$INITRAMFS/init" <<'EOF'
#!/bin/sh
# PID 1 setup of the ucloud-virt test guest: mounts, drivers, power button, hostname, keyboard
# watcher, ready marker, then busybox init.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
export HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run /tmp /mnt/seed
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp

say() {
	echo "ucloud-virt-guest: $*" >/dev/ttyS0
}

while read -r mod; do
	insmod "/lib/modules/$mod.ko" 2>/dev/null
done </lib/modules/load-order

# virtio-serial ports get stable names only through udev; make the links by hand.
for port in /sys/class/virtio-ports/*; do
	[ -r "$port/name" ] || continue
	name=$(cat "$port/name")
	[ -n "$name" ] || continue
	mkdir -p /dev/virtio-ports
	ln -sf "../${port##*/}" "/dev/virtio-ports/$name"
done

# With no action or map file, busybox acpid maps the power button (KEY_POWER from the button
# driver's input device) to PWRF and runs PWRF/00000080 in its config directory. It opens the event
# devices only once, at start, so the drivers must be loaded by now; it writes its pid file after
# opening them, so waiting for that file means a shutdown request after the ready line is not lost.
acpid -c /etc/acpi -l /run/acpid.log -p /run/acpid.pid
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	[ -e /run/acpid.pid ] && break
	usleep 100000
done

poweroff_after=
host=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	ucv.poweroff=*) poweroff_after=${arg#ucv.poweroff=} ;;
	ucv.hostname=*) host=${arg#ucv.hostname=} ;;
	esac
done

# A NoCloud seed is an ISO9660 volume labelled cidata (any case, as cloud-init accepts) on a
# virtio-scsi CD-ROM or a virtio disk. The label sits at byte 40 of the primary volume descriptor.
seed_label() {
	dd if="$1" bs=1 skip=32808 count=32 2>/dev/null | tr -d ' \000' | tr 'A-Z' 'a-z'
}

# The SCSI scan runs asynchronously after insmod: give a CD-ROM a moment to appear, but only when
# there is a SCSI host at all.
wait_for_cdrom() {
	ls /sys/class/scsi_host/ 2>/dev/null | grep -q . || return 0
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		ls /dev/sr* >/dev/null 2>&1 && return 0
		usleep 100000
	done
}

# Mounts the seed read-only on /mnt/seed (it stays mounted); fails if there is none.
mount_seed() {
	wait_for_cdrom
	for dev in /dev/sr* /dev/vd*; do
		[ -b "$dev" ] || continue
		[ "$(seed_label "$dev")" = cidata ] || continue
		mount -t iso9660 -o ro "$dev" /mnt/seed 2>/dev/null || continue
		[ -r /mnt/seed/meta-data ] && return 0
		umount /mnt/seed
	done
	return 1
}

seed_hostname() {
	sed -n 's/^local-hostname:[[:space:]]*//p' /mnt/seed/meta-data | tr -d "\"'\r" | head -n 1
}

# The first ssh-/ecdsa-/sk- key listed in user-data, fingerprinted as `ssh-keygen -lf` does:
# SHA256: and the unpadded base64 of the SHA-256 of the key blob.
seed_key_fingerprint() {
	local blob key_re='^[[:space:]]*-[[:space:]]*"?(ssh|ecdsa|sk)-[^[:space:]]+[[:space:]]+'
	blob=$(sed -nE "s/${key_re}([A-Za-z0-9+\/=]+).*/\\2/p" /mnt/seed/user-data 2>/dev/null |
		head -n 1)
	if [ -z "$blob" ]; then
		echo none
		return
	fi
	echo "SHA256:$(printf '%s' "$blob" | base64 -d | sha256sum | cut -d' ' -f1 | xxd -r -p |
		base64 | tr -d '=\n')"
}

seed_line=
if mount_seed; then
	seed_host=$(seed_hostname)
	seed_line="seed hostname=$seed_host key=$(seed_key_fingerprint)"
	[ -n "$host" ] || host=$seed_host
fi
[ -n "$host" ] || host=ucv-test-guest
hostname "$host"

# A display client's keys reach the guest through its PS/2 keyboard; reporting every press on
# the serial console lets a test see what arrived without reading the screen. The device is held
# open for good, since evdev drops whatever happens while no one has it open. A read returns
# whole events; on x86_64 one is 24 bytes, which od turns into 12 u16: type and code are the 9th
# and 10th, the s32 value the 11th (low) and 12th (high). EV_KEY is 1; value 1 a press.
keyboard_event_device() {
	for dev in /sys/class/input/event*; do
		case "$(cat "$dev/device/name" 2>/dev/null)" in
		*"AT Translated"* | *[Kk]eyboard*)
			echo "/dev/input/${dev##*/}"
			return 0
			;;
		esac
	done
	return 1
}

watch_keyboard() {
	local dev
	# serio probes the i8042 ports in a kernel thread: the keyboard may come a moment later
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		dev=$(keyboard_event_device) && break
		usleep 100000
	done
	[ -n "$dev" ] || return 0
	(
		exec 3<"$dev"
		while :; do
			set -- $(dd bs=24 count=1 <&3 2>/dev/null | od -An -v -tu2 -w24)
			[ $# -eq 12 ] || break
			[ "$9" = 1 ] && [ "${11}" = 1 ] && [ "${12}" = 0 ] && say "key ${10}"
		done
	) &
}
watch_keyboard

if [ -n "$poweroff_after" ]; then
	(sleep "$poweroff_after"; say "powering off"; poweroff -f) &
fi

[ -z "$seed_line" ] || say "$seed_line"
say "ready hostname=$host"

if [ -e /sys/class/net/eth0 ]; then
	ip link set lo up
	udhcpc -b -q -i eth0 -x "hostname:$host" -s /etc/udhcpc.script >/dev/null 2>&1 &
fi

exec /bin/init
EOF
	chmod 755 "$INITRAMFS/init"

	mkdir -p "$INITRAMFS/etc/acpi/PWRF"
	cat >"$INITRAMFS/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
# Run by acpid when the ACPI power button is pressed: an orderly power-off through busybox init,
# which signals every process (this one too) and syncs before powering off.
echo "ucloud-virt-guest: powering off" >/dev/ttyS0
poweroff || exec poweroff -f
# Still alive: init took the request but never got to the power-off.
sleep 15
exec poweroff -f
EOF
	chmod 755 "$INITRAMFS/etc/acpi/PWRF/00000080"

	cat >"$INITRAMFS/etc/inittab" <<'EOF'
ttyS0::respawn:-/bin/sh
::ctrlaltdel:/bin/poweroff -f
::shutdown:/bin/sync
EOF

	cat >"$INITRAMFS/etc/profile" <<'EOF'
export PATH=/bin:/sbin
export HOME=/root
export PS1='ucv# '
cd /root
EOF

	cat >"$INITRAMFS/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# Applies a DHCP lease from busybox udhcpc and reports the address on the serial console.
case "$1" in
bound | renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	ip link set "$interface" up
	for gw in $router; do
		ip route add default via "$gw" dev "$interface"
		break
	done
	: >/etc/resolv.conf
	for ns in $dns; do
		echo "nameserver $ns" >>/etc/resolv.conf
	done
	echo "ucloud-virt-guest: network $interface ip=$ip" >/dev/ttyS0
	;;
deconfig)
	ip link set "$interface" up
	ip addr flush dev "$interface"
	;;
esac
EOF
	chmod 755 "$INITRAMFS/etc/udhcpc.script"
	echo "root:x:0:0:root:/root:/bin/sh" >"$INITRAMFS/etc/passwd"
	echo "root:x:0:" >"$INITRAMFS/etc/group"
}

build_initramfs() {
	INITRAMFS="$WORK/initramfs"
	mkdir -p "$INITRAMFS"/{bin,dev,etc,lib/modules,mnt,proc,root,run,sys,tmp}
	ln -s bin "$INITRAMFS/sbin"
	cp "$BUSYBOX_DIR/bin/busybox" "$INITRAMFS/bin/busybox"
	# The other applet links are made by /init at boot: one fork here per link would cost seconds.
	ln -s busybox "$INITRAMFS/bin/sh"

	local mod
	for mod in "${MODULES[@]}"; do
		add_module "$mod"
	done
	printf '%s\n' "${LOAD_ORDER[@]}" >"$INITRAMFS/lib/modules/load-order"

	write_init
	(cd "$INITRAMFS" && find . -print0 | sort -z |
		cpio --null -o -H newc -R 0:0 --quiet | gzip -6) >"$WORK/initrd.img"
}

# A FAT "superfloppy" (no partition table): SeaBIOS runs the syslinux boot sector straight away.
build_disk() {
	local kernel=$1 initrd=$2 img="$WORK/disk.img" size_kib
	size_kib=$((($(stat -c %s "$kernel") + $(stat -c %s "$initrd")) / 1024 + 4096))
	size_kib=$(((size_kib + 1023) / 1024 * 1024))
	mkfs.vfat -C -n UCVGUEST "$img" "$size_kib" >/dev/null
	cat >"$WORK/syslinux.cfg" <<EOF
DEFAULT ucv
PROMPT 0
TIMEOUT 0
LABEL ucv
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND $CMDLINE
EOF
	MTOOLS_SKIP_CHECK=1 mcopy -i "$img" "$kernel" ::vmlinuz
	MTOOLS_SKIP_CHECK=1 mcopy -i "$img" "$initrd" ::initrd.img
	MTOOLS_SKIP_CHECK=1 mcopy -i "$img" "$WORK/syslinux.cfg" ::syslinux.cfg
	syslinux --install "$img"
	qemu-img convert -f raw -O qcow2 "$img" "$WORK/image.qcow2"
}

usage() {
	echo "usage: $0 [--name NAME] [--append 'KERNEL ARGS'] OUTDIR" >&2
	exit 2
}

main() {
	local name=ucv-test-guest append=""
	while [[ $# -gt 1 ]]; do
		case $1 in
		--name) name=${2:?}; shift 2 ;;
		--append) append=${2:?}; shift 2 ;;
		*) usage ;;
		esac
	done
	[[ $# -eq 1 && $1 != -* ]] || usage
	[[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die "bad image name: $name"
	CMDLINE="$BASE_CMDLINE${append:+ $append}"

	local started_ns
	started_ns=$(date +%s%N)
	mkdir -p "$1"
	OUTDIR=$(cd "$1" && pwd)
	DEB_DIR="$OUTDIR/debs"
	CACHE_DIR="$OUTDIR/cache"
	mkdir -p "$DEB_DIR" "$CACHE_DIR"

	# Two builds into one OUTDIR (parallel CI jobs) take turns.
	exec 9>"$OUTDIR/.lock"
	flock 9

	ensure_packages
	KERNEL_PKG=$(resolve_kernel_package)
	if [[ -z $KERNEL_PKG || ! -s $(deb_path "$KERNEL_PKG") ]]; then
		apt_update_once
		KERNEL_PKG=$(resolve_kernel_package)
	fi
	[[ -n $KERNEL_PKG ]] || die "cannot resolve the kernel behind $KERNEL_META"
	KERNEL_VERSION=${KERNEL_PKG#linux-image-}

	local kernel_deb busybox_deb kernel_dir
	kernel_deb=$(fetch_deb "$KERNEL_PKG")
	busybox_deb=$(fetch_deb busybox-static)
	kernel_dir=$(extract_deb "$kernel_deb")
	BUSYBOX_DIR=$(extract_deb "$busybox_deb")
	prune_cache "$kernel_deb" "$busybox_deb"
	MOD_ROOT="$kernel_dir/lib/modules/$KERNEL_VERSION"
	[[ -d $MOD_ROOT ]] || die "no modules for $KERNEL_VERSION in $kernel_deb"

	WORK=$(mktemp -d "$OUTDIR/.work.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT

	build_initramfs
	cp "$kernel_dir/boot/vmlinuz-$KERNEL_VERSION" "$WORK/vmlinuz"
	build_disk "$WORK/vmlinuz" "$WORK/initrd.img"

	cat >"$WORK/image.env" <<EOF
KERNEL_VERSION=$KERNEL_VERSION
CMDLINE='$CMDLINE'
MARKER='$MARKER_PREFIX ready hostname='
PROMPT='ucv# '
EOF
	mv -f "$WORK/vmlinuz" "$WORK/initrd.img" "$OUTDIR/"
	mv -f "$WORK/image.env" "$OUTDIR/$name.env"
	mv -f "$WORK/image.qcow2" "$OUTDIR/$name.qcow2"

	local ms=$((($(date +%s%N) - started_ns) / 1000000))
	log "kernel $KERNEL_VERSION, modules: ${LOAD_ORDER[*]}"
	log "built $OUTDIR/$name.qcow2 in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s"
}

main "$@"
