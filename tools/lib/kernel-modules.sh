# The kernel-module closure of an initramfs, shared by the image builders (sourced).
# Expects: MOD_ROOT (the extracted kernel's lib/modules/<version>), INITRAMFS (the tree being
# built), KERNEL_PKG (for messages) and a die function.

# Finds a module by name in the kernel tree; "-" and "_" are interchangeable in module names.
find_module() {
	local name=$1 pattern
	pattern="${name//[-_]/[-_]}.ko*"
	find "$MOD_ROOT/kernel" -name "$pattern" -print -quit
}

is_builtin() {
	local pattern="/${1//[-_]/[-_]}\.ko$"
	grep -Eq "$pattern" "$MOD_ROOT/modules.builtin"
}

# Copies a module into the initramfs decompressed: busybox insmod wants plain ELF, and
# finit_module(2) then needs no flags.
install_module() {
	local src=$1 dest=$2
	case $src in
	*.ko.xz) xz -dc "$src" >"$dest" ;;
	*.ko.zst) zstd -qdc "$src" >"$dest" ;;
	*.ko.gz) gzip -dc "$src" >"$dest" ;;
	*.ko) cp "$src" "$dest" ;;
	*) die "unknown module format: $src" ;;
	esac
}

# Depth-first walk over depends=, appending each module after its dependencies to LOAD_ORDER.
declare -A VISITED=()
LOAD_ORDER=()
add_module() {
	local name=${1//-/_} src dest dep deps
	[[ -n ${VISITED[$name]:-} ]] && return 0
	VISITED[$name]=1
	src=$(find_module "$name")
	if [[ -z $src ]]; then
		is_builtin "$name" && return 0
		die "module $name is neither in $KERNEL_PKG nor built in"
	fi
	dest="$INITRAMFS/lib/modules/$name.ko"
	install_module "$src" "$dest"
	deps=$(PATH=$PATH:/sbin:/usr/sbin modinfo -F depends "$dest")
	for dep in ${deps//,/ }; do
		add_module "$dep"
	done
	LOAD_ORDER+=("$name")
}
