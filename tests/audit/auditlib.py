"""auditlib.py: helpers of the audit tests: run valgrind and the tcmalloc
heap checker on the test programs, read reports and comparisons back as
JSON. Running leakagent and asserting come from tests/collector/lacheck.py."""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "collector"))
import lacheck  # noqa: E402
from lacheck import LEAKAGENT, check, prog, schema_valid  # noqa: E402,F401

env = lacheck.clean_env
TMP = tempfile.mkdtemp(prefix="la-audit-")


def done():
    shutil.rmtree(TMP, ignore_errors=True)
    lacheck.done()


def run(args, **kw):
    return lacheck.run(args, timeout=240, **kw)


def errors(stderr):
    return [l for l in stderr.splitlines() if l.startswith("leakagent: error:")]


def valgrind_xml(argv, name):
    """A real memcheck run of argv; returns the XML file's path."""
    path = os.path.join(TMP, name)
    subprocess.run(["valgrind", "--leak-check=full", "--show-leak-kinds=all", "--xml=yes",
                    f"--xml-file={path}"] + argv, env=env(), capture_output=True, timeout=240)
    return path


def tcmalloc_heap(argv, name):
    """A real heap-checker run of argv; returns the .heap file's path and
    the run's stderr."""
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    e = env()
    e.update({"HEAPCHECK": "normal", "HEAP_CHECK_DUMP_DIRECTORY": d,
              "LD_PRELOAD": "libtcmalloc.so.4", "PPROF_PATH": "/nonexistent"})
    p = subprocess.run(argv, env=e, capture_output=True, text=True, timeout=240)
    files = glob.glob(os.path.join(d, "*._main_-end.heap"))
    return (files[0] if files else None), p.stderr


def report_json(args):
    """`leakagent report ... --format=json --show-leak-kinds=all`, parsed."""
    rc, out, err = run(["report", "--format=json", "--show-leak-kinds=all"] + args)
    try:
        # warnings come first, one line each
        return rc, json.loads(err[err.index("{"):]), err
    except ValueError:
        return rc, None, err


def records(doc, fn=None):
    """Records of every process; those whose first frame is fn when given."""
    out = []
    for p in (doc or {}).get("processes", []):
        for r in p["records"]:
            frames = [f["function"] for f in r["stack"]]
            r["frames"] = frames
            if fn is None or (frames and frames[0] == fn):
                out.append(r)
    return out


def total(recs, kind=None):
    recs = [r for r in recs if kind is None or r["kind"] == kind]
    return sum(r["bytes"] for r in recs), sum(r["blocks"] for r in recs)


def compare(args):
    """`leakagent compare --format=json ...`, parsed."""
    rc, out, err = run(["compare", "--format=json"] + args)
    try:
        return rc, json.loads(out), out + err
    except ValueError:
        return rc, None, out + err


def rows(doc, first_fn):
    """Rows of a compare document whose key starts with first_fn."""
    return [r for r in (doc or {}).get("rows", [])
            if r["key"].split("|")[-1].split("<")[0] == first_fn]


def backend(doc, name):
    for b in (doc or {}).get("backends", []):
        if b["name"] == name:
            return b
    return None


def agent_raw(argv, name):
    """A real run of argv under the agent; returns its raw report's path."""
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    e = env()
    e["LD_PRELOAD"] = os.path.join(os.path.dirname(LEAKAGENT), "..", "agent", "libleakagent.so")
    e["LEAKAGENT_OPTIONS"] = f"output={d}/leakagent.%p.raw"
    subprocess.run(argv, env=e, capture_output=True, timeout=240)
    files = glob.glob(os.path.join(d, "leakagent.*.raw"))
    return files[0] if files else None
