#!/bin/sh
# After a failed `meson test`: the failed checks of every test, last, so
# that they are in the tail of the output (CI shows only the tail).
# $1: meson-logs/testlog.txt
log=${1:?testlog.txt}
[ -r "$log" ] || exit 0
echo
echo "=== failed checks (from $log) ==="
awk '
/^test: / { test = $NF; next }
/^not ok / { print test ": " $0; detail = 12; next }
/^#   / && detail > 0 { print test ": " $0; detail--; next }
{ detail = 0 }
' "$log" | tail -n 120
