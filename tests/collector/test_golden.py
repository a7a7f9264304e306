#!/usr/bin/env python3
"""test_golden.py: checked-in raw reports plus the prebuilt binaries they name
(golden/root/golden/), symbolized with --sysroot and diffed byte for byte
against the expected text, json and xml. golden/regen.sh says how they were
made and why the binaries are prebuilt."""
import difflib
from lacheck import *

GOLDEN = os.path.join(SRCDIR, "golden")
cases = [
    (["--show-leak-kinds=all", "c.raw"], "c.expected.txt"),
    (["--show-leak-kinds=all", "--format=json", "c.raw"], "c.expected.json"),
    (["--show-leak-kinds=all", "--gen-suppressions", "cxx.raw"], "cxx.expected.txt"),
    (["--show-leak-kinds=all", "--format=xml", "cxx.raw"], "cxx.expected.xml"),
]
for args, expected in cases:
    rc, out, err = run(["report", "--sysroot=root"] + args, cwd=GOLDEN)
    want = open(os.path.join(GOLDEN, expected)).read()
    diff = "".join(difflib.unified_diff(want.splitlines(True), err.splitlines(True), expected, "actual"))
    check(rc == 0 and not diff, f"golden {expected} (exit {rc})", diff)

# the same reports without the sysroot: the binaries are not found; module+offset, exit 2
rc, out, err = run(["report", "c.raw"], cwd=GOLDEN)
check(rc == 2 and "/golden/leak_c: cannot open" in err and "hint: a report from another machine needs --sysroot" in err
      and "(in /golden/leak_c+0x1157)" in err, "without --sysroot: one error with a hint, module+offset", err)
done()
