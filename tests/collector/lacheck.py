"""lacheck.py: helpers shared by the collector's, audit and daemon tests: run
leakagent, parse its text report into records, validate JSON reports against
the schema, and assert with messages that show the output."""
import json
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
            print("---- output ----\n" + str(output)[-6000:] + "\n----------------")


def done():
    print(f"{failures} failed")
    sys.exit(1 if failures else 0)


def prog(name):
    return os.path.join(BINDIR, name)


def clean_env():
    """The test's environment without anything that would change what a
    checker sees (debuginfod, a preload, valgrind or heap checker settings)."""
    e = dict(os.environ)
    e["MALLOC_PERTURB_"] = "0"
    for k in ("DEBUGINFOD_URLS", "HEAPCHECK", "LD_PRELOAD", "VALGRIND_OPTS"):
        e.pop(k, None)
    return e


def run(args, env=None, cwd=None, timeout=120):
    e = clean_env()
    if env:
        e.update(env)
    p = subprocess.run([LEAKAGENT] + args, capture_output=True, text=True, env=e, cwd=cwd,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def schema_valid(doc):
    """Whether a JSON report validates against collector/report-schema.json."""
    import jsonschema
    path = os.path.join(SRCDIR, "..", "..", "collector", "report-schema.json")
    try:
        jsonschema.validate(doc, json.load(open(path)))
        return True
    except jsonschema.ValidationError as e:
        print(e)
        return False


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
