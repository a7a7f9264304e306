#!/usr/bin/env bash
# build.sh: configures (once) and builds leakagent into ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
