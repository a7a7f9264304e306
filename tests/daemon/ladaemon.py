"""ladaemon.py: helpers of the daemon tests: start a long-running program
under the agent (reports in a fresh directory), talk to it line by line with
a timeout, run `leakagent snapshot`/`diff`, and read JSON reports back."""
import atexit
import json
import os
import shutil
import select
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "collector"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from lacheck import LEAKAGENT, check, done, prog, run, schema_valid  # noqa: E402,F401

AGENT = os.environ["AGENT"]


TEMP_DIRS = []
atexit.register(lambda: [shutil.rmtree(d, ignore_errors=True) for d in TEMP_DIRS])


def temp_dir(prefix):
    """a fresh directory, removed when the test ends"""
    d = tempfile.mkdtemp(prefix=prefix)
    TEMP_DIRS.append(d)
    return d


class Daemon:
    """A program with the agent preloaded (agent=True), stdin/stdout pipes."""

    def __init__(self, argv, agent=True, options="", template="%e.%p.%n.raw", subdir=None):
        self.dir = temp_dir("la-daemon-")
        if subdir:  # reports there, named by a template relative to it
            self.dir = os.path.join(self.dir, subdir)
            os.mkdir(self.dir)
        env = dict(os.environ)
        env["MALLOC_PERTURB_"] = "0"
        if agent:
            env["LD_PRELOAD"] = AGENT
            env["LEAKAGENT_OPTIONS"] = f"output={'' if subdir else self.dir + '/'}{template}" + (
                ":" + options if options else "")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env, text=True, bufsize=1, cwd=self.dir)
        self.pid = self.p.pid
        first = self.read_line()
        assert first == "ready", f"{argv[0]} did not start: {first!r} {self.p.stderr.read()}"

    def read_line(self, timeout=60):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        return self.p.stdout.readline().strip() if r else None

    def cmd(self, line, timeout=60):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.read_line(timeout)

    def alive(self):
        return self.p.poll() is None

    def finish(self, line="quit", timeout=60):
        try:
            self.p.stdin.write(line + "\n")
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait()

    def files(self):
        return sorted(f for f in os.listdir(self.dir) if not f.startswith("."))


def json_report(args):
    """Runs leakagent with --format=json into a file; (rc, document or None, stderr)."""
    out = tempfile.mktemp(prefix="la-json-", suffix=".json")
    rc, _, err = run(args + ["--format=json", f"--output={out}"])
    doc = None
    if os.path.exists(out):
        try:
            doc = json.load(open(out))
        except ValueError:
            doc = None
        os.unlink(out)
    return rc, doc, err


def own(entries, functions):
    """{(kind, family, function): (bytes, blocks)} of the records or growth
    entries whose allocating frame is one of functions."""
    agg = {}
    for e in entries:
        fn = e["stack"][0]["function"] if e["stack"] else None
        if fn in functions:
            key = (e["kind"], e["family"], fn)
            b, n = agg.get(key, (0, 0))
            agg[key] = (b + e["bytes"], n + e["blocks"])
    return agg
