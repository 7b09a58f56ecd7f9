#!/bin/sh
# callgrind.sh [BUILD] - instructions per spawned task and per one-way
# handoff (channel and futures), the stable figure on a noisy machine: each
# benchmark runs under callgrind with N and 2N operations, and the
# difference divided by N leaves start-up out.
#   sh bench/callgrind.sh build
set -u
build=${1:-build}
n=20000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count() { # name args...: instructions of one run
  out="$tmp/$1.err"
  shift
  MOONLET_BUILD=$build valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
    lua5.4 "$@" >/dev/null 2>"$out"
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out"
}
per_op() { # label script impl [rounds]
  a=$(count a "bench/$2" "$3" $n ${4:-})
  b=$(count b "bench/$2" "$3" $((2 * n)) ${4:-})
  echo "$1: $(( (b - a) / n )) instructions"
}
per_op "spawn (per task: spawn, one yield, end)" spawn.lua moonlet 1
per_op "channel handoff (one-way)" switch.lua moonlet-channel
per_op "future handoff (one-way)" switch.lua moonlet
