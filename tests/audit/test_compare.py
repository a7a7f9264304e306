#!/usr/bin/env python3
"""test_compare.py: `leakagent compare` matches leak sets record by record.
Real runs of valgrind and the tcmalloc heap checker agree on definitely
lost exactly where their designs agree (definite and indirect blocks), and
differ, documented, where they do not (no possibly lost, no still reachable
in tcmalloc). The agent's records agree with memcheck's once it classifies
them; while they are unclassified the table says so and the verdicts on
definitely lost cannot agree. Exit status 0 agree, 1 differ, 2 error."""
import json
import re
import subprocess
from auditlib import *

kinds = prog("audit-kinds")

# valgrind and tcmalloc files of real runs, compared without the agent
vg = valgrind_xml([kinds], "kinds.xml")
tc, _ = tcmalloc_heap([kinds], "kinds")
rc, doc, out = compare([f"--from-valgrind-xml={vg}", f"--from-tcmalloc-heap={tc}"])
check(rc == 0 and doc["verdict"] == "agree",
      "valgrind and tcmalloc agree on definitely lost: exit 0", out)
for fn, cell in [("make_leak", {"lost": {"bytes": 300, "blocks": 3}}),
                 ("lose_parent", {"lost": {"bytes": 16, "blocks": 1}}),
                 ("make_child", {"lost": {"bytes": 64, "blocks": 1}}),
                 ("thread_leak", {"lost": {"bytes": 48, "blocks": 1}}),
                 ("audit_lib_leak", {"lost": {"bytes": 40, "blocks": 1}})]:
    r = rows(doc, fn)
    check(len(r) == 1 and r[0]["category"] == "agree" and r[0]["cells"]["tcmalloc"] == cell,
          f"{fn}: one row, agreed, tcmalloc {cell}", out)
r = rows(doc, "make_child")
check(r and r[0]["cells"]["valgrind"] == {"indirect": {"bytes": 64, "blocks": 1}},
      "memcheck's indirect block matches tcmalloc's leak", out)
for fn, kind, what in [("keep_interior", "possible", "possibly lost"),
                       ("keep_reachable", "reachable", "still reachable")]:
    r = rows(doc, fn)
    check(len(r) == 1 and r[0]["category"] == "expected" and r[0]["cells"]["tcmalloc"] == {}
          and kind in r[0]["cells"]["valgrind"] and what in (r[0]["notes"] or "")
          and not r[0]["definite_differs"],
          f"{fn}: documented difference, tcmalloc does not report {what}", out)
tcb = backend(doc, "tcmalloc")
check(tcb and tcb["splits_indirect"] is False and tcb["reports_possible"] is False,
      "tcmalloc's limits are in the JSON", out)

# a run that leaks one block more: exit 1 and a row only one saw
tc2, _ = tcmalloc_heap([kinds, "extra"], "kinds-extra")
rc, doc, out = compare([f"--from-valgrind-xml={vg}", f"--from-tcmalloc-heap={tc2}"])
r = rows(doc, "extra_leak")
check(rc == 1 and doc["verdict"] == "differ", "one more leak in one run: exit 1", out)
check(len(r) == 1 and r[0]["category"] == "only" and r[0]["definite_differs"]
      and r[0]["cells"]["valgrind"] == {}, "extra_leak: seen by tcmalloc only", out)
rc, text, err = run(["compare", f"--from-valgrind-xml={vg}", f"--from-tcmalloc-heap={tc2}"])
check(rc == 1 and "Seen by some backends only: 1 stack" in text and "extra_leak" in text
      and "differ on definitely lost blocks in 1 stack" in text, "the text table says so",
      text + err)

# the agent's raw report is a leak set like the others
raw = agent_raw([kinds], "agent")
rc, doc, out = compare([f"--from-agent-report={raw}", f"--from-valgrind-xml={vg}"])
r = rows(doc, "make_leak")
a = backend(doc, "agent")
check(a and a["available"] and r and r[0]["cells"]["agent"] and r[0]["cells"]["valgrind"]
      and sum(c["bytes"] for c in r[0]["cells"]["agent"].values()) == 300,
      "--from-agent-report: the agent's make_leak row beside memcheck's", out)
check(rc == (0 if a and a["classified"] else 1), "exit status follows the agent's kinds", out)

# draconian: every block not freed, unclassified; strict keeps normal's kinds
rc, doc, out = compare(["--with=tcmalloc", "--heapcheck=draconian", "--", kinds])
t = backend(doc, "tcmalloc")
r = rows(doc, "keep_reachable")
check(t and t["available"] and not t["classified"] and r
      and r[0]["cells"]["tcmalloc"] == {"unclassified": {"bytes": 222, "blocks": 1}},
      "HEAPCHECK=draconian: the reachable block too, as unclassified", out)
rc, doc, out = compare(["--with=tcmalloc", "--heapcheck=strict", "--", kinds])
r = rows(doc, "make_leak")
check(r and r[0]["cells"]["tcmalloc"] == {"lost": {"bytes": 300, "blocks": 3}},
      "HEAPCHECK=strict: make_leak lost 300 in 3", out)

# --depth: the key holds that many frames
rc, doc, out = compare(["--depth=1", f"--from-valgrind-xml={vg}", f"--from-tcmalloc-heap={tc}"])
r = rows(doc, "make_leak")
check(r and r[0]["key"] == "make_leak", "--depth=1 matches on the allocating frame only", out)

# the real thing: agent, valgrind and tcmalloc on one program
rc, doc, out = compare(["--", kinds])
check(doc is not None and [b["name"] for b in doc["backends"]] == ["agent", "valgrind", "tcmalloc"]
      and all(b["available"] for b in doc["backends"]), "three backends ran", out)
agent = backend(doc, "agent")
check(all(b["seconds"] > 0 and len(b["run_seconds"]) == 1 for b in doc["backends"]),
      "each backend's run time is recorded", out)
definite = ["make_leak", "lose_parent", "thread_leak", "audit_lib_leak"]
if agent and agent["classified"]:
    # once the agent classifies, it and memcheck agree record by record
    check(rc == 0 and doc["verdict"] == "agree", "classified agent: verdicts agree, exit 0", out)
    for fn in definite + ["make_child"]:
        r = rows(doc, fn)
        check(r and r[0]["category"] == "agree"
              and r[0]["cells"]["agent"] == r[0]["cells"]["valgrind"],
              f"{fn}: agent and valgrind agree", out)
    for fn in ["keep_interior", "keep_reachable"]:
        r = rows(doc, fn)
        check(r and r[0]["category"] == "expected"
              and r[0]["cells"]["agent"] == r[0]["cells"]["valgrind"],
              f"{fn}: agent and valgrind agree, tcmalloc by design", out)
else:
    # unclassified: same stacks and sizes, but no verdict on definitely lost
    check(rc == 1 and doc["verdict"] == "differ",
          "unclassified agent: cannot agree on definitely lost, exit 1", out)
    for fn, b in [("make_leak", 300), ("lose_parent", 16), ("thread_leak", 48),
                  ("audit_lib_leak", 40), ("make_child", 64)]:
        r = rows(doc, fn)
        check(r and r[0]["cells"]["agent"] == {"unclassified": {"bytes": b, "blocks": r[0]["cells"]
                                                               ["agent"]["unclassified"]["blocks"]}}
              and r[0]["category"] == "differ" and r[0]["definite_differs"],
              f"{fn}: agent unclassified {b} bytes, shown as a difference in kind", out)
# valgrind and tcmalloc agree with each other in the same table either way
for fn in definite:
    r = rows(doc, fn)
    v, t = (r[0]["cells"].get("valgrind"), r[0]["cells"].get("tcmalloc")) if r else (None, None)
    check(v and t and v.get("definite") == t.get("lost"), f"{fn}: valgrind definite = tcmalloc lost",
          out)

# text: the run-time table with the agent as the yardstick
rc, text, err = run(["compare", "--with=valgrind", "--runs=2", "--", kinds])
check(re.search(r"^agent\s+ran\s+[\d.]+s\s+1\.0x", text, re.M)
      and re.search(r"^valgrind\s+ran\s+[\d.]+s\s+[\d.]+x", text, re.M),
      "text: run times, and valgrind's relative to the agent's", text + err)
check("2 runs per backend" in text and rc in (0, 1), "--runs=2", text + err)
check("tcmalloc" not in text, "--with=valgrind runs valgrind only", text)

# C++: new, new[] and an inlined std::vector allocation, all three tools
rc, doc, out = compare(["--", prog("audit-leakxx")])
for fn, b in [("lose_node()", 32), ("lose_array()", 100)]:
    r = rows(doc, fn)
    check(r and r[0]["cells"]["valgrind"].get("definite", {}).get("bytes") == b
          and r[0]["cells"]["tcmalloc"].get("lost", {}).get("bytes") == b,
          f"C++ {fn}: valgrind definite {b} = tcmalloc lost {b}", out)
r = rows(doc, "lose_vector()")
check(r and r[0]["cells"]["tcmalloc"] == {"lost": {"bytes": 64, "blocks": 2}},
      "C++ vector: the object and its inlined buffer allocation match in one row", out)

# a thread still running at exit: its DTV is possibly lost for memcheck (an
# interior pointer from the thread's TCB) and for the agent; the bytes differ
# by the agent's own TLS module (libleakagent; libunwind too once it is loaded)
rc, doc, out = compare(["--with=valgrind", "--", prog("audit-livethread")])
r = rows(doc, "allocate_dtv")
check(len(r) == 1 and list(r[0]["cells"]["valgrind"]) == ["possible"]
      and list(r[0]["cells"]["agent"]) == ["possible"]
      and r[0]["cells"]["agent"]["possible"]["blocks"] == 1
      and r[0]["cells"]["valgrind"]["possible"]["blocks"] == 1,
      "a live thread's DTV: possibly lost, one block, for memcheck and the agent", out)

# a program with a forked child (no exec) and an exec'd one: only processes
# every backend in the comparison can report are compared, the rest listed
forks = prog("audit-forks")
rc, doc, out = compare(["--with=valgrind", "--", forks])
a = backend(doc, "agent")
check(rc == 0 and doc["verdict"] == "agree" and rows(doc, "parent_leak")
      and not rows(doc, "fork_leak") and not rows(doc, "exec_leak"),
      "valgrind without --trace-children: the agent's children are not compared, exit 0", out)
check(a and sorted(l["why"] for l in a["left_out"]) == ["child", "fork"]
      and all(l["pid"] > 0 for l in a["left_out"])
      and [l["forked_from"] > 0 for l in sorted(a["left_out"], key=lambda l: l["why"])]
      == [False, True], "the JSON lists the forked and the exec'd child as left out", out)
rc, doc, out = compare(["--with=valgrind", "--trace-children", "--", forks])
a = backend(doc, "agent")
r = rows(doc, "exec_leak")
check(rc == 0 and r and r[0]["category"] == "agree" and not rows(doc, "fork_leak")
      and a and [l["why"] for l in a["left_out"]] == ["fork"],
      "--trace-children: the exec'd child is compared, the forked one left out", out)
rc, doc, out = compare(["--with=tcmalloc", "--", forks])
a = backend(doc, "agent")
check(rc == 0 and rows(doc, "exec_leak") and not rows(doc, "fork_leak")
      and a and [l["why"] for l in a["left_out"]] == ["fork"],
      "the heap checker checks exec'd children, never forked ones", out)
rc, text, err = run(["compare", "--with=valgrind", "--", forks])
check(re.search(r"left out: pid \d+ \(audit-forks\), a fork of pid \d+", text)
      and "a child started by exec: valgrind did not trace children" in text,
      "text: what was left out, and why", text + err)

# like with like: valgrind (and a wrapper script such as Debian's) adds
# variables to its client's environment, the agent's run adds its own; the
# agent's run also reads /dev/null, as valgrind's does, whatever compare's
# input is
envleak = prog("audit-envleak")
e = lacheck.clean_env()
for k in ("LD_LIBRARY_PATH", "GLIBCXX_FORCE_NEW", "GLIBCPP_FORCE_NEW", "LEAKAGENT_OPTIONS"):
    e.pop(k, None)
p = subprocess.run([LEAKAGENT, "compare", "--format=json", "--with=valgrind", "--", envleak],
                   input="input for nobody\n", capture_output=True, text=True, env=e, timeout=240)
doc = json.loads(p.stdout) if p.stdout.startswith("{") else None
r = rows(doc, "lose_per_variable")
check(p.returncode == 0 and r and r[0]["category"] == "agree"
      and r[0]["cells"]["agent"] == r[0]["cells"]["valgrind"],
      "one block per environment variable: the same count in both runs", p.stdout + p.stderr)
check(doc is not None and not rows(doc, "lose_if_input"),
      "neither run reads compare's input", p.stdout + p.stderr)

# a leak in a library unloaded before exit: memcheck keeps its symbols too
rc, doc, out = compare(["--with=valgrind", "--", prog("audit-dlclosed")])
r = rows(doc, "audit_lib_leak")
check(rc == 0 and len(r) == 1 and r[0]["category"] == "agree"
      and r[0]["cells"]["valgrind"] == {"definite": {"bytes": 48, "blocks": 1}},
      "a block of a dlclose()d library: one row, agreed, in memcheck's symbols too", out)

# usage errors: exit 2 and one error line
for args, what in [(["compare"], "no program"), (["compare", "--with=nosuch", "--", kinds], "--with"),
                   (["compare", "--runs=0", "--", kinds], "--runs"),
                   (["compare", "--depth=x", "--", kinds], "--depth")]:
    rc, out, err = run(args)
    check(rc == 2 and len(errors(err)) == 1, f"bad usage ({what}): exit 2, one error", err)
done()
