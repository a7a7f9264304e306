#!/usr/bin/env python3
"""test_run.py: leakagent runs real programs and reports their leaks: records
with kind, bytes, blocks and allocating function; exit status handling; the
user's LD_PRELOAD kept; children's reports; bad options."""
import os
import re
from lacheck import *

# a plain leaky program: records, frames, exit status
rc, out, err = run([prog("leak_basic")])
recs = records(err)
check(rc == 3, "the program's exit status (3) is returned", err)
ml = find(recs, "make_leak")
check(len(ml) >= 1 and sum(r["bytes"] for r in ml) == 300 and sum(r["blocks"] for r in ml) == 3,
      "make_leak: 300 bytes in 3 blocks", err)
check(all(r["kind"] in LOST for r in ml), "make_leak's blocks are lost", err)
check(all(r["frames"][:2] == ["make_leak", "lose_it"] for r in ml), "stack make_leak <- lose_it", err)
check(all(re.search(r"\(leak_basic\.c:\d+\)", r["where"][0]) for r in ml), "file:line shown", err)
ind = find(recs, "indirect")
check(sorted(r["bytes"] for r in ind) in ([8, 64], [72]), "indirect(): 8 + 64 bytes", err)
check(not find(recs, "freed"), "a freed block is not reported", err)
check([r["index"] for r in recs] == list(range(1, len(recs) + 1)), "loss records numbered 1..n", err)
sizes = [r["bytes"] for r in recs]
check(sizes == sorted(sizes, reverse=True), "biggest first", err)
check("LEAK SUMMARY:" in err and re.search(r"suppressed: 0 bytes in 0 blocks", err), "summary", err)
check("Reachability scan:" in err, "scan completeness line", err)

# `run ... --` form, --output and --error-exitcode
out_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"la-run-{os.getpid()}.txt")
rc, out, err = run(["run", "--error-exitcode=42", f"--output={out_file}", "--", prog("leak_basic")])
text = open(out_file).read()
os.unlink(out_file)
check(rc == 42, "--error-exitcode=42 when leaks are found", err)
check(find(records(text), "make_leak") and not records(err), "--output gets the report", text)

# --errors-for-leak-kinds not matching: the program's status again
rc, out, err = run(["--error-exitcode=42", "--errors-for-leak-kinds=reachable", prog("leak_basic")])
check(rc == 3, "--errors-for-leak-kinds=reachable: no error, status 3", err)

# --show-leak-kinds=none hides records, summary stays
rc, out, err = run(["--show-leak-kinds=none", prog("leak_basic")])
check(not records(err) and "LEAK SUMMARY:" in err, "--show-leak-kinds=none", err)

# --min-bytes
rc, out, err = run(["--min-bytes=64", "--show-leak-kinds=all", prog("leak_basic")])
check(all(r["bytes"] >= 64 for r in records(err)) and records(err), "--min-bytes=64", err)

# --leak-resolution=1 merges make_leak's records (same top frame)
rc, out, err = run(["--leak-resolution=1", prog("leak_basic")])
ml = find(records(err), "make_leak")
check(len(ml) == 1 and ml[0]["bytes"] == 300 and ml[0]["blocks"] == 3,
      "--leak-resolution=1 merges make_leak's records", err)

# --num-callers=1: one machine frame per record
rc, out, err = run(["--num-callers=1", prog("leak_basic")])
check(records(err) and all(len(r["frames"]) == 1 for r in records(err)), "--num-callers=1", err)

# the user's LD_PRELOAD is kept (a library that does nothing harmful: libc)
rc, out, err = run([prog("leak_basic")], env={"LD_PRELOAD": "libc.so.6"})
check(rc == 3 and find(records(err), "make_leak"), "existing LD_PRELOAD kept", err)
rc, out, err = run(["sh", "-c", 'echo "$LD_PRELOAD"'], env={"LD_PRELOAD": "libc.so.6"})
check(re.search(r"libleakagent\.so:libc\.so\.6", out), "agent prepended to LD_PRELOAD", out + err)

# children: the parent's and the child's report
rc, out, err = run([prog("leak_fork")])
recs = records(err)
pids = sorted({r["pid"] for r in recs})
check(len(pids) == 2, "two processes reported", err)
pl, cl = find(recs, "parent_leak"), find(recs, "child_leak")
check(len(pl) == 1 and pl[0]["bytes"] == 111 and len(cl) == 1 and cl[0]["bytes"] == 222
      and pl[0]["pid"] != cl[0]["pid"], "parent and child leaks in their own reports", err)
check(err.index("==%d==" % pids[0]) < err.index("==%d==" % pids[1]), "sorted by pid", err)
el = find(recs, "early_leak")
inherited = [b for b in err.split("\n==%d== \n" % cl[0]["pid"]) if "early_leak" in b and
             "(inherited: allocated by the parent before fork)" in b] if cl else []
check(len(el) == 2 and {r["pid"] for r in el} == set(pids) and len(inherited) == 1,
      "the leak from before the fork is in both reports, marked inherited in the child's", err)

# a program killed by a signal: 128+15, and the report says so, as memcheck does
rc, out, err = run([prog("exit_signal")])
check(rc == 128 + 15, "killed by SIGTERM: exit 143", err)
check("Process terminating with default action of signal 15 (SIGTERM)" in err,
      "the report names the signal the program died of", err)
rc, out, err = run([prog("leak_basic")])
check("Process terminating" not in err, "a program that exits names no signal", err)

# findings: mismatched and invalid frees, with both stacks
rc, out, err = run([prog("mismatch")])
check("Mismatched free() / delete / delete []" in err and "wrong_free" in err, "mismatch finding", err)
m = re.search(r"Address 0x[0-9a-f]+ is 0 bytes inside a block of size 24 alloc'd\n(.*\n)", err)
check(m and "wrong_free" in m[1], "the allocation stack of the mismatched block", err)

# the private report directory is removed, even when our reader goes away early
import subprocess, tempfile
td = tempfile.mkdtemp(prefix="la-run-tmp-")
p = subprocess.Popen([LEAKAGENT, prog("leak_basic")], stderr=subprocess.PIPE,
                     env=dict(os.environ, TMPDIR=td, MALLOC_PERTURB_="0"))
p.stderr.close()
p.wait(timeout=60)
check(os.listdir(td) == [], "report directory removed, also when stderr is a closed pipe", str(os.listdir(td)))
os.rmdir(td) if not os.listdir(td) else None

# bad usage: one line, exit 2
for args, what in ((["--bogus", prog("leak_basic")], "unknown option"),
                   (["--format=yaml", prog("leak_basic")], "bad --format"),
                   (["--num-callers=0", prog("leak_basic")], "bad --num-callers"),
                   (["--show-leak-kinds=lost", prog("leak_basic")], "bad kind"),
                   (["--error-exitcode", prog("leak_basic")], "bad --error-exitcode"),
                   (["run"], "run without a program"),
                   (["report"], "report without a file")):
    rc, out, err = run(args)
    lines = [l for l in err.splitlines() if l.startswith("leakagent: error:")]
    check(rc == 2 and len(lines) == 1, f"{what}: exit 2, one error line", err)
rc, out, err = run(["/nonexistent/program"])
check(rc == 2 and "cannot run" in err, "missing program: exit 2", err)
rc, out, err = run(["--help"])
check(rc == 0 and all(o in out for o in ("--show-leak-kinds", "--errors-for-leak-kinds", "--num-callers",
      "--suppressions", "--gen-suppressions", "--format", "--output", "--min-bytes", "--leak-resolution",
      "--error-exitcode", "--sysroot", "--debug-dir")), "--help lists every option", out)
done()
