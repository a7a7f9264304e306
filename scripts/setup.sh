#!/usr/bin/env bash
# setup.sh: installs the Debian packages leakagent needs to build, test and
# benchmark (Debian 12). Idempotent: does nothing when all are present.
set -euo pipefail

pkgs=(meson ninja-build pkg-config gcc g++ python3 libunwind-dev libdw-dev libelf-dev
      libdebuginfod-dev libexpat1-dev elfutils valgrind google-perftools
      libgoogle-perftools-dev libjemalloc2 strace gdb binutils python3-jsonschema
      redis-server redis-tools sqlite3 heaptrack liblsan0 time)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "setup: missing packages: ${missing[*]}" >&2
	echo "setup: run as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# libunwind-dev replaces LLVM's libunwind-14-dev, whose header lacks unw_backtrace
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
