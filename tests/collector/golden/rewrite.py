#!/usr/bin/env python3
"""rewrite.py RAW OUT BINDIR NAME [SIZE=KIND...]: makes a golden raw report
from a real one: keeps only the module BINDIR/NAME (renamed /golden/NAME),
cuts every stack at its first address outside it (records whose stack
starts outside it are left out), fixes pid, time and
arguments, gives records of the listed sizes their kinds (8=D+64 also sets
64 indirect bytes), and recounts the end line. Used by regen.sh only."""
import sys

raw, out, bindir, name = sys.argv[1:5]
kinds = dict(a.split("=") for a in sys.argv[5:])
path = f"{bindir}/{name}"
lines = open(raw).read().splitlines()
keep, mods, ranges = [], set(), []
for l in lines:
    f = l.split(" ")
    if f[0] == "m" and f[5] == path:
        mods.add(f[1])
        bias = int(f[2], 16)
        f[5] = f"/golden/{name}"
        l = " ".join(f)
    elif f[0] == "m":
        continue
    if f[0] == "l":
        if f[1] not in mods:
            continue
        lo = bias + int(f[2], 16)
        ranges.append((lo, lo + int(f[3], 16)))
    keep.append(l)
inside = lambda pc: any(lo <= pc - 1 < hi for lo, hi in ranges)
empty = {l.split(" ")[1] for l in keep if l.startswith("s ") and
         not any(inside(int(pc, 16)) for pc in l.split(" ")[3:4])}
res, dropping = [], False
for l in keep:
    f = l.split(" ")
    if f[0] == "r":  # blocks allocated outside the program (libstdc++'s pool): left out
        dropping = f[4] in empty
    if (f[0] in ("r", "b") and dropping) or (f[0] == "s" and f[1] in empty):
        continue
    if f[0] == "s":
        pcs = []
        for pc in f[3:]:
            if not inside(int(pc, 16)):
                break
            pcs.append(pc)
        l = " ".join(["s", f[1], "%x" % len(pcs)] + pcs)
    elif f[0] == "p":
        l = "p 3e8 3e7"
    elif f[0] == "x":
        l = f"x /golden/{name}"
    elif f[0] == "a":
        l = f"a {f[1]} /golden/{name}" if f[1] == "0" else l
    elif f[0] == "t":
        l = "t exit 1 6a000000 0"
    elif f[0] == "r" and str(int(f[5], 16)) in kinds:
        k = kinds[str(int(f[5], 16))]
        f[1] = k[0]
        if k == "D+64":
            f[7], f[8] = "40", "1"
        l = " ".join(f)
    elif f[0] == "w":
        l = "w 3 3 0 1" if kinds else l
    elif f[0] in ("n", "e"):
        continue
    res.append(l)
with open(out, "w") as fp:
    fp.write("\n".join(res) + "\ne %x\n" % len(res))
