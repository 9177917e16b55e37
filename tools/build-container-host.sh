#!/usr/bin/env bash
# Builds the container-host VM image (Debian cloud kernel + an initramfs with crun and the
# ucloud-virt agent as /init) into OUTDIR, from Debian packages only.
#
# Usage: tools/build-container-host.sh --agent PATH [--cache DIR] OUTDIR
#
# Results in OUTDIR:
#   vmlinuz      the kernel, for direct kernel boot
#   initrd.img   gzip'd cpio: the agent as /init, busybox-static (/bin/sh and friends for
#                debugging), crun with its shared libraries and the dynamic loader, the kernel
#                modules the agent loads (lib/modules/<name>.ko, in lib/modules/load-order)
#   VERSION      the agent's version, exactly as its HELLO frame reports it
# The cache (default OUTDIR/cache) keeps the downloaded packages and their extracted trees, so a
# rebuild after a change of the agent takes a few seconds and no network.
#
# Nothing is installed on this machine: the tools it runs come from tools/install-deps.sh.
set -euo pipefail

readonly KERNEL_META="linux-image-cloud-amd64"
readonly MULTIARCH="x86_64-linux-gnu"
# virtio_pci/_blk/_console/_net: the VM's devices; erofs + overlay: the container's root;
# qemu_fw_cfg: the container config; virtiofs: the job's folders; pvpanic_*: crash reports.
# Dependencies (fuse for virtiofs, …) are added from each module's depends=.
readonly MODULES=(virtio_pci virtio_blk virtio_console virtio_net erofs overlay qemu_fw_cfg
	virtiofs pvpanic_mmio pvpanic_pci)
# The programs this script runs, and the Debian packages that have them.
readonly TOOLS=(apt-get:apt apt-cache:apt dpkg:dpkg cpio:cpio gzip:gzip modinfo:kmod
	readelf:binutils strip:binutils flock:util-linux xz:xz-utils zstd:zstd)

apt_updated=0

log() {
	printf 'build-container-host: %s\n' "$*" >&2
}

die() {
	log "error: $*"
	exit 1
}

check_tools() {
	local entry missing=()
	for entry in "${TOOLS[@]}"; do
		PATH=$PATH:/sbin:/usr/sbin command -v "${entry%%:*}" >/dev/null ||
			missing+=("${entry#*:}")
	done
	[[ ${#missing[@]} -eq 0 ]] ||
		die "missing packages: ${missing[*]} (tools/install-deps.sh installs them)"
}

apt_update_once() {
	if [[ $apt_updated -eq 0 ]]; then
		[[ $(id -u) -eq 0 ]] || die "apt's package lists are out of date; run apt-get update"
		log "apt-get update"
		apt-get update -qq -o DPkg::Lock::Timeout=120
		apt_updated=1
	fi
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

# Prints "package version" for each package apt knows, with its candidate version.
candidate_versions() {
	apt_cache show --no-all-versions "$@" 2>/dev/null |
		awk '/^Package: / { p = $2 } /^Version: / { print p, $2 }'
}

# The packages the given packages need (first of each set of alternatives; virtual ones skipped).
package_depends() {
	apt_cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances "$@" 2>/dev/null | awk '
		/^ *\|?(Pre)?Depends: / {
			name = $2
			sub(/:.*/, "", name)
			if (!skip && name !~ /^</) print name
			skip = ($1 ~ /^\|/)
			next
		}'
}

# The packages and, recursively, everything they depend on; one apt query per level.
package_closure() {
	local -A seen=()
	local level=("$@") next pkg
	while [[ ${#level[@]} -gt 0 ]]; do
		next=()
		for pkg in "${level[@]}"; do
			seen[$pkg]=1
			printf '%s\n' "$pkg"
		done
		for pkg in $(package_depends "${level[@]}" | sort -u); do
			[[ -n ${seen[$pkg]:-} ]] && continue
			seen[$pkg]=1
			next+=("$pkg")
		done
		level=("${next[@]}")
	done
}

# Works out the packages of this build and where their .debs go (PACKAGES, DEB_FILES); fails if
# apt does not know one or its current version is not in the cache yet.
resolve_packages() {
	local -A version=()
	local pkg ver missing=0
	KERNEL_PKG=$(resolve_kernel_package)
	[[ -n $KERNEL_PKG ]] || return 1
	mapfile -t PACKAGES < <(printf '%s\n' "$KERNEL_PKG" busybox-static; package_closure crun)
	while read -r pkg ver; do
		version[$pkg]=$ver
	done < <(candidate_versions "${PACKAGES[@]}")
	DEB_FILES=()
	for pkg in "${PACKAGES[@]}"; do
		ver=${version[$pkg]:-}
		[[ -n $ver ]] || return 1
		DEB_FILES+=("$DEB_DIR/${pkg}_${ver//:/%3a}_amd64.deb")
		[[ -s ${DEB_FILES[-1]} ]] || missing=1
	done
	return $missing
}

# resolve_packages with its answer kept in the cache while apt's package lists stay the same:
# the queries take seconds, a rebuild for a changed agent should not.
resolve_packages_cached() {
	local file="$CACHE_DIR/resolved" key line
	key="lists $(stat -c %Y /var/lib/apt/lists 2>/dev/null) format 1"
	if [[ -s $file && $(head -n 1 "$file") == "$key" ]]; then
		PACKAGES=() DEB_FILES=()
		while read -r line; do
			PACKAGES+=("${line%% *}")
			DEB_FILES+=("$DEB_DIR/${line#* }")
		done < <(tail -n +2 "$file")
		KERNEL_PKG=${PACKAGES[0]}
		for line in "${DEB_FILES[@]}"; do
			[[ -s $line ]] || return 1
		done
		return 0
	fi
	resolve_packages || return 1
	{
		printf '%s\n' "$key"
		for line in "${!PACKAGES[@]}"; do
			printf '%s %s\n' "${PACKAGES[$line]}" "$(basename "${DEB_FILES[$line]}")"
		done
	} >"$file"
}

# Downloads, in one go, the packages whose .deb is not in the cache.
fetch_packages() {
	local i wanted=()
	for i in "${!PACKAGES[@]}"; do
		[[ -s ${DEB_FILES[$i]} ]] || wanted+=("${PACKAGES[$i]}")
	done
	[[ ${#wanted[@]} -gt 0 ]] || return 0
	log "downloading ${wanted[*]}"
	(cd "$DEB_DIR" && apt-get download -qq -o APT::Sandbox::User=root "${wanted[@]}") >&2
	for i in "${!PACKAGES[@]}"; do
		[[ -s ${DEB_FILES[$i]} ]] || die "download of ${PACKAGES[$i]} did not produce ${DEB_FILES[$i]}"
	done
}

# Extracts a .deb once into the cache (keyed by its file name) and prints the directory.
extract_deb() {
	local deb=$1 dir
	dir="$TREE_DIR/$(basename "$deb" .deb)"
	if [[ ! -e $dir/.complete ]]; then
		rm -rf "$dir"
		dpkg -x "$deb" "$dir"
		touch "$dir/.complete"
	fi
	printf '%s\n' "$dir"
}

# Drops packages and extracted trees of versions this build no longer uses.
prune_cache() {
	local -A keep=()
	local deb path
	for deb in "$@"; do
		keep[$(basename "$deb" .deb)]=1
	done
	for path in "$DEB_DIR"/*.deb "$TREE_DIR"/*/; do
		[[ -e $path ]] || continue
		[[ -n ${keep[$(basename "$path" .deb)]:-} ]] || rm -rf "$path"
	done
}

# Finds a shared library by soname in the extracted packages.
find_library() {
	local soname=$1 tree dir
	for tree in "${LIB_TREES[@]}"; do
		for dir in lib usr/lib; do
			if [[ -e $tree/$dir/$MULTIARCH/$soname ]]; then
				printf '%s\n' "$tree/$dir/$MULTIARCH/$soname"
				return 0
			fi
		done
	done
	return 1
}

# Copies an ELF file's shared libraries (and theirs) to the initramfs' lib directory.
declare -A SEEN_LIB=()
add_libraries() {
	local elf=$1 soname src
	for soname in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[[ -n ${SEEN_LIB[$soname]:-} ]] && continue
		SEEN_LIB[$soname]=1
		src=$(find_library "$soname") || die "no package in the closure has $soname"
		cp -L "$src" "$INITRAMFS/lib/$MULTIARCH/$soname"
		add_libraries "$INITRAMFS/lib/$MULTIARCH/$soname"
	done
}

# The dynamic loader named in crun's program header, at that path and in the lib directory.
add_loader() {
	local interp src
	interp=$(readelf -l "$1" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
	[[ -n $interp ]] || die "no program interpreter in $1"
	src=$(find_library "$(basename "$interp")") || die "no package has $interp"
	cp -L "$src" "$INITRAMFS/lib/$MULTIARCH/$(basename "$interp")"
	mkdir -p "$INITRAMFS/$(dirname "$interp")"
	[[ -e $INITRAMFS/$interp ]] ||
		ln -s "/lib/$MULTIARCH/$(basename "$interp")" "$INITRAMFS/$interp"
}

# find_module, add_module (LOAD_ORDER) and friends
# shellcheck source=tools/lib/kernel-modules.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/kernel-modules.sh"

# crun must find every library in the initramfs as the agent will start it there: the loader
# lists what it resolves (crun itself cannot run in a chroot without /proc).
check_crun() {
	local loader=/lib64/ld-linux-x86-64.so.2 out
	if [[ $(id -u) -eq 0 ]]; then
		out=$(chroot "$INITRAMFS" "$loader" --list /usr/bin/crun 2>&1) ||
			die "crun's libraries do not resolve inside the initramfs: $out"
	else
		out=$("$INITRAMFS/lib/$MULTIARCH/ld-linux-x86-64.so.2" --inhibit-cache \
			--library-path "$INITRAMFS/lib/$MULTIARCH" --list "$INITRAMFS/usr/bin/crun" \
			2>&1) || die "crun's libraries do not resolve: $out"
	fi
	! grep -q 'not found' <<<"$out" || die "crun's libraries do not resolve: $out"
}

build_initramfs() {
	local crun_tree=$1
	INITRAMFS="$WORK/initramfs"
	mkdir -p "$INITRAMFS"/{bin,dev,etc,lib/modules,lib/$MULTIARCH,newroot,proc,root,run,sys,tmp}
	mkdir -p "$INITRAMFS/usr/bin"
	ln -s bin "$INITRAMFS/sbin"
	cp "$BUSYBOX_DIR/bin/busybox" "$INITRAMFS/bin/busybox"
	ln -s busybox "$INITRAMFS/bin/sh"
	install -m 0755 "$AGENT" "$INITRAMFS/init"
	strip --strip-debug "$INITRAMFS/init"
	# the kernel hands /dev/console to init as stdin/out/err only if the node is there
	if [[ $(id -u) -eq 0 ]]; then
		mknod -m 600 "$INITRAMFS/dev/console" c 5 1
	fi

	local mod
	for mod in "${MODULES[@]}"; do
		add_module "$mod"
	done
	printf '%s\n' "${LOAD_ORDER[@]}" >"$INITRAMFS/lib/modules/load-order"

	install -m 0755 "$crun_tree/usr/bin/crun" "$INITRAMFS/usr/bin/crun"
	add_libraries "$INITRAMFS/usr/bin/crun"
	add_loader "$INITRAMFS/usr/bin/crun"
	check_crun

	echo "root:x:0:0:root:/root:/bin/sh" >"$INITRAMFS/etc/passwd"
	echo "root:x:0:" >"$INITRAMFS/etc/group"
	printf '%s\n' "$AGENT_VERSION" >"$INITRAMFS/etc/ucv-container-host-version"

	(cd "$INITRAMFS" && find . -print0 | sort -z |
		cpio --null -o -H newc -R 0:0 --quiet | gzip -6) >"$WORK/initrd.img"
}

usage() {
	echo "usage: $0 --agent PATH [--cache DIR] OUTDIR" >&2
	exit 2
}

main() {
	local agent="" cache=""
	while [[ $# -gt 1 ]]; do
		case $1 in
		--agent) agent=${2:?}; shift 2 ;;
		--cache) cache=${2:?}; shift 2 ;;
		*) usage ;;
		esac
	done
	[[ $# -eq 1 && $1 != -* && -n $agent ]] || usage
	[[ -x $agent ]] || die "no agent program at $agent"
	AGENT=$(realpath "$agent")
	AGENT_VERSION=$("$AGENT" --version) || die "$AGENT --version failed"
	[[ $AGENT_VERSION =~ ^[[:print:]]{1,128}$ ]] || die "bad agent version: $AGENT_VERSION"

	local started_ns
	started_ns=$(date +%s%N)
	check_tools
	mkdir -p "$1"
	OUTDIR=$(cd "$1" && pwd)
	CACHE_DIR=$(mkdir -p "${cache:-$OUTDIR/cache}" && cd "${cache:-$OUTDIR/cache}" && pwd)
	DEB_DIR="$CACHE_DIR/debs"
	TREE_DIR="$CACHE_DIR/trees"
	mkdir -p "$DEB_DIR" "$TREE_DIR"

	# Two builds sharing a cache take turns.
	exec 9>"$CACHE_DIR/.lock"
	flock 9

	# a package missing from the cache may mean outdated lists: refresh them once and look again
	if ! resolve_packages_cached; then
		apt_update_once
		resolve_packages || [[ ${#DEB_FILES[@]} -eq ${#PACKAGES[@]} ]] ||
			die "apt does not know every package of: ${PACKAGES[*]}"
	fi
	fetch_packages
	KERNEL_VERSION=${KERNEL_PKG#linux-image-}

	local kernel_dir crun_tree deb
	kernel_dir=$(extract_deb "${DEB_FILES[0]}")
	BUSYBOX_DIR=$(extract_deb "${DEB_FILES[1]}")
	LIB_TREES=()
	for deb in "${DEB_FILES[@]:2}"; do
		LIB_TREES+=("$(extract_deb "$deb")")
	done
	crun_tree=${LIB_TREES[0]}
	prune_cache "${DEB_FILES[@]}"
	MOD_ROOT="$kernel_dir/lib/modules/$KERNEL_VERSION"
	[[ -d $MOD_ROOT ]] || die "no modules for $KERNEL_VERSION in ${DEB_FILES[0]}"

	WORK=$(mktemp -d "$OUTDIR/.work.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT

	build_initramfs "$crun_tree"
	cp "$kernel_dir/boot/vmlinuz-$KERNEL_VERSION" "$WORK/vmlinuz"
	printf '%s\n' "$AGENT_VERSION" >"$WORK/VERSION"
	mv -f "$WORK/vmlinuz" "$WORK/initrd.img" "$WORK/VERSION" "$OUTDIR/"

	local ms=$((($(date +%s%N) - started_ns) / 1000000))
	log "kernel $KERNEL_VERSION, modules: ${LOAD_ORDER[*]}"
	log "libraries: ${!SEEN_LIB[*]}"
	log "agent $AGENT_VERSION; initrd.img $(($(stat -c %s "$OUTDIR/initrd.img") / 1024)) KiB;" \
		"built in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s"
}

main "$@"
