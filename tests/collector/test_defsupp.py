#!/usr/bin/env python3
"""test_defsupp.py: the built-in default suppressions (collector/default.supp).
A program with no leak of its own that dlopens, fails dl calls and runs threads
has no definitely or possibly lost record by default, as under memcheck; the
same records come back with --default-suppressions=no; a leak the program
makes under dlopen (a library constructor calling back into it) stays
reported; the entries used are named in text, json and xml; compare hides the
same records on every side."""
import json
import shutil
from lacheck import *

target = prog("defsupp")
DLFO = "leakagent-ld.so-dl_find_object-segments"
BUILTIN = "default.supp (built in)"


def summary(err, kind):
    m = re.search(kind + r": ([\d,]+) bytes in ([\d,]+) blocks", err)
    return (num(m[1]), num(m[2])) if m else None


def shown(err):
    return [r for r in records(err) if r["kind"] in ("definitely lost", "possibly lost")]


# clean program, defaults on
rc, out, err = run(["run", "--", target, "clean", BINDIR])
check(rc == 0, "clean program runs", err)
check(shown(err) == [], "no definitely or possibly lost record with the defaults", err)
check(summary(err, "definitely lost") == (0, 0) and summary(err, "possibly lost") == (0, 0)
      and summary(err, "indirectly lost") == (0, 0), "summary: nothing lost", err)
supp = summary(err, "suppressed")
check(supp is not None and supp[0] > 0, "the suppressed blocks are counted in the summary", err)
used = re.findall(r"^   (\d+) (\S+) \((.*):(\d+)\) suppressed: ([\d,]+) bytes in ([\d,]+) blocks$",
                  err, re.M)
check(any(u[1] == DLFO and u[2] == BUILTIN for u in used),
      "Used suppressions names the dl_find_object entry and the built-in file", err)
check(sum(num(u[4]) for u in used) == supp[0] and sum(num(u[5]) for u in used) == supp[1],
      "used suppressions add up to the summary's suppressed line", err)
check("Unused suppressions" not in err, "unused built-in entries are not listed", err)

# the same program without them: the glibc records are back
rc, out, err = run(["run", "--default-suppressions=no", "--show-leak-kinds=all", "--",
                    target, "clean", BINDIR])
recs = shown(err)
dlfo = [r for r in recs if "_dl_find_object_update" in r["frames"]]
check(len(dlfo) >= 1 and all(r["kind"] == "possibly lost" for r in dlfo),
      "--default-suppressions=no: the _dl_find_object_update record is possibly lost", err)
# glibc keeps a failed dl call's state for dlerror() in a TLS pointer
state = [r for r in records(err) if "_dlerror_run" in r["frames"][:2]]
check(len(state) == 1 and state[0]["kind"] == "still reachable",
      "--default-suppressions=no: the dlerror state is still reachable, not lost", err)
check(summary(err, "suppressed") == (0, 0) and "Used suppressions" not in err,
      "--default-suppressions=no: nothing suppressed, no list", err)

# a real leak made under dlopen stays
rc, out, err = run(["run", "--", target, "leak", BINDIR])
lost = shown(err)
check(len(lost) == 1 and lost[0]["kind"] == "definitely lost" and lost[0]["bytes"] == 4321
      and lost[0]["frames"][0] == "defsupp_lose" and "dlopen" in lost[0]["frames"],
      "the program's own leak under a library constructor is still reported", err)

# json: the used built-in entries, flagged; a user's file is listed whole
userf = os.path.join(BINDIR, "defsupp-user.supp")
with open(userf, "w") as f:
    f.write("{\n   never_matches\n   Memcheck:Leak\n   fun:malloc\n   fun:no_such_function\n}\n")
rc, out, err = run(["run", "--format=json", f"--suppressions={userf}", "--", target, "clean",
                    BINDIR])
doc = json.loads(err)
check(schema_valid(doc), "json validates against the schema")
names = {(s["name"], s["default"], s["used"] > 0) for s in doc["suppressions"]}
check((DLFO, True, True) in names and ("never_matches", False, False) in names
      and all(s["used"] for s in doc["suppressions"] if s["default"]),
      "json: used built-in entries (default: true) and every user entry", err)
rc, out, err = run(["run", f"--suppressions={userf}", "--", target, "clean", BINDIR])
unused = err.split("Unused suppressions:")[-1] if "Unused suppressions:" in err else ""
check("never_matches" in unused and BUILTIN not in unused,
      "text: only the user's unused entries are listed as unused", err)

# xml: memcheck's suppcounts name the entries used
rc, out, err = run(["run", "--format=xml", "--", target, "clean", BINDIR])
check(f"<name>{DLFO}</name>" in err and "<kind>Leak_PossiblyLost</kind>" not in err,
      "xml: no possibly lost error, the entry named in suppcounts", err)

# bad value
rc, out, err = run(["run", "--default-suppressions=maybe", "--", target])
check(rc == 2 and "--default-suppressions" in err, "a bad value is bad usage", err)

# compare: memcheck reports none of these; neither side shows them by default
if shutil.which("valgrind"):
    rc, out, err = run(["compare", "--with", "valgrind", "--", target, "clean", BINDIR],
                       timeout=300)
    check(rc == 0 and "_dl_find_object_update" not in out,
          "compare: the default suppressions hide the glibc records on every side", out + err)
    rc, out, err = run(["compare", "--with", "valgrind", "--default-suppressions=no", "--",
                        target, "clean", BINDIR], timeout=300)
    check("_dl_find_object_update" in out,
          "compare --default-suppressions=no: the agent's glibc record is compared", out + err)
else:
    print("ok - # SKIP compare: valgrind not installed")

done()
