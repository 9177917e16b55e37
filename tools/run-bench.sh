#!/usr/bin/env bash
# Runs the benchmarks in tests/bench/ against a private libvirtd and prints their figures.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
exec bash "$top/tools/with-test-env.sh" bash -c \
	'meson test -C "$UCV_BUILD_DIR" --benchmark --num-processes 1 --verbose'
