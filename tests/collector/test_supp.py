#!/usr/bin/env python3
"""test_supp.py: suppressions users already have, matching and not matching:
valgrind .supp (fun:/obj:/src:, * ? ..., match-leak-kinds), LeakSanitizer
leak: lines, files valgrind itself generated, and --gen-suppressions output
read back by leakagent and by valgrind."""
import glob
import re
import shutil
import subprocess
import tempfile
from lacheck import *

tmp = tempfile.mkdtemp(prefix="la-supp-")


def supp(name, text):
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def suppressed(err):
    m = re.search(r"suppressed: ([\d,]+) bytes in ([\d,]+) blocks", err)
    return (num(m[1]), num(m[2])) if m else None


def with_supp(text, name="s.supp", extra=(), target="leak_basic"):
    p = supp(name, text)
    return run([f"--suppressions={p}", "--show-leak-kinds=all"] + list(extra) + [prog(target)])


def entry(name, *lines):
    return "{\n   %s\n   Memcheck:Leak\n%s}\n" % (name, "".join("   %s\n" % l for l in lines))


# valgrind format: exact frames, globs, ..., obj:, src:
cases = [
    ("exact", ["fun:malloc", "fun:make_leak", "fun:lose_it", "fun:main"], True),
    ("prefix", ["fun:malloc", "fun:make_leak"], True),
    ("glob*", ["fun:*alloc", "fun:make_*", "fun:lose_it"], True),
    ("glob?", ["fun:malloc", "fun:make_?eak"], True),
    ("dots", ["fun:malloc", "...", "fun:lose_it"], True),
    ("dots-first", ["...", "fun:make_leak"], True),
    ("obj", ["fun:malloc", "obj:*/leak_basic", "fun:lose_it"], True),
    ("src", ["fun:malloc", "src:leak_basic.c", "fun:lose_it"], True),
    ("comment-kinds", ["match-leak-kinds: all", "fun:malloc", "fun:make_leak"], True),
    # not matching
    ("no-alloc-frame", ["fun:make_leak", "fun:lose_it"], False),
    ("wrong-alloc", ["fun:_Znwm", "fun:make_leak"], False),
    ("wrong-order", ["fun:malloc", "fun:lose_it", "fun:make_leak"], False),
    ("other-fn", ["fun:malloc", "fun:make_leakX"], False),
    ("obj-other", ["fun:malloc", "obj:/usr/lib/libnothing.so"], False),
    ("kinds-none", ["match-leak-kinds: none", "fun:malloc", "fun:make_leak"], False),
]
for name, lines, should in cases:
    rc, out, err = with_supp("# comment\n\n" + entry(name, *lines))
    ml = find(records(err), "make_leak")
    if should:
        check(not ml and suppressed(err) == (300, 3) and f"1 {name}" not in err.split("Unused")[-1]
              and re.search(r"\d+ %s \(.*s\.supp:\d+\) suppressed: 300 bytes in 3 blocks" % re.escape(name), err),
              f"valgrind entry '{name}' suppresses make_leak (listed as used)", err)
    else:
        check(len(ml) == 3 and suppressed(err) == (0, 0) and re.search(r"Unused suppressions:\n   %s \(" % re.escape(name), err),
              f"valgrind entry '{name}' does not match (listed as unused)", err)

# entries for other tools or error kinds are accepted and ignored
rc, out, err = with_supp("{\n   cond\n   Memcheck:Cond\n   fun:foo\n}\n{\n   hg\n   Helgrind:Race\n   fun:*\n}\n"
                         + entry("real", "fun:malloc", "fun:make_leak"))
check(rc == 3 and suppressed(err) == (300, 3) and "cond" not in err.split("LEAK SUMMARY")[-1],
      "non-leak entries are skipped", err)

# match-leak-kinds against explicit kinds: a real report with its kinds rewritten
rawdir = os.path.join(tmp, "raw")
os.mkdir(rawdir)
subprocess.run([prog("leak_basic")], env=dict(os.environ, LD_PRELOAD=os.environ["AGENT"], MALLOC_PERTURB_="0",
               LEAKAGENT_OPTIONS=f"output={rawdir}/r.%p.raw"))
raw = glob.glob(rawdir + "/r.*.raw")[0]
for kind, letter in (("definite", "D"), ("reachable", "R")):
    text = re.sub(r"^r [DIPRU] ", f"r {letter} ", open(raw).read(), flags=re.M)
    with open(os.path.join(tmp, f"{kind}.raw"), "w") as f:
        f.write(text)
dsupp = supp("definite.supp", entry("only-definite", "match-leak-kinds: definite", "fun:malloc", "fun:make_leak"))
rc, out, err = run(["report", f"--suppressions={dsupp}", "--show-leak-kinds=all", os.path.join(tmp, "definite.raw")])
check(suppressed(err) == (300, 3), "match-leak-kinds: definite matches definite records", err)
rc, out, err = run(["report", f"--suppressions={dsupp}", "--show-leak-kinds=all", os.path.join(tmp, "reachable.raw")])
check(suppressed(err) == (0, 0) and len(find(records(err), "make_leak")) == 3 and records(err)[0]["kind"] == "still reachable",
      "match-leak-kinds: definite does not match reachable records", err)
rsupp = supp("multi.supp", entry("reach-poss", "match-leak-kinds: reachable,possible", "fun:malloc", "fun:make_leak"))
rc, out, err = run(["report", f"--suppressions={rsupp}", "--show-leak-kinds=all", os.path.join(tmp, "reachable.raw")])
check(suppressed(err) == (300, 3), "match-leak-kinds: reachable,possible matches reachable", err)

# LeakSanitizer leak: lines
lsan = [("leak:make_leak", True), ("leak:^make_", True), ("leak:_leak$", True), ("leak:lose*it", True),
        ("leak:leak_basic.c", True),   # the source file: every record of the program
        ("leak:^leak_basic", False),   # anchored: the module path starts with '/'
        ("leak:make_leak_not", False), ("leak:^ake_leak", False)]
for line, should in lsan:
    rc, out, err = with_supp("# lsan\n" + line + "\n", name="lsan.supp")
    ml = find(records(err), "make_leak")
    if should:
        check(not ml and suppressed(err)[0] >= 300, f"LSan '{line}' suppresses make_leak", err)
    else:
        check(len(ml) == 3 and suppressed(err) == (0, 0) and "Unused suppressions:" in err,
              f"LSan '{line}' does not match (listed as unused)", err)

# a suppression file valgrind generated, used as it is
vg_log = os.path.join(tmp, "vg.log")
subprocess.run(["valgrind", "--leak-check=full", "--show-leak-kinds=all", "--gen-suppressions=all",
                f"--log-file={vg_log}", prog("leak_basic")], capture_output=True, timeout=300)
vg_supps = "".join(re.findall(r"^\{\n(?:.*\n)*?\}\n", open(vg_log).read(), flags=re.M))
vg_supps = re.sub(r"^(?!\{|\}|   )(.*)$", "", vg_supps, flags=re.M)
check(vg_supps.count("{") >= 3, "valgrind generated suppressions", open(vg_log).read()[-2000:])
rc, out, err = with_supp(vg_supps, name="valgrind-generated.supp")
check(not find(records(err), "make_leak") and not find(records(err), "indirect"),
      "valgrind's own generated suppressions suppress the same leaks here", err)

# --gen-suppressions: printed after each record; read back by leakagent and valgrind
rc, out, err = run(["--gen-suppressions", "--show-leak-kinds=all", prog("leak_basic")])
blocks = re.findall(r"^\{\n   <insert_a_suppression_name_here>\n(?:   .*\n)*?\}\n", err, flags=re.M)
check(len(blocks) == len(records(err)) and all("Memcheck:Leak" in b and "   fun:malloc\n" in b for b in blocks),
      "--gen-suppressions prints one entry per record", err)
gen = supp("gen.supp", "".join(blocks))
rc, out, err = run([f"--suppressions={gen}", "--show-leak-kinds=all", prog("leak_basic")])
check(not records(err) and suppressed(err)[1] >= 5, "generated suppressions suppress every record", err)
p = subprocess.run(["valgrind", "--leak-check=full", "--show-leak-kinds=all", f"--suppressions={gen}",
                    prog("leak_basic")], capture_output=True, text=True, timeout=300)
check(p.returncode == 3 and "make_leak" not in p.stderr and re.search(r"suppressed: 300 bytes in 3 blocks|suppressed: [\d,]+ bytes",
      p.stderr), "valgrind accepts the generated file and suppresses make_leak with it", p.stderr[-3000:])

# a bad suppression file: one error naming the file and line, exit 2
bad = supp("bad.supp", "{\n   x\n   Memcheck:Leak\n   fun:malloc\n   bogus line\n}\n")
rc, out, err = run([f"--suppressions={bad}", prog("leak_basic")])
check(rc == 2 and re.search(r"leakagent: error: .*bad\.supp: line 5: ", err), "bad .supp: exit 2, file and line", err)
bad = supp("bad2.supp", "{\n   x\n   Memcheck:Leak\n   fun:malloc\n")
rc, out, err = run([f"--suppressions={bad}", prog("leak_basic")])
check(rc == 2 and "not closed" in err, "unclosed entry: exit 2", err)
rc, out, err = run(["--suppressions=/nonexistent.supp", prog("leak_basic")])
check(rc == 2 and "/nonexistent.supp" in err, "missing suppression file: exit 2", err)

shutil.rmtree(tmp)
done()
