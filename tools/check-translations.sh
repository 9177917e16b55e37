#!/usr/bin/env bash
# Fails when a translatable message of the sources is missing from a translation in po/.
set -euo pipefail

cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
xgettext --from-code=UTF-8 -k_ -kN_ -kngettext:1,2 -D . -f po/POTFILES.in \
	-o "$work/ucloud-virt.pot" --no-location --package-name=ucloud-virt
status=0
while read -r lang; do
	[ -n "$lang" ] || continue
	msgmerge -q "po/$lang.po" "$work/ucloud-virt.pot" -o "$work/$lang.po"
	missing=$(msgattrib --untranslated --only-fuzzy "$work/$lang.po" 2>/dev/null | grep -c '^msgid ' || true)
	untranslated=$(msgattrib --untranslated "$work/$lang.po" | grep -c '^msgid ' || true)
	# the header counts as one untranslated entry
	if [ "$untranslated" -gt 1 ] || [ "$missing" -gt 0 ]; then
		echo "po/$lang.po lacks translations:"
		msgattrib --untranslated "$work/$lang.po" | grep -A1 '^msgid ' | grep -v '^msgid ""$' || true
		status=1
	fi
done <po/LINGUAS
# every file with translatable messages is listed
for file in $(grep -rlE '(^|[^a-z_])(_|N_|ngettext)\(' src --include='*.c'); do
	grep -qx "$file" po/POTFILES.in || { echo "po/POTFILES.in lacks $file"; status=1; }
done
exit $status
