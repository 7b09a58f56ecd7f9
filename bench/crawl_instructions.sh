#!/bin/sh
# Instructions per request of moonlet's HTTP client in the crawl
# (bench/crawl/moonlet.lua against bench/crawl/server.go, concurrency 100):
# the client process's instructions for N2 URLs minus those for N1, over
# N2 - N1 (callgrind, so start-up cancels out), split by where they run:
# libcurl, the Lua VM, malloc/free, moonlet's C, libuv, the rest of libc.
# Then the same total for the libcurl floor (bench/crawl/curl_floor.c) and
# for Go's client. The kernel's share is not counted by callgrind.
#   sh bench/crawl_instructions.sh [N1 [N2 [BUILD]]]
set -eu
n1=${1:-1000}
n2=${2:-3000}
build=${3:-build}
[ -x "$build/crawl-server" ] || { echo "build $build/crawl-server first (make bench-deps)"; exit 1; }
tmp=$(mktemp -d)
"./$build/crawl-server" > "$tmp/server" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
while ! grep -q http "$tmp/server"; do sleep 0.2; done
url=$(grep -o 'http://[^ ]*' "$tmp/server" | head -1)
MOONLET="lua5.4 bench/crawl/moonlet.lua"
count() { # n [command] -> "total part=instructions ..."
  rm -f "$tmp"/cg.*
  LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH="./$build/?.so;;" MOONLET_WATCHDOG=0 GOMAXPROCS=1 \
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" \
    ${2:-$MOONLET} "$url" "$1" 100 > "$tmp/out" 2>&1
  grep -q "bad 0" "$tmp/out" || { cat "$tmp/out" >&2; exit 1; }
  callgrind_annotate --threshold=100 "$tmp"/cg.* 2>/dev/null | awk '
    /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1; next }
    /file:function/ { listing = 1; next }
    listing && seen && NF == 0 { listing = 0 } # the annotated sources follow
    listing && $1 ~ /^[0-9,]+$/ {
      seen = 1
      n = $1; gsub(",", "", n)
      part = "other"
      if ($0 ~ /malloc\.c|arena\.c/) part = "malloc"
      else if ($0 ~ /libcurl/) part = "libcurl"
      else if ($0 ~ /\/lua5\.4\]$/) part = "lua_vm"
      else if ($0 ~ /moonlet\/core\.so\]$/) part = "moonlet_c"
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
a=$(count "$n1")
b=$(count "$n2")
echo "$a" "$b" | awk -v d=$((n2 - n1)) '{
  for (i = 2; i <= NF; i++) if ($i !~ /=/) { second = i; break }
  for (i = 2; i < second; i++) { split($i, kv, "="); a[kv[1]] = kv[2] }
  for (i = second + 1; i <= NF; i++) { split($i, kv, "="); b[kv[1]] = kv[2] }
  printf "RESULT client_instructions_per_request %d\n", ($second - $1) / d
  split("libcurl lua_vm malloc moonlet_c libuv libc_other other", order, " ")
  for (j = 1; j <= 7; j++) {
    p = order[j]
    printf "RESULT client_%s_per_request %d\n", p, (b[p] - a[p]) / d
  }
}'
for other in "curl_floor ./$build/curl-floor" "go ./$build/crawl-client-go"; do
  name=${other%% *}
  cmd=${other#* }
  [ -x "${cmd%% *}" ] || continue
  a=$(count "$n1" "$cmd")
  b=$(count "$n2" "$cmd")
  echo "RESULT ${name}_instructions_per_request $(( (${b%% *} - ${a%% *}) / (n2 - n1) ))"
done
