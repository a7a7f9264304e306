#!/usr/bin/env python3
"""test_valgrind.py: memcheck's XML of real runs becomes the same leak-set
model as the agent's reports (leakagent report --from-valgrind-xml): every
kind with its bytes and blocks, direct and indirect bytes split, allocator
frames removed, threads, a shared library and C++ families; protocols 5 and
6 and unknown elements accepted."""
import re
from auditlib import *

xml = valgrind_xml([prog("audit-kinds")], "kinds.xml")
rc, doc, err = report_json([f"--from-valgrind-xml={xml}"])
check(rc == 0 and doc is not None, "report --from-valgrind-xml reads memcheck's XML", err)
check(schema_valid(doc), "its JSON report validates against report-schema.json", err)
check(total(records(doc, "make_leak"), "definite") == (300, 3), "make_leak: definite 300 in 3", err)
lp = records(doc, "lose_parent")
check(len(lp) == 1 and lp[0]["kind"] == "definite" and lp[0]["bytes"] == 16
      and lp[0]["indirect_bytes"] == 64,
      "lose_parent: definite 16 bytes, 64 indirect split out of memcheck's 80", err)
check(total(records(doc, "make_child"), "indirect") == (64, 1), "make_child: indirect 64", err)
check(total(records(doc, "keep_interior"), "possible") == (333, 1), "keep_interior: possible", err)
check(total(records(doc, "keep_reachable"), "reachable") == (222, 1), "keep_reachable: reachable",
      err)
check(total(records(doc, "thread_leak"), "definite") == (48, 1), "a thread's leak", err)
check(total(records(doc, "audit_lib_leak"), "definite") == (40, 1), "a shared library's leak", err)
allrecs = records(doc)
check(allrecs and not [r for r in allrecs if r["frames"][0] in ("malloc", "calloc")],
      "no record starts at an allocator frame", err)
check(all(r["family"] == "malloc" for r in allrecs), "C allocations: family malloc", err)
mk = records(doc, "make_leak")
check(mk and mk[0]["frames"][:3] == ["make_leak", "lose_three", "main"]
      and mk[0]["stack"][0]["file"].endswith("/kinds.c") and mk[0]["stack"][0]["line"] > 0,
      "frames keep function, file and line", err)
check(doc and doc["processes"][0]["pid"] > 0, "pid read from the XML", err)

# C++: operator new and new[] are removed and name the family; the vector's
# inlined allocation chain is kept as inlined frames of lose_vector
xml = valgrind_xml([prog("audit-leakxx")], "leakxx.xml")
rc, doc, err = report_json([f"--from-valgrind-xml={xml}"])
node = records(doc, "lose_node()")
check(len(node) == 1 and node[0]["family"] == "new" and node[0]["bytes"] == 32,
      "C++: new Node, family new, 32 bytes", err)
arr = records(doc, "lose_array()")
check(len(arr) == 1 and arr[0]["family"] == "new[]" and arr[0]["bytes"] == 100,
      "C++: new int[25], family new[], 100 bytes", err)
vec = [r for r in records(doc) if r["stack"][0]["inlined"]]
check(vec and any(f["function"] == "lose_vector()" and not f["inlined"] for f in vec[0]["stack"]),
      "C++: an inline chain ends in the function it was inlined into", err)

# protocol 6 (newer valgrind) adds elements a protocol-4 reader never saw
text = open(valgrind_xml([prog("audit-kinds")], "kinds4.xml")).read()
v6 = text.replace("<protocolversion>4</protocolversion>", "<protocolversion>6</protocolversion>")
v6 = v6.replace("</valgrindoutput>", "<leak_summary><definitely_lost><bytes>404</bytes>"
                "<in_blocks>6</in_blocks></definitely_lost></leak_summary>\n</valgrindoutput>")
p6 = os.path.join(TMP, "v6.xml")
open(p6, "w").write(v6)
rc, doc6, err = report_json([f"--from-valgrind-xml={p6}"])
check(rc == 0 and total(records(doc6), "definite") == (404, 6),
      "protocol 6 with its new elements: same records", err)
p5 = os.path.join(TMP, "v5.xml")
open(p5, "w").write(text.replace("<protocolversion>4<", "<protocolversion>5<"))
rc, doc5, err = report_json([f"--from-valgrind-xml={p5}"])
check(rc == 0 and total(records(doc5), "definite") == (404, 6), "protocol 5 accepted", err)

# direct recursion repeats a return address too: memcheck prints the same ip,
# function and line once per call, and those are machine frames, not an
# inline chain; recursion through an inlined helper repeats the whole chain
def vframe(ip, fn, line, obj="/t/rec"):
    return (f"<frame><ip>{ip}</ip><obj>{obj}</obj><fn>{fn}</fn><dir>/t</dir>"
            f"<file>rec.c</file><line>{line}</line></frame>")


def verror(n, frames):
    return (f"<error><unique>0x{n:x}</unique><tid>1</tid><kind>Leak_DefinitelyLost</kind>"
            f"<xwhat><text>{n} bytes in 1 blocks are definitely lost</text>"
            f"<leakedbytes>{n}</leakedbytes><leakedblocks>1</leakedblocks></xwhat>"
            f"<stack>{''.join(frames)}</stack></error>\n")


malloc = vframe("0x48417B4", "malloc", 0, "/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so")
rec = verror(21, [malloc, vframe("0x1091C6", "finish", 9), vframe("0x1091F8", "finish", 10),
                  vframe("0x1091F8", "finish", 10), vframe("0x109280", "main", 18)])
inl = verror(22, [malloc, vframe("0x401000", "cmp", 5),
                  vframe("0x401100", "helper", 44), vframe("0x401100", "sort", 53),
                  vframe("0x401100", "helper", 44), vframe("0x401100", "sort", 53),
                  vframe("0x401200", "main", 20)])
head = text[:text.index("<error>")]
pr = os.path.join(TMP, "recursion.xml")
open(pr, "w").write(head + rec + inl + "</valgrindoutput>\n")
rc, docr, err = report_json([f"--from-valgrind-xml={pr}"])
fin = records(docr, "finish")
check(rc == 0 and len(fin) == 1
      and [(f["function"], f["inlined"]) for f in fin[0]["stack"]]
      == [("finish", False)] * 3 + [("main", False)],
      "direct recursion: each repeated frame is a machine frame, none inlined", err)
srt = records(docr, "cmp")
check(rc == 0 and len(srt) == 1
      and [(f["function"], f["inlined"]) for f in srt[0]["stack"]]
      == [("cmp", False), ("helper", True), ("sort", False), ("helper", True), ("sort", False),
          ("main", False)],
      "recursion through an inlined helper: the chain repeats, its last frame is real", err)

# memcheck names a versioned symbol with its version (pthread_create@@GLIBC_2.34),
# the agent's symbolizer without: compare keys them alike
ver = verror(23, [malloc, vframe("0x4a0000", "allocate_dtv", 401),
                  vframe("0x4a1000", "pthread_create@@GLIBC_2.34", 650),
                  vframe("0x401300", "main", 31)])
pv = os.path.join(TMP, "versioned.xml")
open(pv, "w").write(head + ver + "</valgrindoutput>\n")
rc, docv, out = compare([f"--from-valgrind-xml={pv}"])
check(docv is not None and [r["key"] for r in docv.get("rows", [])]
      == ["allocate_dtv<pthread_create<main"],
      "compare: a symbol version is not part of the key", out)

# the text report of a valgrind file looks like the agent's
rc, out, err = run(["report", "--show-leak-kinds=all", f"--from-valgrind-xml={xml}"])
check(rc == 0 and re.search(r"100 bytes in 1 blocks are definitely lost", err)
      and "lose_array()" in err, "text report of a valgrind file", err)
done()
