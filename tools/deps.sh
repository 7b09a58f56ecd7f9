#!/bin/sh
# deps.sh GROUP... - make sure the Debian packages a make target needs are
# installed: with apt-get when run as root on Debian, otherwise print exactly
# what to install and fail.
#   base   building and testing the module (nginx and openssl: TLS specs)
#   check  sanitizer, Valgrind, clang and aarch64 (qemu-user) runs, the C++ host
#   bench  the baselines the benchmarks compare against
set -u
pkgs=""
for group in "${@:-base}"; do
  case "$group" in
    base)  pkgs="$pkgs gcc make pkg-config lua5.4 liblua5.4-dev libuv1-dev lua-busted luarocks libcurl4-openssl-dev libhttp-parser-dev nginx-light openssl gzip lua-check lua-socket lua-redis lua-sec redis-server" ;;
    check) pkgs="$pkgs g++ clang libclang-rt-dev valgrind gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user" ;;
    bench) pkgs="$pkgs lua-luv lua-cqueues golang-go wrk python3-aiohttp lua-http time nodejs" ;;
    *) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
  esac
done

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "deps.sh: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } >/tmp/moonlet-deps.log 2>&1 || {
    tail -20 /tmp/moonlet-deps.log >&2
    echo "deps.sh: apt-get failed (log: /tmp/moonlet-deps.log)" >&2
    exit 1
  }
  exit 0
fi

echo "deps.sh: missing packages:$missing" >&2
if command -v apt-get >/dev/null 2>&1; then
  echo "deps.sh: install them with: sudo apt-get install$missing" >&2
else
  echo "deps.sh: this is not a Debian system; install the equivalents of:$missing" >&2
fi
exit 1
