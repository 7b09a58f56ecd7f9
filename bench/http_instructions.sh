#!/bin/sh
# Instructions per request of moonlet's HTTP server and of its raw streams
# answering the same requests (callgrind, the stable figure on a noisy
# machine): the server's instructions for 2,500 requests minus those for
# 500, over 2,000. One keep-alive connection, requests one at a time.
# Each figure is also split by where the instructions run: the Lua VM
# (interpreting moonlet's Lua and the handler, and Lua's own allocation
# and collection), malloc/free, moonlet's C, http-parser, libuv, the rest
# of libc. The kernel's share is not counted by callgrind.
#   sh bench/http_instructions.sh [BUILD]
set -eu
build=${1:-build}
tmp=$(mktemp -d)
count() { # mode n -> "total part=instructions ..."
  rm -f "$tmp/port" "$tmp"/cg.*
  LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH="./$build/?.so;;" MOONLET_WATCHDOG=0 \
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" \
    lua5.4 bench/servers/count_http.lua "$1" "$2" "$tmp/port" >/dev/null 2>&1 &
  while [ ! -s "$tmp/port" ]; do sleep 0.2; done
  lua5.4 bench/servers/seq_client.lua "$(cat "$tmp/port")" "$2"
  wait
  callgrind_annotate --threshold=100 "$tmp"/cg.* 2>/dev/null | awk '
    /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1; next }
    /file:function/ { listing = 1; next }
    listing && seen && NF == 0 { listing = 0 } # the annotated sources follow
    listing && $1 ~ /^[0-9,]+$/ {
      seen = 1
      n = $1; gsub(",", "", n)
      part = "other"
      if ($0 ~ /malloc\.c|arena\.c/) part = "malloc"
      else if ($0 ~ /\/lua5\.4\]$/) part = "lua_vm"
      else if ($0 ~ /moonlet\/core\.so\]$/) part = "moonlet_c"
      else if ($0 ~ /libhttp_parser/) part = "http_parser"
      else if ($0 ~ /libuv/) part = "libuv"
      else if ($0 ~ /libc\.so/) part = "libc_other"
      sum[part] += n
    }
    END {
      printf "%s", total
      for (p in sum) printf " %s=%s", p, sum[p]
      print ""
    }'
}
for mode in http raw; do
  a=$(count $mode 500)
  b=$(count $mode 2500)
  echo "$a" "$b" | awk -v mode="$mode" '{
    # fields 1..k: the first run, then the second; pair the parts by name
    for (i = 1; i <= NF; i++) {
      if (i > 1 && $i !~ /=/) { second = i; break }
    }
    for (i = 2; i < second; i++) { split($i, kv, "="); a[kv[1]] = kv[2] }
    for (i = second + 1; i <= NF; i++) { split($i, kv, "="); b[kv[1]] = kv[2] }
    printf "RESULT %s_instructions_per_request %d\n", mode, ($second - $1) / 2000
    split("lua_vm malloc moonlet_c http_parser libuv libc_other other", order, " ")
    for (j = 1; j <= 7; j++) {
      p = order[j]
      printf "RESULT %s_%s_per_request %d\n", mode, p, (b[p] - a[p]) / 2000
    }
  }'
done
rm -rf "$tmp"
