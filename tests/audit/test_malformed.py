#!/usr/bin/env python3
"""test_malformed.py: a damaged valgrind XML or tcmalloc heap file gives
exit status 2 and one clear error line naming the file and what is wrong,
in `report` and in `compare`; nothing is reported as if it were a result."""
from auditlib import *

good_xml = open(valgrind_xml([prog("audit-kinds")], "kinds.xml")).read()
heap, _ = tcmalloc_heap([prog("audit-kinds")], "kinds")
good_heap = open(heap).read()


def write(name, text):
    p = os.path.join(TMP, name)
    open(p, "w").write(text)
    return p


xml_cases = [
    ("truncated.xml", good_xml[:len(good_xml) // 2], "not valid XML"),
    ("empty.xml", "", "not valid XML"),
    ("text.xml", "==123== definitely lost: 100 bytes in 1 blocks\n", "not valid XML"),
    ("root.xml", '<?xml version="1.0"?>\n<heaptrack/>\n', "root element"),
    ("proto7.xml", good_xml.replace("<protocolversion>4<", "<protocolversion>7<"),
     "protocol version 7"),
    ("proto3.xml", good_xml.replace("<protocolversion>4<", "<protocolversion>3<"),
     "protocol version 3"),
    ("helgrind.xml", good_xml.replace("<protocoltool>memcheck<", "<protocoltool>helgrind<"),
     "helgrind"),
    ("bytes.xml", good_xml.replace("<leakedbytes>333<", "<leakedbytes>lots<", 1), "leakedbytes"),
    ("noproto.xml", good_xml.replace("<protocolversion>4</protocolversion>", ""),
     "protocolversion"),
    ("tags.xml", good_xml.replace("</error>", "</eror>", 1), "not valid XML"),
]
for name, text, why in xml_cases:
    p = write(name, text)
    rc, out, err = run(["report", f"--from-valgrind-xml={p}"])
    errs = errors(err)
    check(rc == 2 and len(errs) == 1 and p in errs[0] and why in errs[0]
          and "bytes in" not in err, f"{name}: exit 2, one error: {why}", err)

lines = good_heap.splitlines(True)
maps_at = lines.index("MAPPED_LIBRARIES:\n")
heap_cases = [
    ("empty.heap", "", "empty"),
    ("header.heap", "heap_v2/524288\n" + "".join(lines[1:]), "does not start"),
    ("bucket.heap", lines[0] + "     1:  oops [     1:      100] @ 0x1\n" + "".join(lines[1:]),
     "line 2"),
    ("addr.heap", lines[0] + "     1:      8 [     1:        8] @ 0xzz\n" + "".join(lines[1:]),
     "line 2"),
    ("nomaps.heap", "".join(lines[:maps_at]), "MAPPED_LIBRARIES"),
    ("maps.heap", "".join(lines[:maps_at + 1]) + "this is not a maps line\n",
     "MAPPED_LIBRARIES"),
]
for name, text, why in heap_cases:
    p = write(name, text)
    rc, out, err = run(["report", f"--from-tcmalloc-heap={p}"])
    errs = errors(err)
    check(rc == 2 and len(errs) == 1 and p in errs[0] and why in errs[0]
          and "bytes in" not in err, f"{name}: exit 2, one error: {why}", err)

missing = os.path.join(TMP, "missing.xml")
rc, out, err = run(["report", f"--from-valgrind-xml={missing}"])
check(rc == 2 and len(errors(err)) == 1 and "No such file" in err, "a missing file", err)

# compare with a damaged input: exit 2, no verdict printed
p = write("cut.xml", good_xml[:len(good_xml) // 3])
rc, out, err = run(["compare", f"--from-valgrind-xml={p}", f"--from-tcmalloc-heap={heap}"])
check(rc == 2 and len(errors(err)) == 1 and "Verdict" not in out,
      "compare with a truncated XML: exit 2, one error, no verdict", out + err)
done()
