#!/bin/sh
# make bench: builds the Go baseline and runs bench/run.lua.
set -eu
mkdir -p build
(cd bench/go && GOCACHE="$(pwd)/../../build/gocache" go build -o ../../build/bench-go main.go)
exec lua5.4 bench/run.lua "$@"
