#!/usr/bin/env bash
# regen.sh: rebuilds the golden binaries and raw reports, then the expected
# outputs, from golden.c and golden.cpp. Run by hand only, after a change that
# is meant to alter them, and review the diff of the expected files line by
# line: they are the specification. Needs a build in ../../../build.
#
# Why prebuilt binaries are checked in: the expected files pin function names,
# lines and inline chains, which depend on the compiler; binaries compiled at
# test time would make the goldens test the toolchain, not the symbolizer.
set -euo pipefail
cd "$(dirname "$0")"
top=$(cd ../../.. && pwd)
agent=$top/build/agent/libleakagent.so
la=$top/build/collector/leakagent
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

flags=(-g -O1 -fno-omit-frame-pointer -fdebug-prefix-map="$PWD"=/src -ffile-prefix-map="$PWD"=/src)
gcc "${flags[@]}" -o "$work/leak_c" golden.c -lstdc++
g++ "${flags[@]}" -o "$work/leak_cxx" golden.cpp
for b in leak_c leak_cxx; do
	LD_PRELOAD=$agent LEAKAGENT_OPTIONS="output=$work/$b.raw" MALLOC_PERTURB_=0 "$work/$b"
done
python3 rewrite.py "$work/leak_c.raw" c.raw "$work" leak_c 100=D 24=D 8=D+64 64=I 48=P 32=R 16=U
python3 rewrite.py "$work/leak_cxx.raw" cxx.raw "$work" leak_cxx
cp "$work/leak_c" "$work/leak_cxx" root/golden/
"$la" report --sysroot=root --show-leak-kinds=all c.raw 2> c.expected.txt || true
"$la" report --sysroot=root --show-leak-kinds=all --format=json c.raw 2> c.expected.json || true
"$la" report --sysroot=root --show-leak-kinds=all --gen-suppressions cxx.raw 2> cxx.expected.txt || true
"$la" report --sysroot=root --show-leak-kinds=all --format=xml cxx.raw 2> cxx.expected.xml || true
