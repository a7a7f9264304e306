"""lacheck.py: helpers shared by the collector's tests: run leakagent, parse
its text report into records, and assert with messages that show the output."""
import os
import re
import subprocess
import sys

LEAKAGENT = os.environ["LEAKAGENT"]
BINDIR = os.environ["TESTBIN_DIR"]
SRCDIR = os.path.dirname(os.path.abspath(__file__))

# Until the agent's reachability scan runs, records are "outstanding (not
# classified)"; afterwards the same blocks get a real kind. Tests accept both.
LOST = {"definitely lost", "outstanding (not classified)"}
INDIRECT = {"indirectly lost", "outstanding (not classified)"}

failures = 0


def check(cond, what, output=""):
    global failures
    if cond:
        print(f"ok - {what}")
    else:
        failures += 1
        print(f"FAIL - {what}")
        if output:
            print("---- output ----\n" + output + "\n----------------")


def done():
    print(f"{failures} failed")
    sys.exit(1 if failures else 0)


def prog(name):
    return os.path.join(BINDIR, name)


def run(args, env=None, cwd=None):
    e = dict(os.environ)
    e["MALLOC_PERTURB_"] = "0"
    e.pop("DEBUGINFOD_URLS", None)
    if env:
        e.update(env)
    p = subprocess.run([LEAKAGENT] + args, capture_output=True, text=True, env=e, cwd=cwd,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


HEAD = re.compile(r"^==(\d+)== ([\d,]+)(?: \(([\d,]+) direct, ([\d,]+) indirect\))? bytes in "
                  r"([\d,]+) blocks are (.+?) in loss record (\d+) of (\d+)$")
FRAME = re.compile(r"^==\d+==    (?:at|by) (0x[0-9A-F]+): (.*)$")


def num(s):
    return int(s.replace(",", ""))


def records(text):
    """Loss records of a text report: dicts with pid, bytes, blocks, kind,
    frames (the function names) and where (the rest of each frame line)."""
    out, cur = [], None
    for line in text.splitlines():
        m = HEAD.match(line)
        if m:
            cur = {"pid": int(m[1]), "bytes": num(m[2]), "blocks": num(m[5]), "kind": m[6],
                   "index": int(m[7]), "of": int(m[8]), "frames": [], "where": []}
            out.append(cur)
            continue
        m = FRAME.match(line)
        if m and cur is not None:
            fn = m[2].split(" (")[0]
            cur["frames"].append(fn)
            cur["where"].append(m[2])
            continue
        cur = None
    return out


def find(recs, fn, pid=None):
    """records whose stack names fn"""
    return [r for r in recs if fn in r["frames"] and (pid is None or r["pid"] == pid)]
