#!/usr/bin/env python3
"""test_errors.py: what `leakagent snapshot` and `diff` do with input they
cannot use: one `leakagent: error: <what>: <why>` line (and maybe a hint),
exit 2 (3 for a snapshot that did not come in time), and the target process
never harmed: it still answers afterwards."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from ladaemon import LEAKAGENT, Daemon, check, done, prog, run, temp_dir
import laraw


def one_error(err, start):
    """stderr is one error line starting with start, plus at most a hint"""
    lines = err.splitlines()
    return (len(lines) in (1, 2) and lines[0].startswith("leakagent: error: " + start)
            and (len(lines) == 1 or lines[1].startswith("hint: ")))


# bad usage
for args, start in [(["snapshot"], "snapshot: no process id given"),
                    (["snapshot", "abc"], "abc: expected a process id"),
                    (["snapshot", "--wait=0", "1"], "--wait=0: expected a number of seconds"),
                    (["snapshot", "1", "2"], "2: snapshot takes one process id"),
                    (["report", "--delta", "x.raw"], "--delta: only snapshot takes this option"),
                    (["diff", "a.raw"], "diff: expected two report files")]:
    rc, out, err = run(args)
    check(rc == 2 and one_error(err, start), f"{' '.join(args)}: exit 2, '{start}'", err)

# no such process: above any pid the kernel can hand out (pid_max <= 2^22)
rc, out, err = run(["snapshot", "4194305"])
check(rc == 2 and one_error(err, "pid 4194305: no such process"), "no such pid", err)

# a process without the agent
d = Daemon([prog("stepd")], agent=False)
rc, out, err = run(["snapshot", str(d.pid)])
check(rc == 2 and one_error(err, f"pid {d.pid} (stepd): the leak agent is not loaded in it"),
      "without the agent: refused", err)
check(d.cmd("ping") == "pong", "the process without the agent still serves")
check(d.finish() == 0, "and exits normally")

# a beacon but no handler for the signal: sending it would kill the process
fdir = temp_dir("la-fake-")
fake = subprocess.Popen([prog("fakebeacon"), fdir + "/x.%n.raw"], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, text=True)
check(fake.stdout.readline().strip() == "ready", "fakebeacon starts")
rc, out, err = run(["snapshot", str(fake.pid)])
check(rc == 2 and one_error(err, f"pid {fake.pid} (fakebeacon): it does not catch signal 10 "
                                 "(USR1): sending it would kill the process"),
      "a process that does not catch the signal: refused", err)
time.sleep(0.2)
check(fake.poll() is None, "fakebeacon was not killed")
fake.stdin.close()
check(fake.wait(30) == 0, "fakebeacon exits normally")

# the trigger turned off
d = Daemon([prog("stepd")], options="signal_delta=0")
rc, out, err = run(["snapshot", "--delta", str(d.pid)])
check(rc == 2 and one_error(err, f"pid {d.pid} (stepd): its agent has the delta snapshot signal "
                                 "turned off"), "delta trigger off: refused", err)
check(d.cmd("ping") == "pong", "still serves")
rc, out, err = run(["snapshot", str(d.pid)])
check(rc == 0 and "Report: signal #1 of pid" in err, "the full trigger still works", err)
check(d.finish() == 0 and d.files() == [f"stepd.{d.pid}.1.raw", f"stepd.{d.pid}.2.raw"],
      f"exit 0, two reports: {d.files()}")

# an output template too long to publish in the beacon: a relative one the
# agent makes absolute with a long working directory (the option itself is
# limited to 255 characters)
d = Daemon([prog("stepd")], subdir="a" * 230)
rc, out, err = run(["snapshot", str(d.pid)])
check(rc == 2 and one_error(err, f"pid {d.pid} (stepd): its output template was too long"),
      "template too long: refused", err)
check(d.cmd("ping") == "pong", "still serves")
check(d.finish() == 0 and d.files() == [f"stepd.{d.pid}.1.raw"], "exit 0, its exit report only")

# timeout: a stopped process cannot write its report; 3, then it writes it once continued
d = Daemon([prog("stepd")])
os.kill(d.pid, signal.SIGSTOP)
rc, out, err = run(["snapshot", "--wait=0.5", str(d.pid)])
lines = err.splitlines()
check(rc == 3, f"timeout: exit 3 (rc {rc})", err)
check(len(lines) == 3 and lines[0].startswith(f"leakagent: warning: pid {d.pid} (stepd): the "
                                              "process is stopped")
      and lines[1] == f"leakagent: error: pid {d.pid} (stepd): no signal report appeared within "
                      "0.5 seconds" and lines[2].startswith("hint: "), "warning, error, hint", err)
os.kill(d.pid, signal.SIGCONT)
check(d.cmd("ping") == "pong", "the continued process serves")
for _ in range(600):
    if d.files():
        break
    time.sleep(0.1)
late = d.files()
check(late == [f"stepd.{d.pid}.1.raw"] and laraw.parse(os.path.join(d.dir, late[0])).complete,
      f"the late report was written, complete: {late}")
check(d.finish() == 0, "exits normally")

# the process dies while snapshot waits: exit 2 at once, not at the timeout
d = Daemon([prog("stepd")])
os.kill(d.pid, signal.SIGSTOP)
snap = subprocess.Popen([LEAKAGENT, "snapshot", "--wait=300", str(d.pid)], stderr=subprocess.PIPE,
                        stdout=subprocess.DEVNULL, text=True)
first = snap.stderr.readline()  # the warning comes just before the signal is sent
os.kill(d.pid, signal.SIGKILL)
rest = snap.stderr.read()
rc = snap.wait(120)
check(first.startswith(f"leakagent: warning: pid {d.pid} (stepd): the process is stopped")
      and rc == 2 and one_error(rest, f"pid {d.pid} (stepd): the process exited before writing "
                                      "the snapshot"), f"the process died meanwhile: exit 2 ({rc})",
      first + rest)
d.p.wait()

# another user's process
d = Daemon([prog("stepd")])
if os.geteuid() == 0:
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", LEAKAGENT,
                        "snapshot", str(d.pid)], capture_output=True, text=True, timeout=60)
    rc, err, target = p.returncode, p.stderr, d.pid
else:
    target = next(int(x) for x in os.listdir("/proc") if x.isdigit()
                  and os.stat(f"/proc/{x}").st_uid != os.geteuid())
    rc, out, err = run(["snapshot", str(target)])
check(rc == 2 and one_error(err, f"pid {target} (") and "the process belongs to " in err,
      "another user's process: refused", err)
check(d.cmd("ping") == "pong" and d.finish() == 0 and d.files() == [f"stepd.{d.pid}.1.raw"],
      "it was not signalled")

# diff: unreadable, truncated, not a report, reports of two processes
a = Daemon([prog("stepd")])
b = Daemon([prog("stepd")])
a.cmd("leak 1 10")
a.finish(), b.finish()
ra, rb = (os.path.join(x.dir, f"stepd.{x.pid}.1.raw") for x in (a, b))
tmp = tempfile.mkdtemp(prefix="la-diff-")
cut, junk = os.path.join(tmp, "cut.raw"), os.path.join(tmp, "junk.raw")
data = open(ra).read()
open(cut, "w").write(data[:len(data) // 2])
open(junk, "w").write("hello\n")
for args, start in [([ra, "/nonexistent.raw"], "/nonexistent.raw: cannot open"),
                    ([cut, ra], cut + ": "),
                    ([ra, junk], junk + ": not a leakagent raw report"),
                    ([ra, rb], "diff: ")]:
    out_file = os.path.join(tmp, "out.txt")
    rc, out, err = run(["diff", f"--output={out_file}"] + args)
    check(rc == 2 and one_error(err, start) and not os.path.exists(out_file),
          f"diff {' '.join(os.path.basename(x) for x in args)}: exit 2, '{start}', no output", err)
rc, out, err = run(["diff", ra, rb])
check(f"is a report of pid {a.pid} (" in err and "a diff needs two reports of one process" in err,
      "two processes: says so", err)
check("truncated" in run(["diff", cut, ra])[2], "a cut report: says truncated")
shutil.rmtree(tmp)
done()
