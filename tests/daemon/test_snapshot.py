#!/usr/bin/env python3
"""test_snapshot.py: `leakagent snapshot PID` (full and --delta) and
`leakagent diff OLD NEW` on stepd, a daemon that allocates known amounts
between snapshots: exact records (kind, family, bytes, blocks, allocating
function), the growth section, the reports left in the agent's directory,
and the daemon serving throughout and exiting with a complete report."""
import os
import re
import time

from ladaemon import Daemon, check, done, json_report, own, prog, run, schema_valid

FNS = {"leak_lost", "cache_keep"}
LOST, KEPT = ("definite", "malloc", "leak_lost"), ("reachable", "malloc", "cache_keep")
ALL = ["--show-leak-kinds=all"]

d = Daemon([prog("stepd")])
check(d.cmd("leak 2 100") == "ok" and d.cmd("keep 3 200") == "ok", "stepd allocates")

# 1: a full snapshot
rc, doc, err = json_report(["snapshot", str(d.pid)] + ALL)
check(rc == 0 and doc is not None, f"snapshot exits 0 (rc {rc})", err)
p = doc["processes"][0] if doc else {}
check(doc is not None and schema_valid(doc), "the json validates against the schema", err)
check(p.get("pid") == d.pid and p.get("trigger") == "signal" and p.get("seq") == 1
      and p.get("complete") and p.get("delta") is None,
      "report #1 of the daemon, trigger signal, complete, not a delta", str(p)[:400])
got = own(p.get("records", []), FNS)
check(got == {LOST: (200, 2), KEPT: (600, 3)}, f"#1 records {got}", err)
check(p.get("source", "").startswith(d.dir + "/stepd.%d.1" % d.pid), "read from the agent's file",
      p.get("source", ""))
check(d.cmd("ping") == "pong", "the daemon serves after the snapshot")

# 2: a delta since the start
rc, doc, err = json_report(["snapshot", "--delta", str(d.pid)] + ALL)
p = doc["processes"][0] if doc else {}
check(rc == 0 and p.get("trigger") == "delta" and p.get("seq") == 2
      and p.get("delta") == {"since_seq": 0}, f"#2 is a delta since the start (rc {rc})", err)
check(own(p.get("records", []), FNS) == {LOST: (200, 2), KEPT: (600, 3)}, "#2 records", err)
check(own(p.get("growth", []), FNS) == {LOST: (200, 2), KEPT: (600, 3)}, "#2 growth", err)

# between the marks: one more lost block, two new kept blocks, one old kept block freed
for c in ["leak 1 50", "keep 4 300", "drop 2", "drop-old 1"]:
    check(d.cmd(c) == "ok", c)

# 3: a delta since #2, as text: only the new blocks; growth counts old ones freed too
rc, out, err = run(["snapshot", "--delta", str(d.pid)] + ALL)
check(rc == 0, f"text delta snapshot exits 0 (rc {rc})", err)
check(f"=={d.pid}== Delta: the records are blocks allocated since report #2 that are still "
      "outstanding" in err, "text says what a delta holds", err)
check(re.search(r"^==\d+== 50 bytes in 1 blocks are definitely lost in loss record \d+ of \d+\n"
                r"==\d+==    at 0x[0-9A-F]+: leak_lost \(stepd\.c:\d+\)", err, re.M),
      "the new lost block, with its function and line", err)
check(re.search(r"^==\d+== 600 bytes in 2 blocks are still reachable in loss record", err, re.M),
      "the two new kept blocks", err)
check(f"=={d.pid}== GROWN SINCE report #2: outstanding blocks per stack" in err, "growth heading",
      err)
check(re.search(r"^==\d+== \+400 bytes in \+1 blocks \(malloc, now still reachable\) in growth "
                r"record \d+ of \d+\n==\d+==    at 0x[0-9A-F]+: cache_keep ", err, re.M),
      "cache_keep grew by 600 - 200 bytes, 2 - 1 blocks", err)
check(re.search(r"^==\d+== \+50 bytes in \+1 blocks \(malloc, now definitely lost\) in growth "
                r"record \d+ of \d+\n==\d+==    at 0x[0-9A-F]+: leak_lost ", err, re.M),
      "leak_lost grew by 50 bytes, 1 block", err)

# 4: a full snapshot again
rc, doc4, err = json_report(["snapshot", str(d.pid)] + ALL)
p = doc4["processes"][0] if doc4 else {}
check(rc == 0 and p.get("seq") == 4 and own(p.get("records", []), FNS) ==
      {LOST: (250, 3), KEPT: (1000, 4)}, f"#4 records {own(p.get('records', []), FNS)}", err)

# 5: a delta where a stack shrank
check(d.cmd("drop-old 3") == "ok", "drop-old 3")
rc, doc, err = json_report(["snapshot", "--delta", str(d.pid)] + ALL)
p = doc["processes"][0] if doc else {}
check(rc == 0 and p.get("delta") == {"since_seq": 3} and schema_valid(doc), "#5 is a delta since #3", err)
check(own(p.get("records", []), FNS) == {}, "#5: nothing new", err)
check(own(p.get("growth", []), FNS) == {KEPT: (-700, -3)}, "#5: cache_keep shrank by 700 in 3",
      str(p.get("growth"))[:600])
rc, out, err = run(["report", os.path.join(d.dir, f"stepd.{d.pid}.5.raw")])
check(rc == 0 and re.search(r"==\d+==    1 stack shrank by 700 bytes in all", err),
      "text: the shrinking stack counted", err)

check(d.cmd("ping") == "pong", "the daemon still serves")
status = d.finish()
files = d.files()
check(status == 0, f"the daemon exits 0 ({status})")
check(files == [f"stepd.{d.pid}.{n}.raw" for n in range(1, 7)], f"six reports: {files}")

# diff: what appeared or grew between #1 and #4 (all kinds by default)
f = lambda n: os.path.join(d.dir, f"stepd.{d.pid}.{n}.raw")
rc, doc, err = json_report(["diff", f(1), f(4)])
p = doc["processes"][0] if doc else {}
check(rc == 0 and doc is not None and schema_valid(doc), f"diff exits 0, valid json (rc {rc})", err)
check(p.get("diff") == {"old_source": f(1), "old_seq": 1}, "json names the old report", str(p)[:300])
check(own(p.get("records", []), FNS) == {LOST: (50, 1), KEPT: (400, 1)},
      f"diff #1 #4: {own(p.get('records', []), FNS)}", err)
rc, out, err = run(["diff", "--error-exitcode=9", f(1), f(4)])
check(rc == 9, f"diff --error-exitcode: growth of a lost record is an error (rc {rc})", err)
check(f"Diff: the records are what appeared or grew since report #1 ({f(1)})" in err,
      "text says what a diff holds", err)
rc, out, err = run(["diff", "--error-exitcode=9", f(4), f(6)])
check(rc == 0 and "diff" not in err.split("Diff:")[0], f"nothing lost grew from #4 to exit (rc {rc})",
      err)
rc, doc, err = json_report(["diff", f(4), f(1)])
check(rc == 0 and "leakagent: warning: diff: " in err and "is older than" in err,
      "reversed order: a warning", err)
check(own(doc["processes"][0]["records"], FNS) == {} if doc else False, "reversed: nothing grew")

# a daemon whose main thread called pthread_exit: /proc/PID (the zombie
# leader) has no maps and says Z; snapshot goes by a live thread's files
z = Daemon([prog("stepd"), "--main-exits"])
check(z.cmd("leak 2 100") == "ok" and z.cmd("keep 1 200") == "ok", "stepd --main-exits allocates")
for _ in range(200):  # main calls pthread_exit right after starting the server thread
    if "State:\tZ" in open(f"/proc/{z.pid}/status").read():
        break
    time.sleep(0.01)
check("State:\tZ" in open(f"/proc/{z.pid}/status").read(), "its leader is a zombie")
rc, doc, err = json_report(["snapshot", str(z.pid)] + ALL)
p = doc["processes"][0] if doc else {}
check(rc == 0 and p.get("pid") == z.pid and own(p.get("records", []), FNS) ==
      {LOST: (200, 2), KEPT: (200, 1)}, f"snapshot of a zombie-led daemon (rc {rc})", err)
check(z.cmd("quit") == "" and z.p.wait(timeout=60) == 0, "it exits 0 when its last thread does")
done()
