#!/usr/bin/env python3
"""test_badinput.py: damaged and unusual raw reports: truncated (with and
without a cut line), a corrupt line, a newer version, not a report, empty,
unreadable, a wrong end count, an unknown tag (accepted), an invalid-free
finding. Each bad one: one error naming the file and the problem, exit 2,
whatever could be read still printed, and the file never modified."""
import glob
import hashlib
import re
import shutil
import subprocess
import tempfile
from lacheck import *

tmp = tempfile.mkdtemp(prefix="la-badinput-")
subprocess.run([prog("leak_basic")], env=dict(os.environ, LD_PRELOAD=os.environ["AGENT"], MALLOC_PERTURB_="0",
               LEAKAGENT_OPTIONS=f"output={tmp}/good.raw"), capture_output=True)
good = os.path.join(tmp, "good.raw")
GOOD = open(good).read().splitlines(keepends=True)


def write(name, lines, fix_end=True):
    body = [l for l in lines if not l.startswith("e ")]
    if fix_end:
        body.append("e %x\n" % len(body))
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        f.write("".join(body))
    return p


def digest(p):
    return hashlib.sha256(open(p, "rb").read()).hexdigest() if os.path.isfile(p) else None


def report(path, *extra):
    before = digest(path)
    rc, out, err = run(["report", "--show-leak-kinds=all"] + list(extra) + [path])
    check(digest(path) == before, f"{os.path.basename(path)}: the report file is not modified")
    return rc, err


def one_error(err, path, what):
    errs = [l for l in err.splitlines() if l.startswith("leakagent: error:")]
    return len(errs) == 1 and path in errs[0] and re.search(what, errs[0])


rc, err = report(good)
check(rc == 0 and len(find(records(err), "make_leak")) == 3, "the good report reads cleanly", err)

# truncated: no end line; the records before the cut are still printed
first_r = next(i for i, l in enumerate(GOOD) if l.startswith("r "))
p = write("trunc.raw", GOOD[:first_r + 3], fix_end=False)
rc, err = report(p)
check(rc == 2 and one_error(err, p, r"truncated: no end line"), "truncated: one error, exit 2", err)
check(len(records(err)) >= 1 and "Report incomplete" in err, "truncated: partial report printed", err)

# truncated in the middle of a line
p = os.path.join(tmp, "cut.raw")
with open(p, "w") as f:
    f.write("".join(GOOD)[: len("".join(GOOD[:first_r + 1])) + 5])
rc, err = report(p)
check(rc == 2 and one_error(err, p, r"cut short"), "cut mid-line: one error, exit 2", err)
check(len(records(err)) >= 1, "cut mid-line: the records before it printed", err)

# a corrupt line in the middle: named by number; the other records still read
lines = list(GOOD)
lines[first_r] = re.sub(r"^(r \S+ \S+ \S+ \S+) \S+", r"\1 zz", lines[first_r])
p = write("corrupt.raw", lines)
rc, err = report(p)
check(rc == 2 and one_error(err, p, r"line %d: field 5: expected a hexadecimal number, found 'zz'" % (first_r + 1)),
      "corrupt field: one error with file and line, exit 2", err)
check(len(records(err)) == sum(1 for l in GOOD if l.startswith("r ")) - 1, "corrupt field: other records printed", err)

# several problems: still one message, with a count
lines = list(GOOD)
lines[first_r] = "r X m - 1 1 1 0 0\n"
lines[first_r + 2] = "r D m - 1 zz 1 0 0\n"
p = write("multi.raw", lines)
rc, err = report(p)
check(rc == 2 and one_error(err, p, r"line %d: .*\(and \d+ more problems?\)" % (first_r + 1)),
      "several bad lines: one message counting the rest", err)

# a stack used before its s line
lines = [l for l in GOOD if not l.startswith("s ")]
p = write("nostack.raw", lines)
rc, err = report(p)
check(rc == 2 and one_error(err, p, r"stack \w+ is used before its 's' line"), "undefined stack: exit 2", err)

# a newer version: refused, nothing reported from it
p = write("newer.raw", ["LEAKAGENT-RAW 2\n"] + GOOD[1:])
rc, err = report(p)
check(rc == 2 and one_error(err, p, r"version 2 is newer than this leakagent reads \(1\)") and "hint:" in err
      and not records(err), "newer version refused with a hint, exit 2", err)

# unknown tags and lines are skipped: a newer agent's additions
lines = list(GOOD)
lines.insert(3, "Z some future data\n")
lines.insert(5, "zz longer-tag 1 2\n")
p = write("unknown.raw", lines)
rc, err = report(p)
check(rc == 0 and len(find(records(err), "make_leak")) == 3 and "error" not in err, "unknown tags skipped", err)

# end line that does not count the lines
lines = list(GOOD)
p = os.path.join(tmp, "badend.raw")
with open(p, "w") as f:
    f.write("".join(l for l in lines if not l.startswith("e ")) + "e 3\n")
rc, err = report(p)
check(rc == 2 and one_error(err, p, r"end line counts 3 lines"), "wrong end count: exit 2", err)

# not a report, empty, a directory, a missing file
for name, content, what in (("text.raw", "hello world\n", r"not a leakagent raw report"),
                            ("empty.raw", "", r"empty file")):
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        f.write(content)
    rc, err = report(p)
    check(rc == 2 and one_error(err, p, what), f"{name}: one error, exit 2", err)
rc, out, err = run(["report", tmp])
check(rc == 2 and one_error(err, tmp, r"cannot read|cannot open"), "a directory: one error, exit 2", err)
rc, out, err = run(["report", os.path.join(tmp, "missing.raw")])
check(rc == 2 and one_error(err, "missing.raw", r"cannot open: No such file"), "missing file: exit 2", err)

# a bad file among good ones: the good one is still reported
rc, out, err = run(["report", good, os.path.join(tmp, "text.raw")])
check(rc == 2 and len(find(records(err), "make_leak")) == 3, "bad file among good: good one printed, exit 2", err)

# --output must not overwrite a report
before = digest(good)
rc, out, err = run(["report", f"--output={good}", good])
check(rc == 2 and digest(good) == before, "--output naming an input is refused", err)

# an invalid free (hand-added: glibc aborts on a real one before any report)
lines = list(GOOD)
stack_id = next(l.split()[1] for l in GOOD if l.startswith("s "))
lines.insert(first_r, f"f invalid - m 0 {stack_id} 1234 0 2\n")
lines.insert(first_r, f"f mismatch a m {stack_id} {stack_id} 5678 10 1\n")
p = write("findings.raw", lines)
rc, err = report(p)
check(rc == 0 and re.search(r"Invalid free\(\) / delete / delete\[\] / realloc\(\) \(2 times\)\n.*at 0x", err)
      and "Address 0x1234 is not stack'd" in err, "invalid free finding printed with its stack", err)
check(re.search(r"Mismatched free\(\) / delete / delete \[\] \(new\[\] block freed with free\)", err)
      and "Address 0x5678 is 0 bytes inside a block of size 16 alloc'd" in err, "mismatch finding from the raw", err)
rc, out, err = run(["report", "--error-exitcode=9", "--show-leak-kinds=none", "--errors-for-leak-kinds=none", p])
check(rc == 9, "findings count for --error-exitcode", err)

shutil.rmtree(tmp)
done()
