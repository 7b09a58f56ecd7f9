#!/bin/sh
# make bench: builds the Go baseline, runs bench/run.lua (tasks, switches,
# channels, memory), then bench/io.lua (HTTP plaintext under wrk, TCP echo).
set -eu
mkdir -p build
(cd bench/go && GOCACHE="$(pwd)/../../build/gocache" go build -o ../../build/bench-go main.go)
lua5.4 bench/run.lua "$@"
exec lua5.4 bench/io.lua "$@"
