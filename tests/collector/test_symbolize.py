#!/usr/bin/env python3
"""test_symbolize.py: the symbolizer agrees with elfutils' own eu-addr2line -i
on source file, line and the length of the inline chain, for a few hundred
return addresses spread over libc (with its separate debug info when
installed) and over a test program."""
import glob
import json
import re
import shutil
import subprocess
import tempfile
from lacheck import *

tmp = tempfile.mkdtemp(prefix="la-sym-")
subprocess.run([prog("leak_basic")], capture_output=True,
               env=dict(os.environ, LD_PRELOAD=os.environ["AGENT"], LEAKAGENT_OPTIONS=f"output={tmp}/r.raw"))
lines = open(f"{tmp}/r.raw").read().splitlines()
mods = [l.split() for l in lines if l.startswith("m ")]


def code_pcs(path_end, count):
    m = next(m for m in mods if m[5].endswith(path_end))
    seg = next(l.split() for l in lines if l.startswith(f"l {m[1]} ") and l.split()[4] == "r-x")
    lo, size = int(m[2], 16) + int(seg[2], 16), int(seg[3], 16)
    return m[5], int(m[2], 16), [lo + 1 + i * (size // count) for i in range(count)]


stacks, targets = [], []
for end, count in (("/libc.so.6", 300), ("/leak_basic", 40)):
    path, bias, pcs = code_pcs(end, count)
    targets.append((path, bias, pcs))
    stacks += pcs
head = [l for l in lines if l[0] in "pxatoml" or l.startswith("LEAKAGENT")]
body = [f"s {i + 1:x} 1 {pc:x}" for i, pc in enumerate(stacks)]
body += [f"r D m - {i + 1:x} {i + 1:x} 1 0 0" for i in range(len(stacks))]
out = head + body
with open(f"{tmp}/sym.raw", "w") as f:
    f.write("\n".join(out) + "\ne %x\n" % len(out))
rc, _, err = run(["report", "--format=json", "--show-leak-kinds=all", f"{tmp}/sym.raw"])
doc = json.loads(err)
ours = {}
for r in doc["processes"][0]["records"]:
    ours[int(r["stack"][0]["ip"], 16)] = r["stack"]

for path, bias, pcs in targets:
    # -a prints each address before its frames: the chains can be told apart
    p = subprocess.run(["eu-addr2line", "-a", "-f", "-i", "-e", path] + ["0x%x" % (pc - bias - 1) for pc in pcs],
                       capture_output=True, text=True)
    chains, cur = [], None
    for l in p.stdout.splitlines():
        if re.match(r"^0x[0-9a-f]+$", l):
            cur = []
            chains.append(cur)
        else:
            cur.append(l)
    bad, deeper = [], []
    for pc, chain in zip(pcs, chains):
        where = [re.match(r"^(.*?):(\d+)(?::\d+)?$", x) for x in chain[1::2]]  # file:line[:column]
        locs = [(w[1].split("/")[-1], w[2]) if w else ("??", "0") for w in where]
        mine = [((f["file"] or "??").split("/")[-1], str(f["line"])) for f in ours[pc]]
        if locs == mine:
            continue
        # eu-addr2line occasionally drops a middle inline level (libc's
        # strxfrm_l.c: utf8_encode inlined at 573 "in __strxfrm_l", then
        # __strxfrm_l at 738, skipping do_xfrm_cached which holds line 573);
        # a longer chain with the same ends and eu's levels in order is fine
        it = iter(mine)
        if locs and locs[0] == mine[0] and locs[-1] == mine[-1] and all(x in it for x in locs):
            deeper.append(pc)
        else:
            bad.append(f"{pc - bias - 1:#x}: eu-addr2line {locs} leakagent {mine}")
    check(len(chains) == len(pcs) and not bad and len(deeper) <= len(pcs) // 30,
          f"{os.path.basename(path)}: {len(pcs)} addresses, same file:line and inline chain as eu-addr2line",
          "\n".join(bad[:10]))
    named = sum(1 for pc in pcs if ours[pc][-1]["function"])
    check(named >= len(pcs) * 0.9, f"{os.path.basename(path)}: functions named ({named} of {len(pcs)})")
shutil.rmtree(tmp)
done()
