#!/bin/sh
# Instructions per request of bench/http_object_floor.lua (the objects a
# Lua handler API makes per request, and their collection): 10,000 rounds
# minus 2,000, over 8,000 (callgrind).
#   sh bench/http_object_floor.sh [BUILD]
set -eu
build=${1:-build}
count() {
  LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH="./$build/?.so;;" \
    valgrind --tool=callgrind --callgrind-out-file=/dev/null lua5.4 bench/http_object_floor.lua "$1" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
a=$(count 2000)
b=$(count 10000)
echo "RESULT http_object_floor_instructions_per_request $(( (b - a) / 8000 ))"
