#!/usr/bin/env bash
# Fails when a C file of the project is not formatted with the project's .clang-format.
set -euo pipefail

cd "$(dirname "$0")/.."
bad=0
while IFS= read -r file; do
	if ! clang-format --dry-run -Werror "$file" >/dev/null 2>&1; then
		echo "not formatted: $file (run clang-format -i $file)"
		bad=1
	fi
done < <(git ls-files '*.c' '*.h')
exit $bad
