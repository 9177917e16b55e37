#!/usr/bin/env bash
# Starts, stops or names a private libvirtd (own network + mount namespaces, state under DIR) for tests.
#
# Usage: tests/integration/private-libvirtd.sh start|stop|restart|kill|uri|status DIR
#
#   start   install what is needed, write the configuration under DIR, start libvirtd in the network
#           namespace ucv-test-<hash of DIR> and wait (≤60 s) until it answers; no-op if running;
#           a half-dead earlier instance (and its guests) is stopped first
#   stop    destroy every running domain, stop libvirtd (and its QEMUs), delete the namespace;
#           safe to repeat
#   restart restart only libvirtd, as an admin's `systemctl restart libvirtd` would: stop it
#           (SIGTERM) and its tini, keep the namespace and the running guests, start it again in
#           a fresh mount namespace over the same DIR and wait until it answers; it reconnects to
#           the guests. After `kill` this starts libvirtd again with the guests kept.
#           Does a plain `start` when nothing runs under DIR yet.
#   kill    SIGKILL libvirtd (a crash): its tini exits, guests and namespace stay; `restart`
#           brings it back, `stop` cleans up
#   uri     print the libvirt URI to connect with
#   status  exit 0 if the daemon answers
#
# Guests outlive their tini across `restart` and `kill`; from then on the init process is
# their parent, which reaps them slowly, so destroying them takes a second or two longer.
#
# Layout of DIR: sock/ (the sockets), etc/ lib/ run/ log/ cache/ (bound over /etc/libvirt,
# /var/lib/libvirt, /run/libvirt, /var/log/libvirt, /var/cache/libvirt inside the namespace),
# libvirtd.log (libvirtd's own log), daemon.out (its stdout/stderr), *.pid.
#
# Environment:
#   UCV_LIBVIRTD_LOG_LEVEL   libvirtd log level for libvirtd.log, 1 (debug) … 4 (errors); default 3
#   UCV_LIBVIRTD_VIRTLOGD=1  route chardev logs through a private virtlogd (stdio_handler "logd")
#                            instead of letting QEMU write them (stdio_handler "file")
#   UCV_LIBVIRTD_CACHE_DIR   directory to use as /var/cache/libvirt, so the QEMU capability probe
#                            (~8 s) is done once across runs; default DIR/cache
set -euo pipefail

readonly PACKAGES=(libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
	qemu-utils tini iproute2 dnsmasq-base)
readonly START_TIMEOUT_S=60

log() {
	printf 'private-libvirtd: %s\n' "$*" >&2
}

die() {
	log "error: $*"
	exit 1
}

usage() {
	echo "usage: $0 start|stop|restart|kill|uri|status DIR" >&2
	exit 2
}

ensure_packages() {
	local missing=() pkg installed
	installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null |
		sed -n 's/ install ok installed$//p')
	for pkg in "${PACKAGES[@]}"; do
		grep -qx "$pkg" <<<"$installed" || missing+=("$pkg")
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0

	# Package scripts must not start a system libvirtd or its default network in the root
	# namespace: forbid service starts while installing unless a policy already does.
	local policy=/usr/sbin/policy-rc.d own_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		own_policy=1
	fi
	log "installing ${missing[*]}"
	apt-get update -qq
	local rc=0
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null || rc=$?
	[[ $own_policy -eq 1 ]] && rm -f "$policy"
	[[ $rc -eq 0 ]] || die "apt-get install failed"
}

set_paths() {
	DIR=$(realpath -m "$1")
	SOCK_DIR="$DIR/sock"
	SOCKET="$SOCK_DIR/libvirt-sock"
	URI="qemu+unix:///system?socket=$SOCKET"
	NETNS="ucv-test-$(printf '%s' "$DIR" | sha1sum | cut -c1-12)"
	TINI_PID_FILE="$DIR/tini.pid"
	LIBVIRTD_PID_FILE="$DIR/libvirtd.pid"
	VIRTLOGD_PID_FILE="$DIR/virtlogd.pid"
	# sun_path holds 108 bytes including the terminator.
	[[ ${#SOCKET} -lt 108 ]] || die "DIR is too long for a unix socket path: $SOCKET"
}

# True while the process runs; a zombie (exited, parent not reaping yet) counts as gone.
running() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

pid_alive() {
	local file=$1 pid
	[[ -s $file ]] || return 1
	pid=$(<"$file")
	[[ $pid =~ ^[0-9]+$ ]] && running "$pid"
}

answers() {
	[[ -S $SOCKET ]] && virsh -q -c "$URI" version >/dev/null 2>&1
}

netns_exists() {
	ip netns list 2>/dev/null | awk -v n="$NETNS" '$1 == n {f = 1} END {exit !f}'
}

write_config() {
	local level=${UCV_LIBVIRTD_LOG_LEVEL:-3} handler=file
	[[ ${UCV_LIBVIRTD_VIRTLOGD:-0} == 1 ]] && handler=logd

	cat >"$DIR/etc/libvirtd.conf" <<EOF
# Private libvirtd for ucloud-virt tests (written by private-libvirtd.sh).
unix_sock_dir = "$SOCK_DIR"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0770"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "$level:file:$DIR/libvirtd.log"
EOF
	cat >"$DIR/etc/qemu.conf" <<EOF
# QEMU driver settings for the private test libvirtd (written by private-libvirtd.sh).
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "$handler"
cgroup_controllers = [ ]
EOF
	cat >"$DIR/etc/virtlogd.conf" <<EOF
log_outputs = "$level:file:$DIR/virtlogd.log"
EOF
}

# The script run inside the new namespaces: bind the private directories over libvirt's system
# paths, optionally start virtlogd, then become tini (child subreaper) running libvirtd.
inner_script() {
	cat <<'EOF'
set -eu
dir=$1 cache=$2 virtlogd=$3
for pair in "etc:/etc/libvirt" "run:/run/libvirt" "lib:/var/lib/libvirt" "log:/var/log/libvirt" \
	"cache:/var/cache/libvirt"; do
	src="$dir/${pair%%:*}"
	dst="${pair#*:}"
	[ "${pair%%:*}" = cache ] && src=$cache
	mkdir -p "$dst"
	mount --bind "$src" "$dst"
done
echo $$ >"$dir/tini.pid"
if [ "$virtlogd" = 1 ]; then
	virtlogd --daemon --pid-file "$dir/virtlogd.pid" --config /etc/libvirt/virtlogd.conf
fi
exec tini -s -- libvirtd --pid-file "$dir/libvirtd.pid" --config /etc/libvirt/libvirtd.conf
EOF
}

# Starts libvirtd (under tini, optionally after virtlogd) in the existing network namespace and
# a fresh mount namespace, then waits until it answers; returns 1 if it does not.
launch() {
	local cache=$1 virtlogd=$2 started_ns
	started_ns=$(date +%s%N)
	rm -f "$TINI_PID_FILE"
	setsid ip netns exec "$NETNS" unshare --mount --propagation private \
		sh -c "$(inner_script)" inner "$DIR" "$cache" "$virtlogd" \
		</dev/null >>"$DIR/daemon.out" 2>&1 &

	local deadline=$((SECONDS + START_TIMEOUT_S))
	until answers; do
		if ((SECONDS >= deadline)); then
			log "libvirtd did not answer within ${START_TIMEOUT_S} s"
			tail -n 20 "$DIR/daemon.out" "$DIR/libvirtd.log" >&2 2>/dev/null || true
			return 1
		fi
		if [[ -s $TINI_PID_FILE ]] && ! pid_alive "$TINI_PID_FILE"; then
			log "libvirtd exited during start"
			tail -n 20 "$DIR/daemon.out" "$DIR/libvirtd.log" >&2 2>/dev/null || true
			return 1
		fi
		sleep 0.1
	done
	local ms=$((($(date +%s%N) - started_ns) / 1000000))
	log "libvirtd up in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s (netns $NETNS): $URI"
}

do_start() {
	if pid_alive "$TINI_PID_FILE" && answers; then
		log "already running: $URI"
		return 0
	fi
	ensure_packages
	# A half-dead earlier instance (crashed libvirtd, stale namespace) is cleaned up first.
	do_stop 2>/dev/null || true

	local cache=${UCV_LIBVIRTD_CACHE_DIR:-$DIR/cache} virtlogd=${UCV_LIBVIRTD_VIRTLOGD:-0}
	mkdir -p "$DIR"/{etc,run,lib,log,cache} "$SOCK_DIR" "$cache"
	cache=$(realpath "$cache")
	write_config
	: >"$DIR/daemon.out"

	ip netns add "$NETNS"
	ip -n "$NETNS" link set lo up
	if ! launch "$cache" "$virtlogd"; then
		do_stop || true
		exit 1
	fi
}

# Waits up to $2 tenths of a second for a pid to exit, then kills it hard.
stop_pid() {
	local pid=$1 tenths=$2
	kill -TERM "$pid" 2>/dev/null || return 0
	while ((tenths-- > 0)); do
		running "$pid" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# Stops a process named in a pid file if it still runs the expected program.
stop_pid_file() {
	local file=$1 program=$2 tenths=$3 pid
	if pid_alive "$file"; then
		pid=$(<"$file")
		if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$program"; then
			stop_pid "$pid" "$tenths"
		fi
	fi
	rm -f "$file"
}

# Prints the pid named in a pid file if that process runs and still is the expected program.
pid_of() {
	local file=$1 program=$2 pid
	pid_alive "$file" || return 1
	pid=$(<"$file")
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$program" || return 1
	printf '%s\n' "$pid"
}

# Ends libvirtd and its tini but nothing they started: QEMUs (and virtlogd, dnsmasq) live on in
# the network namespace. SIGTERM is what systemd's stop sends; libvirtd leaves guests running.
stop_libvirtd() {
	local signal=$1 pid tenths=20
	if pid=$(pid_of "$LIBVIRTD_PID_FILE" libvirtd); then
		if [[ $signal == KILL ]]; then
			kill -KILL "$pid" 2>/dev/null || true
		else
			stop_pid "$pid" 100
		fi
	fi
	rm -f "$LIBVIRTD_PID_FILE"
	# tini exits by itself once libvirtd has (without killing the QEMUs it adopted)
	while pid_alive "$TINI_PID_FILE" && ((tenths-- > 0)); do
		sleep 0.1
	done
	stop_pid_file "$TINI_PID_FILE" tini 20
	rm -f "$SOCK_DIR"/libvirt-sock "$SOCK_DIR"/libvirt-sock-ro "$SOCK_DIR"/libvirt-admin-sock
}

do_kill() {
	pid_of "$LIBVIRTD_PID_FILE" libvirtd >/dev/null || die "no libvirtd runs for $DIR"
	stop_libvirtd KILL
	log "libvirtd killed; guests and netns $NETNS kept"
}

do_restart() {
	if ! netns_exists || [[ ! -s $DIR/etc/libvirtd.conf ]]; then
		log "nothing runs under $DIR: starting afresh"
		do_start
		return
	fi
	# The configuration written by start stays, and so does a virtlogd that still runs.
	local cache virtlogd=0 started_ns ms
	cache=$(realpath "${UCV_LIBVIRTD_CACHE_DIR:-$DIR/cache}")
	if grep -q '^stdio_handler = "logd"' "$DIR/etc/qemu.conf" &&
		! pid_alive "$VIRTLOGD_PID_FILE"; then
		virtlogd=1
	fi
	started_ns=$(date +%s%N)
	stop_libvirtd TERM
	ms=$((($(date +%s%N) - started_ns) / 1000000))
	log "libvirtd stopped in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s; guests kept"
	launch "$cache" "$virtlogd" ||
		die "libvirtd did not come back; the guests still run, '$0 stop $DIR' ends them"
}

# True while any of the given pids runs.
any_running() {
	local pid
	for pid in "$@"; do
		running "$pid" && return 0
	done
	return 1
}

# Every process still in the namespace: QEMUs whose libvirtd and tini went away (init is their
# parent now, so no pid file may name them), dnsmasq of a libvirt network, anything else.
stop_netns_processes() {
	local pids=() tenths=20
	netns_exists || return 0
	mapfile -t pids < <(ip netns pids "$NETNS" 2>/dev/null)
	[[ ${#pids[@]} -gt 0 ]] || return 0
	kill -TERM "${pids[@]}" 2>/dev/null || true
	while any_running "${pids[@]}" && ((tenths-- > 0)); do
		sleep 0.1
	done
	kill -KILL "${pids[@]}" 2>/dev/null || true
}

do_stop() {
	local dom pid_file
	if answers; then
		while read -r dom; do
			[[ -n $dom ]] || continue
			virsh -q -c "$URI" destroy "$dom" >/dev/null 2>&1 || true
		done < <(virsh -q -c "$URI" list --name 2>/dev/null)
	fi
	stop_pid_file "$LIBVIRTD_PID_FILE" libvirtd 100
	stop_pid_file "$TINI_PID_FILE" tini 20
	stop_pid_file "$VIRTLOGD_PID_FILE" virtlogd 20
	# QEMUs left behind by a libvirtd that died before it could destroy them.
	for pid_file in "$DIR"/run/qemu/*.pid; do
		[[ -e $pid_file ]] && stop_pid_file "$pid_file" qemu-system 20
	done
	stop_netns_processes
	# status of domains that were killed rather than destroyed: stale now, not to be reconnected
	rm -f "$DIR"/run/qemu/*.xml "$DIR"/run/qemu/*.pid
	rm -rf "$DIR"/lib/qemu/domain-*
	if netns_exists; then
		ip netns del "$NETNS"
	fi
	rm -f "$SOCK_DIR"/libvirt-sock "$SOCK_DIR"/libvirt-sock-ro "$SOCK_DIR"/libvirt-admin-sock
}

main() {
	[[ $# -eq 2 ]] || usage
	set_paths "$2"
	case $1 in
	start) do_start ;;
	stop) do_stop ;;
	restart) do_restart ;;
	kill) do_kill ;;
	uri) printf '%s\n' "$URI" ;;
	status) answers ;;
	*) usage ;;
	esac
}

main "$@"
