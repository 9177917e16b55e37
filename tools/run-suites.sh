#!/usr/bin/env bash
# Runs the unit and integration suites of a build and prints one summary line (inside
# tools/with-test-env.sh, which provides the private libvirtd and the test guest).
set -euo pipefail

build=${UCV_BUILD_DIR:?}
status=0
meson test -C "$build" --suite unit --logbase unit --print-errorlogs || status=1
# real guests: one at a time on these small machines
meson test -C "$build" --suite integration --num-processes 1 --logbase integration \
	--print-errorlogs || status=1

python3 - "$build/meson-logs/unit.json" "$build/meson-logs/integration.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for log in sys.argv[1:]:
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
