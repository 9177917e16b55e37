#!/usr/bin/env bash
# Runs the unit and integration suites, then both again on a build with AddressSanitizer and
# UndefinedBehaviorSanitizer, and prints one summary line (inside tools/with-test-env.sh, which
# provides the private libvirtd and the test guest).
set -euo pipefail

build=${UCV_BUILD_DIR:?}
sanitized=${build}-sanitize
status=0
logs=()

run_suites() {
	local dir=$1 name=$2
	meson test -C "$dir" --suite unit --logbase "$name-unit" --print-errorlogs || status=1
	# real guests: one at a time on these small machines
	meson test -C "$dir" --suite integration --num-processes 1 --logbase "$name-integration" \
		--print-errorlogs || status=1
	logs+=("$dir/meson-logs/$name-unit.json" "$dir/meson-logs/$name-integration.json")
}

run_suites "$build" plain
# the browser runs the same client code either way: once is enough
meson test -C "$build" --suite browser --num-processes 1 --logbase plain-browser \
	--print-errorlogs || status=1
logs+=("$build/meson-logs/plain-browser.json")

if [ "${UCV_SANITIZE:-1}" = 1 ]; then
	if [ ! -f "$sanitized/build.ninja" ]; then
		meson setup "$sanitized" --werror -Db_sanitize=address,undefined
	fi
	ninja -C "$sanitized"
	# libsoup 3.2 itself leaks a little per connection, so leak checking stays off
	export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	run_suites "$sanitized" sanitize
fi

python3 - "${logs[@]}" <<'PY'
import json, os, sys
passed = failed = skipped = 0
for log in sys.argv[1:]:
    if not os.path.exists(log):
        failed += 1
        continue
    for line in open(log):
        result = json.loads(line)["result"]
        if result == "OK":
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
