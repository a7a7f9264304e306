#!/usr/bin/env bash
# demo.sh: sets up and builds leakagent, then runs the bundled example
# program (tests/example/leaky.c) under it: `leakagent PROG` preloads the
# agent, waits for the program and prints the symbolized leak report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
build/collector/leakagent "$@" build/tests/example/leaky
