#!/bin/bash
# run-tests.sh PHASE... - runs test phases that print TAP ("ok N", "not ok N"),
# shows their output, and ends with one line "N passed, N failed" over all of
# them. A phase that exits non-zero without a failing TAP line (a crash, a
# build error) counts as one failure. Exit status: 0 only if nothing failed.
#
# A phase is "name::command"; the command runs under bash.
set -u
passed=0
failed=0
for phase in "$@"; do
  name=${phase%%::*}
  cmd=${phase#*::}
  echo "== $name"
  out=$(mktemp)
  bash -c "$cmd" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  p=$(grep -cE '^ok [0-9]+' "$out")
  f=$(grep -cE '^not ok [0-9]+' "$out")
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
    echo "not ok - phase '$name' exited with status $rc"
    f=1
  fi
  echo "== $name: $p passed, $f failed"
  passed=$((passed + p))
  failed=$((failed + f))
  rm -f "$out"
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
