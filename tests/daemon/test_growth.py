#!/usr/bin/env python3
"""test_growth.py: a delta report's growth entries go through what records go
through and reach every format that can hold them: --leak-resolution merges
them, a suppression (valgrind or LSan) leaves one out and is counted as used,
--gen-suppressions writes an entry that hides it, SARIF gives each stack that
grew a leak/growth result, folded output a [growth] line, and valgrind XML
stays as memcheck writes it. stepd grows two stacks that agree in their first
frame only (cache_keep via keep_from_a, via keep_from_b) and one lost stack."""
import json
import os
import re
import xml.etree.ElementTree as ET

import jsonschema
from ladaemon import Daemon, check, done, json_report, prog, run, schema_valid, temp_dir

KEEP, LOST = "cache_keep", "leak_lost"
A = ("reachable", KEEP, "keep_from_a")
B = ("reachable", KEEP, "keep_from_b")
L = ("definite", LOST, "serve")

d = Daemon([prog("stepd")])
rc, _, err = run(["snapshot", "--delta", str(d.pid)])  # 1: the mark
check(rc == 0, f"delta #1 sets the mark (rc {rc})", err)
for c in ["leak 1 50", "keep-a 2 100", "keep-b 3 100"]:
    check(d.cmd(c) == "ok", c)
rc, _, err = run(["snapshot", "--delta", str(d.pid)])  # 2: all three grew
check(rc == 0, f"delta #2 (rc {rc})", err)
for c in ["drop-old 2", "keep-b 1 100"]:  # keep_from_a's two blocks are the oldest
    check(d.cmd(c) == "ok", c)
rc, _, err = run(["snapshot", "--delta", str(d.pid)])  # 3: a shrank, b grew
check(rc == 0, f"delta #3 (rc {rc})", err)
rc, _, err = run(["snapshot", str(d.pid)])  # 4: a full report, no growth
check(rc == 0, f"full #4 (rc {rc})", err)
check(d.finish() == 0, "stepd exits 0")
raw = {n: os.path.join(d.dir, f"stepd.{d.pid}.{n}.raw") for n in range(1, 6)}
check(all(os.path.exists(raw[n]) for n in range(1, 5)), f"reports 1-4: {d.files()}")

tmp = temp_dir("la-growth-")


def supp(name, text):
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        f.write(text)
    return p


SUPP_B = supp("b.supp", "{\n   cache-b\n   Memcheck:Leak\n   match-leak-kinds: reachable\n"
              "   fun:malloc\n   fun:cache_keep\n   fun:keep_from_b\n}\n")
SUPP_A = supp("a.supp", "{\n   cache-a\n   Memcheck:Leak\n   fun:malloc\n   fun:cache_keep\n"
              "   fun:keep_from_a\n}\n")
LSAN_B = supp("b.lsan", "leak:keep_from_b\n")


def growth(args):
    """(doc, process, {(kind, fn0, fn1): (bytes, blocks)} of stepd's own growth entries, count)"""
    rc, doc, err = json_report(["report"] + args)
    check(rc == 0 and doc is not None and schema_valid(doc), f"json {args[:-1]}: valid (rc {rc})", err)
    p = doc["processes"][0] if doc else {"growth": []}
    got = {}
    for g in p["growth"]:
        fns = [f["function"] for f in g["stack"]] + [None, None]
        if fns[0] in (KEEP, LOST):
            got[(g["kind"], fns[0], fns[1])] = (g["bytes"], g["blocks"])
    return doc, p, got


def text(args):
    rc, _, err = run(["report"] + args)
    check(rc == 0, f"text {args[:-1]}: exits 0 (rc {rc})", err)
    return err


def head(n, of, bytes_, blocks, kind, fn1):
    """a text growth entry's first lines: its head, cache_keep or leak_lost, then fn1"""
    return re.compile(r"^==\d+== \+%s bytes in \+%d blocks \(malloc, now %s\) in growth record %d of %d\n"
                      r"==\d+==    at 0x[0-9A-F]+: \w+ \(stepd\.c:\d+\)\n"
                      r"==\d+==    by 0x[0-9A-F]+: %s \(" % (bytes_, blocks, kind, n, of, fn1), re.M)


# ---- the growth as read, every stack apart ----
doc, p, got = growth([raw[2]])
check(got == {B: (300, 3), A: (200, 2), L: (50, 1)} and p["growth_suppressed"] == 0,
      f"#2 growth: keep_from_b 300/3, keep_from_a 200/2, leak_lost 50/1: {got}", str(p["growth"])[:800])

# ---- --leak-resolution merges growth entries as it merges records ----
_, p, got = growth(["--leak-resolution=1", raw[2]])
check(got == {B: (500, 5), L: (50, 1)},
      f"--leak-resolution=1: one cache_keep entry of 500/5 with keep_from_b's (the bigger) stack: {got}",
      str(p["growth"])[:800])
_, p, got = growth(["--leak-resolution=2", raw[2]])
check(got == {B: (300, 3), A: (200, 2), L: (50, 1)}, f"--leak-resolution=2: the second frame differs: {got}")
err = text(["--leak-resolution=1", raw[2]])
check(head(1, 2, 500, 5, "still reachable", "keep_from_b").search(err), "text: the merged entry, record 1 of 2",
      err)
_, p, got = growth([raw[3]])
check(got == {A: (-200, -2), B: (100, 1)}, f"#3 growth: keep_from_a shrank, keep_from_b grew: {got}")
_, p, got = growth(["--leak-resolution=1", raw[3]])
check(got == {A: (-100, -1)}, f"#3 at resolution 1: -200 and +100 net -100, keep_from_a's stack: {got}")
err = text(["--leak-resolution=1", raw[3]])
check("==    no stack grew\n" in err and re.search(r"==    1 stack shrank by 100 bytes in all\n", err),
      "text #3 at resolution 1: nothing grew, one stack shrank by 100", err)

# ---- suppressions: the same matching as records, one growth entry left out ----
doc, p, got = growth([f"--suppressions={SUPP_B}", raw[2]])
s = doc["suppressions"][0] if doc and doc["suppressions"] else {}
check(got == {A: (200, 2), L: (50, 1)} and p["growth_suppressed"] == 1,
      f"cache-b leaves out keep_from_b's growth entry only: {got}", str(p["growth"])[:800])
check((s.get("used"), s.get("growth"), s.get("bytes"), s.get("blocks")) == (2, 1, 300, 3),
      f"cache-b used twice: its record (300/3) and its growth entry: {s}")
err = text([f"--suppressions={SUPP_B}", raw[2]])
check(head(1, 2, 200, 2, "still reachable", "keep_from_a").search(err)
      and head(2, 2, 50, 1, "definitely lost", "serve").search(err)
      and "keep_from_b" not in err and re.search(r"==    1 growth entry suppressed\n", err),
      "text: two growth records left, one entry suppressed", err)
check(re.search(r"^   2 cache-b \(.*b\.supp:2\) suppressed: 300 bytes in 3 blocks and 1 growth entry$", err, re.M),
      "text: cache-b listed as used, with its growth entry", err)
_, p, got = growth([f"--suppressions={LSAN_B}", raw[2]])
check(got == {A: (200, 2), L: (50, 1)} and p["growth_suppressed"] == 1,
      f"LSan leak:keep_from_b leaves out the same entry: {got}")
# an entry that hides only growth (keep_from_a has no new blocks in #3) is used
doc, p, got = growth([f"--suppressions={SUPP_A}", raw[3]])
s = doc["suppressions"][0] if doc and doc["suppressions"] else {}
check(got == {B: (100, 1)} and (s.get("used"), s.get("growth"), s.get("bytes")) == (1, 1, 0),
      f"cache-a hides only keep_from_a's shrinking growth entry in #3: {got} {s}")
err = text([f"--suppressions={SUPP_A}", raw[3]])
check("Unused suppressions" not in err and "shrank" not in err
      and re.search(r"^   1 cache-a \(.*\) suppressed: 0 bytes in 0 blocks and 1 growth entry$", err, re.M),
      "text #3: cache-a used, the shrinking stack gone", err)
# suppressions see merged entries, as they see merged records: at resolution 1
# the cache_keep entry has keep_from_b's stack, which cache-a does not match
_, p, got = growth(["--leak-resolution=1", f"--suppressions={SUPP_A}", raw[2]])
check(got == {B: (500, 5), L: (50, 1)} and p["growth_suppressed"] == 0,
      f"resolution 1 then cache-a: the merged entry is kept: {got}")

# ---- --gen-suppressions: an entry after each growth record, which hides it ----
err = text(["--gen-suppressions=yes", raw[2]])
gen = [e for e in re.findall(r"^\{\n.*?^\}\n", err, re.M | re.S) if "fun:keep_from_a" in e]
check(len(gen) == 1 and "match-leak-kinds: reachable" in gen[0], "one generated entry for keep_from_a's growth",
      err)
_, p, got = growth([f"--suppressions={supp('gen.supp', gen[0] if gen else '')}", raw[2]])
check(got == {B: (300, 3), L: (50, 1)} and p["growth_suppressed"] == 1,
      f"the generated entry suppresses keep_from_a's growth: {got}")

# ---- SARIF: a leak/growth result per stack that grew ----
SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "schemas",
                      "sarif-schema-2.1.0.json")
sschema = json.load(open(SCHEMA))


def sarif(args):
    rc, _, err = run(["report", "--format=sarif"] + args)
    doc = json.loads(err) if rc == 0 else {"runs": [{"results": [], "tool": {"driver": {"rules": []}}}]}
    errors = list(jsonschema.Draft4Validator(sschema).iter_errors(doc))
    check(rc == 0 and not errors, f"sarif {args[:-1]}: valid SARIF 2.1.0 (rc {rc})",
          "\n".join(str(e)[:400] for e in errors[:3]) or err)
    r = doc["runs"][0]
    rules = [x["id"] for x in r["tool"]["driver"]["rules"]]
    grow = {}
    for x in r["results"]:
        if x["ruleId"] != "leak/growth":
            continue
        fns = [f["location"]["logicalLocations"][0]["fullyQualifiedName"]
               for f in x["stacks"][0]["frames"]] + [None, None]
        grow[(x["properties"]["kind"], fns[0], fns[1])] = (x["properties"]["grownBytes"],
                                                           x["properties"]["grownBlocks"], x)
    return r, rules, grow


r, rules, grow = sarif([raw[2]])
rule = r["tool"]["driver"]["rules"][rules.index("leak/growth")] if "leak/growth" in rules else {}
check(rule.get("defaultConfiguration") == {"level": "note"}, "the leak/growth rule, level note", str(rule))
check({k: v[:2] for k, v in grow.items()} == {B: (300, 3), A: (200, 2), L: (50, 1)},
      f"#2: one leak/growth result per stack that grew: { {k: v[:2] for k, v in grow.items()} }")
res = [v[2] for v in grow.values()]
check(all(x["level"] == "note" and rules[x["ruleIndex"]] == "leak/growth"
          and x["properties"]["sinceReport"] == 1 and x["properties"]["report"] == 2 for x in res),
      "growth results: level note, their rule's index, since report #1", str(res)[:1500])
check(all(x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("/stepd.c")
          and x["stacks"][0]["message"]["text"] == "allocation stack" for x in res),
      "growth results are located in stepd.c with their allocation stack", str(res)[:1500])
a = grow.get(A, (0, 0, {}))[2]
check(a and a["message"]["text"] == "Outstanding memory allocated in cache_keep grew by 200 bytes in 2 "
      "blocks since report #1 (malloc, now still reachable).", "the growth message", str(a)[:600])
fps = [x["partialFingerprints"]["leakStack/v1"] for x in r["results"]]
check(len(fps) == len(set(fps)), "every result has its own fingerprint", "\n".join(fps))
_, _, grow = sarif([f"--suppressions={SUPP_B}", raw[2]])
check(set(grow) == {A, L}, f"a suppressed growth entry is no result: {set(grow)}")
_, _, grow = sarif([raw[3]])
check({k: v[:2] for k, v in grow.items()} == {B: (100, 1)}, "#3: a stack that shrank is no result")
r, rules, grow = sarif(["--show-leak-kinds=all", raw[4]])
check(not grow and "leak/growth" in rules and r["results"], "a full report: records only, no growth result")

# ---- folded: [growth] lines after the records ----
def folded(args):
    rc, _, err = run(["report", "--format=folded"] + args)
    lines = err.strip().splitlines()
    parsed = [re.match(r"^(.*) (\d+)$", line) for line in lines]
    check(rc == 0 and all(parsed), f"folded {args[:-1]}: lines parse like flamegraph.pl (rc {rc})", err)
    return {m[1]: int(m[2]) for m in parsed if m}, lines


def ours(lines, prefix):
    """{last two frames: bytes} of the lines that start with prefix and end in stepd's functions"""
    out = {}
    for k, v in lines.items():
        fr = k.split(";")
        if k.startswith(prefix) and fr[-1] in (KEEP, LOST):
            out[tuple(fr[-2:])] = v
    return out


GA, GB, GL = ("keep_from_a", KEEP), ("keep_from_b", KEEP), ("serve", LOST)
lines, order = folded(["--show-leak-kinds=all", raw[2]])
check(ours(lines, "[growth];_start;") == {GB: 300, GA: 200, GL: 50},
      f"#2: a [growth] line per stack, root first: {ours(lines, '[growth];')}", "\n".join(order))
check(ours(lines, "_start;") == {GB: 300, GA: 200, GL: 50}, "#2: the records' lines as before",
      "\n".join(order))
first = [i for i, line in enumerate(order) if line.startswith("[growth];")]
check(first and all(not line.startswith("[growth]") for line in order[:first[0]])
      and all(line.startswith("[growth];") for line in order[first[0]:]), "growth lines come after the records",
      "\n".join(order))
lines, order = folded([raw[3]])
check(ours(lines, "[growth];") == {GB: 100}, f"#3: no line for the stack that shrank: {ours(lines, '[growth];')}",
      "\n".join(order))
lines, order = folded(["--min-bytes=250", raw[2]])
check(ours(lines, "[growth];") == {GB: 300}, "--min-bytes=250: only keep_from_b's growth", "\n".join(order))
lines, order = folded([f"--suppressions={SUPP_B}", raw[2]])
check(ours(lines, "[growth];") == {GA: 200, GL: 50}, "suppressed growth has no line", "\n".join(order))
lines, order = folded(["--leak-resolution=1", raw[2]])
check(ours(lines, "[growth];") == {GB: 500, GL: 50}, "merged growth is one line", "\n".join(order))
lines, order = folded(["--show-leak-kinds=all", raw[4]])
check(order and not any(line.startswith("[growth]") for line in order), "a full report has no growth lines",
      "\n".join(order))
# two reports: the process after [growth]; a stack's lines add up (a: +200 then -200)
lines, order = folded([raw[2], raw[3]])
check(ours(lines, f"[growth];stepd (pid {d.pid});_start;") == {GB: 400, GL: 50},
      "two deltas: [growth];stepd (pid N);..., keep_from_a netted out", "\n".join(order))

# ---- valgrind XML: no element for growth; the document is what memcheck writes ----
rc, _, err = run(["report", "--format=xml", "--show-leak-kinds=all", raw[2]])
root = ET.fromstring(err) if rc == 0 else ET.Element("none")
errors = root.findall("error")
_, p, _ = growth(["--show-leak-kinds=all", raw[2]])
check(root.tag == "valgrindoutput" and len(errors) == len(p["records"])
      and all(e.find("kind").text.startswith("Leak_") for e in errors),
      f"xml: one Leak_ error per record ({len(errors)} of {len(p['records'])}), none for growth", err[:3000])
rc, _, full = run(["report", "--format=xml", "--show-leak-kinds=all", raw[4]])
tags = {e.tag for e in root.iter()}
full_tags = {e.tag for e in ET.fromstring(full).iter()} if rc == 0 else set()
check(tags <= full_tags, f"xml: no element a full report lacks: {sorted(tags - full_tags)}", err[:3000])
done()
