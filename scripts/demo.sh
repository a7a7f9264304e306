#!/usr/bin/env bash
# demo.sh: sets up and builds leakagent, then runs the bundled example
# program (tests/example/leaky.c) under the agent and prints its report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
LD_PRELOAD="$PWD/build/agent/libleakagent.so" \
LEAKAGENT_OPTIONS="output=$out/leakagent.%e.%p.%n.raw" \
	build/tests/example/leaky
echo "--- raw report written by the agent ---"
cat "$out"/*.raw
