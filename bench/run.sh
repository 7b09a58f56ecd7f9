#!/bin/sh
# make bench: builds the Go baseline, runs bench/run.lua (tasks, switches,
# channels, memory), bench/io.lua (HTTP plaintext under wrk, TCP echo),
# bench/luasocket.lua (LuaSocket-style request/response, patched),
# bench/http_idle.lua (memory per idle keep-alive HTTP connection), then
# bench/crawl.lua (5,000 URLs against a 20 ms server, beside Go, aiohttp, lua-http).
set -eu
mkdir -p build
(cd bench/go && GOCACHE="$(pwd)/../../build/gocache" go build -o ../../build/bench-go main.go)
(cd bench/servers && GOCACHE="$(pwd)/../../build/gocache" go build -o ../../build/hello-go hello_go.go)
(cd bench/crawl && GOCACHE="$(pwd)/../../build/gocache" go build -o ../../build/crawl-server server.go &&
  GOCACHE="$(pwd)/../../build/gocache" go build -o ../../build/crawl-client-go client.go)
cc -O2 -o build/curl-floor bench/crawl/curl_floor.c $(pkg-config --cflags --libs libcurl)
lua5.4 bench/run.lua "$@"
lua5.4 bench/io.lua "$@"
lua5.4 bench/luasocket.lua "$@"
lua5.4 bench/http_idle.lua 5000
exec lua5.4 bench/crawl.lua "$@"
