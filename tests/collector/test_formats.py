#!/usr/bin/env python3
"""test_formats.py: every output format read back by what its consumers use:
json against collector/report-schema.json, valgrind XML parsed like Qt
Creator / ValgrindCI would and compared with real memcheck XML of the same
program, SARIF against the official 2.1.0 schema, folded lines as
flamegraph.pl parses them."""
import json
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import jsonschema
from lacheck import *

tmp = tempfile.mkdtemp(prefix="la-formats-")
ROOT = os.path.dirname(os.path.dirname(SRCDIR))
LEAK_KINDS = {"Leak_DefinitelyLost", "Leak_IndirectlyLost", "Leak_PossiblyLost", "Leak_StillReachable"}
OTHER_KINDS = {"InvalidFree", "MismatchedFree", "InvalidRead", "InvalidWrite", "UninitCondition",
               "UninitValue", "SyscallParam", "ClientCheck", "Overlap", "InvalidJump", "InvalidMemPool",
               "FishyValue"}
FRAME_ORDER = ["ip", "obj", "fn", "dir", "file", "line"]

text_rc, _, text = run(["--show-leak-kinds=all", prog("leak_basic")])
text_recs = records(text)

# ---- json ----
rc, out, err = run(["--format=json", "--show-leak-kinds=all", prog("leak_basic")])
doc = json.loads(err)
schema = json.load(open(os.path.join(ROOT, "collector", "report-schema.json")))
errors = list(jsonschema.Draft4Validator(schema).iter_errors(doc))
check(not errors, "json validates against report-schema.json", "\n".join(str(e) for e in errors[:3]))
check(doc["version"] == 1 and doc["format"] == "leakagent-report", "json has its version field")
recs = doc["processes"][0]["records"]
ml = [r for r in recs if r["stack"] and r["stack"][0]["function"] == "make_leak"]
check(sum(r["bytes"] for r in ml) == 300 and sum(r["blocks"] for r in ml) == 3, "json: make_leak 300/3", err)
check(all(r["kind"] in ("definite", "unclassified") for r in ml), "json: make_leak kind", err)
check(all(r["stack"][0]["file"].endswith("/tests/collector/leak_basic.c") and r["stack"][0]["line"] > 0
          for r in ml), "json: absolute source file and line", err)
check(len(recs) == len(text_recs), "json and text show the same number of records", err)

# ---- valgrind XML ----
def load_memcheck(path):
    """What memcheck-XML consumers require: protocol 4, memcheck, known kinds,
    xwhat with integer leakedbytes/leakedblocks, frames with ip and children in
    order, dir only together with file and line."""
    root = ET.parse(path).getroot()
    assert root.tag == "valgrindoutput"
    assert root.find("protocolversion").text == "4", "protocol 4"
    assert root.find("protocoltool").text == "memcheck"
    out = {"top": [], "errors": []}
    for child in root:  # a run of errors (and their suppressions) counts once
        tag = "errors" if child.tag in ("error", "suppression") else child.tag
        if not out["top"] or out["top"][-1] != tag or tag != "errors":
            out["top"].append(tag)
    out["tags"] = [c.tag for c in root]
    for e in root.findall("error"):
        kind = e.find("kind").text
        assert kind in LEAK_KINDS | OTHER_KINDS, f"unknown kind {kind}"
        rec = {"kind": kind, "children": [c.tag for c in e], "stacks": []}
        if kind in LEAK_KINDS:
            xw = e.find("xwhat")
            rec["text"] = xw.find("text").text
            rec["bytes"] = int(xw.find("leakedbytes").text)
            rec["blocks"] = int(xw.find("leakedblocks").text)
        for st in e.findall("stack"):
            frames = []
            for fr in st.findall("frame"):
                tags = [c.tag for c in fr]
                assert tags[0] == "ip" and int(fr.find("ip").text, 16) >= 0
                assert tags == [t for t in FRAME_ORDER if t in tags], f"frame order {tags}"
                if fr.find("dir") is not None:
                    assert fr.find("file") is not None and fr.find("line") is not None
                obj = fr.findtext("obj") or ""
                if "vgpreload" in obj:  # valgrind's allocator frame: not the program's
                    continue
                frames.append((fr.findtext("fn"), fr.findtext("file"), int(fr.findtext("line") or 0)))
            rec["stacks"].append(frames)
        sup = e.find("suppression")
        if sup is not None:
            rec["supp"] = sup.find("rawtext").text
        out["errors"].append(rec)
    return out

ours_path = os.path.join(tmp, "ours.xml")
rc, out, err = run(["--format=xml", f"--output={ours_path}", "--show-leak-kinds=all", "--gen-suppressions",
                    prog("leak_basic")])
try:
    ours = load_memcheck(ours_path)
    check(True, "our XML parses as memcheck protocol 4")
except Exception as e:  # noqa
    ours = None
    check(False, f"our XML parses as memcheck protocol 4: {e}", open(ours_path).read())

vg_path = os.path.join(tmp, "vg.xml")
subprocess.run(["valgrind", "--leak-check=full", "--show-leak-kinds=all", "--gen-suppressions=all",
                "--xml=yes", f"--xml-file={vg_path}", prog("leak_basic")],
               capture_output=True, timeout=300, env=dict(os.environ, MALLOC_PERTURB_="0"))
vg = load_memcheck(vg_path)
check(True, "valgrind's XML loads with the same parser")

if ours:
    check(ours["top"] == vg["top"], "same top-level element sequence as memcheck",
          f"ours {ours['top']}\nvalgrind {vg['top']}")
    pairs = lambda d: [t for t in d["tags"] if t in ("error", "suppression")]
    check(pairs(ours) == ["error", "suppression"] * (len(pairs(ours)) // 2) and
          pairs(vg) == ["error", "suppression"] * (len(pairs(vg)) // 2),
          "each error followed by its suppression at the top level, as memcheck does")
    ours_leaks = [e for e in ours["errors"] if e["kind"] in LEAK_KINDS]
    vg_leaks = [e for e in vg["errors"] if e["kind"] in LEAK_KINDS]
    check(all(e["children"] == ["unique", "tid", "kind", "xwhat", "stack", "suppression"] for e in ours_leaks)
          and all(e["children"] == ["unique", "tid", "kind", "xwhat", "stack", "suppression"] for e in vg_leaks),
          "leak error elements in memcheck's order", str(ours_leaks[:1]) + str(vg_leaks[:1]))

    def site(leaks, fn):
        ls = [e for e in leaks if e["stacks"][0] and e["stacks"][0][0][0] == fn]
        return (sum(e["bytes"] for e in ls), sum(e["blocks"] for e in ls),
                {tuple(e["stacks"][0][:3]) for e in ls}, {e["kind"] for e in ls})
    ob, oblk, ostacks, okinds = site(ours_leaks, "make_leak")
    vb, vblk, vstacks, vkinds = site(vg_leaks, "make_leak")
    check((ob, oblk) == (vb, vblk) == (300, 3), "make_leak: 300 bytes in 3 blocks in both", f"{ob} {oblk} / {vb} {vblk}")
    check(ostacks == vstacks, "make_leak: same fn/file/line frames as memcheck", f"ours {ostacks}\nvalgrind {vstacks}")
    check(vkinds == {"Leak_DefinitelyLost"} and okinds <= {"Leak_DefinitelyLost", "Leak_PossiblyLost"},
          "kinds: valgrind definite, ours definite (or possible while unclassified)", f"{okinds} {vkinds}")
    check(all("Memcheck:Leak" in e.get("supp", "") and "fun:make_leak" in e["supp"]
              for e in ours_leaks if e["stacks"][0] and e["stacks"][0][0][0] == "make_leak"),
          "gen-suppressions rawtext in the XML", str(ours_leaks[:1]))

# mismatched free as MismatchedFree with two stacks and errorcounts
mm_path = os.path.join(tmp, "mm.xml")
run(["--format=xml", f"--output={mm_path}", prog("mismatch")])
mm = load_memcheck(mm_path)
mf = [e for e in mm["errors"] if e["kind"] == "MismatchedFree"]
check(len(mf) == 1 and len(mf[0]["stacks"]) == 2 and mf[0]["stacks"][0][0][0] == "wrong_free",
      "MismatchedFree with the free and allocation stacks", open(mm_path).read()[:3000])
check(mm["top"].index("errors") < mm["top"].index("status", mm["top"].index("status") + 1),
      "run-time errors come before the FINISHED status", str(mm["top"]))

# ---- SARIF ----
rc, out, err = run(["--format=sarif", "--show-leak-kinds=all", prog("leak_basic")])
sarif = json.loads(err)
# the OASIS schema lives in the shared folder beside the repository
sschema = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                      "shared", "schemas", "sarif-schema-2.1.0.json")))
errors = list(jsonschema.Draft4Validator(sschema).iter_errors(sarif))
check(not errors, "SARIF validates against the 2.1.0 schema", "\n".join(str(e)[:500] for e in errors[:3]))
res = sarif["runs"][0]["results"]
check(len(res) == len(text_recs), "one SARIF result per record shown", err)
rules = [r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]]
check(all(rules[r["ruleIndex"]] == r["ruleId"] for r in res), "ruleIndex matches ruleId")
mk = [r for r in res if "make_leak" in r["message"]["text"]]
check(mk and all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("leak_basic.c")
                 and r["locations"][0]["physicalLocation"]["region"]["startLine"] > 0 for r in mk),
      "SARIF locates the leak in leak_basic.c", err[:2000])
check(all(r["message"]["text"] and r["partialFingerprints"] for r in res), "messages and fingerprints")

# ---- folded ----
rc, out, err = run(["--format=folded", "--show-leak-kinds=all", prog("leak_basic")])
lines = err.strip().splitlines()
parsed = [re.match(r"^(.*)\s+(\d+(?:\.\d*)?)$", l) for l in lines]
check(lines and all(parsed), "folded lines parse like flamegraph.pl", err)
folded = {m[1]: int(m[2]) for m in parsed if m}
mk = [v for k, v in folded.items() if k.endswith(";lose_it;make_leak")]
check(mk == [300], "folded: root first, make_leak 300 bytes", err)
check(sum(folded.values()) == sum(r["bytes"] for r in doc["processes"][0]["records"]),
      "folded bytes add up to the records' bytes", err)

shutil.rmtree(tmp)
done()
