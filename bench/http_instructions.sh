#!/bin/sh
# Instructions per request of moonlet's HTTP server and of its raw streams
# answering the same requests (callgrind, the stable figure on a noisy
# machine): the server's instructions for 2,500 requests minus those for
# 500, over 2,000. One keep-alive connection, requests one at a time.
#   sh bench/http_instructions.sh [BUILD]
set -eu
build=${1:-build}
tmp=$(mktemp -d)
count() { # mode n -> total instructions
  rm -f "$tmp/port" "$tmp"/cg.*
  LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH="./$build/?.so;;" MOONLET_WATCHDOG=0 \
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" \
    lua5.4 bench/servers/count_http.lua "$1" "$2" "$tmp/port" >/dev/null 2>&1 &
  while [ ! -s "$tmp/port" ]; do sleep 0.2; done
  lua5.4 bench/servers/seq_client.lua "$(cat "$tmp/port")" "$2"
  wait
  callgrind_annotate "$tmp"/cg.* 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}
for mode in http raw; do
  a=$(count $mode 500)
  b=$(count $mode 2500)
  echo "RESULT ${mode}_instructions_per_request $(( (b - a) / 2000 ))"
done
rm -rf "$tmp"
