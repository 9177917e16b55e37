#!/usr/bin/env bash
# Runs a local container registry (Debian's docker-registry, distribution 2.8) on loopback and
# pushes the small test image that DOCKER-job tests pull from it. Everything stays offline.
#
# Usage: tests/integration/local-registry.sh install
#        tests/integration/local-registry.sh start DIR [PORT [OWNER_PID]]
#        tests/integration/local-registry.sh push-test-image DIR REPO:TAG [PORT]
#        tests/integration/local-registry.sh push-big-image DIR REPO:TAG [PORT]
#        tests/integration/local-registry.sh stop DIR
#
#   install          apt-get install docker-registry, umoci, skopeo and busybox-static if missing,
#                    without starting the package's registry service; needs the package archive,
#                    so run it outside the test's network namespace (start and push-test-image
#                    install too, but not from inside a namespace made by `ip netns add`)
#   start            install what is needed, write DIR/config.yml and serve plain HTTP on
#                    127.0.0.1:PORT (default 5000) of the network namespace the script runs in,
#                    without authentication and with deletes enabled; waits (≤30 s) until
#                    GET /v2/ answers 200; no-op if it already answers there. With OWNER_PID
#                    the registry is stopped once that process is gone (a test that dies
#                    leaves nothing running)
#   push-test-image  build the test image under DIR/build and push it to
#                    127.0.0.1:PORT/REPO:TAG (e.g. acme/batch:1.0.0) of a started registry;
#                    prints the manifest digest (sha256:…) on stdout. Rebuilding gives the
#                    same digest: timestamps in the layer, config and history are fixed.
#   push-big-image   the same for a bigger image (benchmarks of image preparation): the test
#                    image's files, then a layer with a copy of this machine's Python standard
#                    library (many files, about 50 MB), then one of 24 MB of random
#                    data; prints the digest. Not reproducible: the random layer differs per build.
#   stop             stop the registry started under DIR; safe to repeat
#
# The script neither creates nor enters network namespaces: run it in the one the tests use,
# e.g. `ip netns exec NS local-registry.sh start DIR`. Stop it in the same way, or before
# deleting the namespace, which does not end the processes in it.
#
# The test image (OCI manifest, one layer, well under 3 MB) holds:
#   /bin/busybox (static) with its applets as symlinks in /bin (sh, echo, id, httpd, …)
#   /etc/passwd, /etc/group  root (0) and ucloud (uid/gid 11042, home /work)
#   /tmp (1777), /work (empty, owned by ucloud), /root, and empty /proc, /sys, /dev
#   /usr/bin/acme-batch      prints `argv[<i>]=<arg>` for each argument, `env=$ACME_GREETING`,
#                            `uid=<id -u>`, then `file <arg>: <first line>` for each argument
#                            that names a regular file
#   /usr/bin/acme-web        `busybox httpd -f -p ${1:-8080} -h /www` in the foreground;
#                            /www/index.html says "acme web app ok"
# Its config: Env PATH=/usr/local/bin:/usr/bin:/bin and ACME_IMAGE=1, Cmd ["/bin/sh"],
# WorkingDir /, label org.opencontainers.image.title=acme-test.
#
# Layout of DIR: config.yml, storage/ (the registry's blobs and repositories), registry.log,
# registry.pid, policy.json (skopeo's trust policy), build/ (OCI layout and unpacked bundle of
# the last build), push.digest (digest of the last push).
set -euo pipefail

readonly PACKAGES=(docker-registry umoci skopeo busybox-static)
readonly REGISTRY_BIN=/usr/bin/docker-registry
readonly BUSYBOX=/bin/busybox
readonly DEFAULT_PORT=5000
readonly START_TIMEOUT_S=30
# Every timestamp in the image: a fixed one makes rebuilds byte-identical.
readonly IMAGE_EPOCH=1970-01-01T00:00:00Z
readonly UCLOUD_ID=11042
# Tag of the image inside the local OCI layout; the pushed tag is the caller's.
readonly BUILD_TAG=acme
# The big image's incompressible layer.
readonly BIG_RANDOM_MB=24

log() {
	printf 'local-registry: %s\n' "$*" >&2
}

die() {
	log "error: $*"
	exit 1
}

usage() {
	cat >&2 <<EOF
usage: $0 install
       $0 start DIR [PORT]
       $0 push-test-image DIR REPO:TAG [PORT]
       $0 push-big-image DIR REPO:TAG [PORT]
       $0 stop DIR
EOF
	exit 2
}

ensure_packages() {
	local missing=() pkg installed
	# dpkg-query fails for a package it has never seen: that one is simply missing.
	installed=$({ dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true; } |
		sed -n 's/ install ok installed$//p')
	for pkg in "${PACKAGES[@]}"; do
		grep -qx "$pkg" <<<"$installed" || missing+=("$pkg")
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0

	# A test namespace has only loopback: apt would spend ~20 s failing to resolve the archive.
	local netns
	netns=$(ip netns identify 2>/dev/null || true)
	[[ -z $netns ]] ||
		die "${missing[*]} not installed and network namespace $netns cannot reach the package" \
			"archive: run '$0 install' outside it first"

	# docker-registry's package starts its service (a registry on :5000 of the root namespace)
	# on install: forbid service starts while installing unless a policy already does.
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
	CONFIG="$DIR/config.yml"
	STORAGE_DIR="$DIR/storage"
	LOG_FILE="$DIR/registry.log"
	PID_FILE="$DIR/registry.pid"
	POLICY="$DIR/policy.json"
	BUILD_DIR="$DIR/build"
	DIGEST_FILE="$DIR/push.digest"
}

set_port() {
	PORT=${1:-$DEFAULT_PORT}
	[[ $PORT =~ ^[0-9]+$ && $PORT -ge 1 && $PORT -le 65535 ]] || die "bad port: $PORT"
	ADDR="127.0.0.1:$PORT"
}

# True while the process runs; a zombie (exited, parent not reaping yet) counts as gone.
running() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# Prints the pid from the pid file if that process runs and still is the registry.
registry_pid() {
	local pid
	[[ -s $PID_FILE ]] || return 1
	pid=$(<"$PID_FILE")
	[[ $pid =~ ^[0-9]+$ ]] && running "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$REGISTRY_BIN" || return 1
	printf '%s\n' "$pid"
}

# True if GET /v2/ answers 200 (busybox wget fails on any other status). -Y off: a proxy from
# the environment must not be asked for a loopback address. timeout(1) rather than wget -T,
# which makes this busybox crash when the connection is refused.
answers() {
	timeout 2 "$BUSYBOX" wget -q -Y off -O /dev/null "http://$ADDR/v2/" 2>/dev/null
}

write_config() {
	local secret
	# Signs upload state between requests; without one the registry logs a warning per start.
	secret=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
	cat >"$CONFIG" <<EOF
# Local registry for ucloud-virt tests (written by local-registry.sh).
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $STORAGE_DIR
  delete:
    enabled: true
  maintenance:
    # no background purge of upload directories while a test runs
    uploadpurging:
      enabled: false
http:
  addr: $ADDR
  secret: $secret
  headers:
    X-Content-Type-Options: [nosniff]
EOF
}

do_start() {
	local pid
	if pid=$(registry_pid); then
		if answers; then
			log "already running (pid $pid): http://$ADDR"
			return 0
		fi
		# Runs but does not answer here: another port, or wedged. Start afresh.
		log "registry pid $pid does not answer on $ADDR: restarting it"
		do_stop
	fi
	answers && die "something else already answers on $ADDR"
	ensure_packages
	[[ -x $REGISTRY_BIN ]] || die "$REGISTRY_BIN is missing"

	mkdir -p "$STORAGE_DIR"
	write_config
	local started_ns
	started_ns=$(date +%s%N)
	# Its own session and no inherited descriptors, so that it outlives this script and does not
	# hold the caller's pipes open.
	setsid "$REGISTRY_BIN" serve "$CONFIG" </dev/null >>"$LOG_FILE" 2>&1 &
	pid=$!
	echo "$pid" >"$PID_FILE"

	local deadline=$((SECONDS + START_TIMEOUT_S))
	until answers; do
		if ! running "$pid"; then
			tail -n 20 "$LOG_FILE" >&2 2>/dev/null || true
			rm -f "$PID_FILE"
			die "the registry exited during start"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 20 "$LOG_FILE" >&2 2>/dev/null || true
			do_stop
			die "the registry did not answer within ${START_TIMEOUT_S} s"
		fi
		sleep 0.1
	done
	local ms=$((($(date +%s%N) - started_ns) / 1000000))
	log "registry up in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s (pid $pid): http://$ADDR"
}

# Stops the registry when `owner` is gone; detached, so it outlives this script.
watch_owner() {
	local owner=$1 pid
	[[ $owner =~ ^[0-9]+$ ]] || die "bad owner pid: $owner"
	pid=$(registry_pid) || return 0
	setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill "$2" 2>/dev/null' \
		watch "$owner" "$pid" </dev/null >/dev/null 2>&1 &
}

do_stop() {
	local pid tenths=50
	if pid=$(registry_pid); then
		kill -TERM "$pid" 2>/dev/null || true
		while running "$pid" && ((tenths-- > 0)); do
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$PID_FILE"
}

# --- the test image ---------------------------------------------------------------------

acme_batch_script() {
	cat <<'EOF'
#!/bin/sh
# Test program of the acme test image: shows what the job handed it.
i=1
for arg in "$@"; do
	printf 'argv[%d]=%s\n' "$i" "$arg"
	i=$((i + 1))
done
printf 'env=%s\n' "${ACME_GREETING-}"
printf 'uid=%s\n' "$(id -u)"
for arg in "$@"; do
	if [ -f "$arg" ]; then
		line=
		IFS= read -r line <"$arg" || true
		printf 'file %s: %s\n' "$arg" "$line"
	fi
done
EOF
}

acme_web_script() {
	cat <<'EOF'
#!/bin/sh
# Web app of the acme test image: serves /www on port $1 (default 8080) in the foreground.
exec busybox httpd -f -p "${1:-8080}" -h /www
EOF
}

# Fills an (empty) root filesystem with the test image's files.
populate_rootfs() {
	local root=$1 applet
	mkdir -p "$root"/{bin,etc,usr/bin,www,work,root,proc,sys,dev,tmp}
	chmod 1777 "$root/tmp"
	chmod 700 "$root/root"
	chown "$UCLOUD_ID:$UCLOUD_ID" "$root/work"

	install -m 755 "$BUSYBOX" "$root/bin/busybox"
	# What `busybox --install -s /bin` would make, but relative, so the links hold wherever the
	# root is mounted.
	for applet in $("$BUSYBOX" --list); do
		[[ $applet == busybox || -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
	done

	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		"ucloud:x:$UCLOUD_ID:$UCLOUD_ID:ucloud:/work:/bin/sh" >"$root/etc/passwd"
	printf '%s\n' 'root:x:0:' "ucloud:x:$UCLOUD_ID:" >"$root/etc/group"
	chmod 644 "$root/etc/passwd" "$root/etc/group"

	acme_batch_script >"$root/usr/bin/acme-batch"
	acme_web_script >"$root/usr/bin/acme-web"
	chmod 755 "$root/usr/bin/acme-batch" "$root/usr/bin/acme-web"
	printf 'acme web app ok\n' >"$root/www/index.html"
	chmod 644 "$root/www/index.html"

	# Fixed mtimes (umoci puts them into the layer's tar headers) for a reproducible layer.
	find "$root" -exec touch -h -d "@0" {} +
}

# The big image's extra layers, one `umoci repack` each, on the unpacked bundle $1.
add_big_layers() {
	local bundle=$1 image=$2 stdlib
	stdlib=$(ls -d /usr/lib/python3.[0-9]* 2>/dev/null | sort -V | tail -n 1)
	[[ -n $stdlib && -d $stdlib ]] || die "no Python standard library under /usr/lib to copy"
	mkdir -p "$bundle/rootfs/usr/lib"
	cp -a "$stdlib" "$bundle/rootfs/usr/lib/"
	umoci repack --image "$image" --history.created "$IMAGE_EPOCH" \
		--history.created_by "local-registry.sh push-big-image" \
		--history.comment "a copy of $stdlib" "$bundle"
	mkdir -p "$bundle/rootfs/data"
	head -c $((BIG_RANDOM_MB * 1024 * 1024)) /dev/urandom >"$bundle/rootfs/data/random.bin"
	umoci repack --image "$image" --history.created "$IMAGE_EPOCH" \
		--history.created_by "local-registry.sh push-big-image" \
		--history.comment "${BIG_RANDOM_MB} MB of random data" "$bundle"
}

# Builds the image into the OCI layout DIR/build/oci under tag $BUILD_TAG; with "big", the big
# image's layers on top.
build_image() {
	local kind=${1:-test} layout="$BUILD_DIR/oci" bundle="$BUILD_DIR/bundle" image
	image="$layout:$BUILD_TAG"
	rm -rf "$BUILD_DIR"
	mkdir -p "$BUILD_DIR"
	# Run from the build directory, for umoci's own temporary files, with a fixed umask.
	(
		cd "$BUILD_DIR"
		umask 022
		local rootless=()
		[[ $EUID -eq 0 ]] || rootless=(--rootless)
		umoci init --layout "$layout"
		umoci new --image "$image"
		umoci unpack "${rootless[@]}" --image "$image" "$bundle"
		populate_rootfs "$bundle/rootfs"
		umoci repack --image "$image" --history.created "$IMAGE_EPOCH" \
			--history.created_by "local-registry.sh push-test-image" \
			--history.comment "busybox, acme-batch, acme-web" "$bundle"
		[[ $kind != big ]] || add_big_layers "$bundle" "$image"
		umoci config --image "$image" --created "$IMAGE_EPOCH" \
			--history.created "$IMAGE_EPOCH" --history.created_by "local-registry.sh config" \
			--architecture amd64 --os linux \
			--clear config.env --clear config.cmd --clear config.entrypoint \
			--config.env PATH=/usr/local/bin:/usr/bin:/bin --config.env ACME_IMAGE=1 \
			--config.cmd /bin/sh --config.workingdir / \
			--config.label org.opencontainers.image.title=acme-test
		umoci gc --layout "$layout"
	) >/dev/null
}

write_policy() {
	# The images are our own: skopeo's default policy file may be absent, and pulls and pushes
	# need no signatures.
	cat >"$POLICY" <<'EOF'
{"default": [{"type": "insecureAcceptAnything"}]}
EOF
}

do_push_test_image() {
	local ref=$1 kind=${2:-test}
	[[ $ref =~ ^[a-z0-9]+([._/-][a-z0-9]+)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] ||
		die "bad image reference (want REPO:TAG, e.g. acme/batch:1.0.0): $ref"
	ensure_packages
	answers || die "no registry answers on $ADDR: run '$0 start $DIR $PORT' first"

	local started_ns ms digest
	started_ns=$(date +%s%N)
	build_image "$kind"
	write_policy
	rm -f "$DIGEST_FILE"
	skopeo --policy "$POLICY" copy --quiet --dest-tls-verify=false --digestfile "$DIGEST_FILE" \
		"oci:$BUILD_DIR/oci:$BUILD_TAG" "docker://$ADDR/$ref" >/dev/null ||
		die "skopeo could not push to $ADDR/$ref"
	digest=$(<"$DIGEST_FILE")
	[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || die "skopeo wrote no digest"
	ms=$((($(date +%s%N) - started_ns) / 1000000))
	log "pushed $ADDR/$ref ($digest) in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s"
	printf '%s\n' "$digest"
}

main() {
	if [[ $# -eq 1 && $1 == install ]]; then
		ensure_packages
		return
	fi
	[[ $# -ge 2 ]] || usage
	local cmd=$1
	set_paths "$2"
	case $cmd in
	start)
		[[ $# -le 4 ]] || usage
		set_port "${3:-}"
		do_start
		[[ -z ${4:-} ]] || watch_owner "$4"
		;;
	push-test-image)
		[[ $# -ge 3 && $# -le 4 ]] || usage
		set_port "${4:-}"
		do_push_test_image "$3"
		;;
	push-big-image)
		[[ $# -ge 3 && $# -le 4 ]] || usage
		set_port "${4:-}"
		do_push_test_image "$3" big
		;;
	stop)
		[[ $# -eq 2 ]] || usage
		do_stop
		;;
	*) usage ;;
	esac
}

main "$@"
