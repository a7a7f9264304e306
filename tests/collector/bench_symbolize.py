#!/usr/bin/env python3
"""bench_symbolize.py [N]: how long leakagent takes to symbolize N (10 000)
distinct return addresses spread over libc's code (with Debian's libc6-dbg
debug info when installed: full DWARF lines and inline chains), plus the
program's own. A benchmark, not a test: it prints the figure and fails only
when the report cannot be produced."""
import glob
import os
import subprocess
import sys
import tempfile
import time

LEAKAGENT = os.environ["LEAKAGENT"]
n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
tmp = tempfile.mkdtemp(prefix="la-bench-")
subprocess.run([os.path.join(os.environ["TESTBIN_DIR"], "leak_basic")], capture_output=True,
               env=dict(os.environ, LD_PRELOAD=os.environ["AGENT"], LEAKAGENT_OPTIONS=f"output={tmp}/r.raw"))
lines = open(f"{tmp}/r.raw").read().splitlines()
mods = {l.split()[1]: l.split() for l in lines if l.startswith("m ")}
libc = next(m for m in mods.values() if m[5].endswith("/libc.so.6"))
seg = next(l.split() for l in lines if l.startswith(f"l {libc[1]} ") and l.split()[4] == "r-x")
lo = int(libc[2], 16) + int(seg[2], 16)
size = int(seg[3], 16)
step = size // n
pcs = [lo + i * step + 5 for i in range(n)]   # distinct, all inside libc's code
head = [l for l in lines if l[0] in "LpxatomlL" or l.startswith("LEAKAGENT")]
body, per = [], 10
for k in range(0, n, per):
    sid = k // per + 1
    body.append(f"s {sid:x} {len(pcs[k:k + per]):x} " + " ".join(f"{p:x}" for p in pcs[k:k + per]))
for k in range(0, n, per):
    body.append(f"r D m - {k // per + 1:x} {k + 1:x} 1 0 0")
body.append("w 1 1 0 1")
out = head + body
raw = f"{tmp}/bench.raw"
with open(raw, "w") as f:
    f.write("\n".join(out) + "\ne %x\n" % len(out))
t = time.monotonic()
p = subprocess.run([LEAKAGENT, "report", "--show-leak-kinds=all", "--format=json", "--output=/dev/null", raw],
                   capture_output=True, text=True, env=dict(os.environ, DEBUGINFOD_URLS=""))
dt = time.monotonic() - t
debug = "with" if os.path.exists("/usr/lib/debug/.build-id") else "without"
print(f"symbolized {n} distinct frames (libc, {debug} separate debug info) in {dt:.3f} s "
      f"({dt / n * 1e6:.1f} us per frame), exit {p.returncode}")
if p.returncode != 0:
    print(p.stderr[:2000])
for f in glob.glob(tmp + "/*"):
    os.unlink(f)
os.rmdir(tmp)
sys.exit(p.returncode)
