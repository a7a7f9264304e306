#!/usr/bin/env python3
"""test_tcmalloc.py: the gperftools heap checker's .heap file of a real run
becomes the leak-set model (report --from-tcmalloc-heap), its addresses
symbolized by leakagent through the file's MAPPED_LIBRARIES section, the
program's and a shared library's alike; a gperftools without the checker
(simulated by a library that prints no banner, and libtcmalloc_minimal,
which has none) is reported unavailable, never as "no leaks"."""
import os
from auditlib import *

heap, stderr = tcmalloc_heap([prog("audit-kinds")], "kinds")
check(heap is not None and "heap leak checker is active" in stderr,
      "the installed heap checker runs and dumps a .heap file", stderr)
rc, doc, err = report_json([f"--from-tcmalloc-heap={heap}"])
check(rc == 0 and doc is not None, "report --from-tcmalloc-heap reads it", err)
check(schema_valid(doc), "its JSON report validates against report-schema.json", err)
check("does not tell indirectly from definitely lost" in err,
      "the report says the heap checker has no indirect kind", err)
check(total(records(doc, "make_leak")) == (300, 3), "make_leak: 300 bytes in 3 objects", err)
check(total(records(doc, "lose_parent")) == (16, 1), "lose_parent: 16 bytes", err)
check(total(records(doc, "make_child")) == (64, 1),
      "make_child's block, indirectly lost for memcheck, is a leak here", err)
check(total(records(doc, "audit_lib_leak")) == (40, 1),
      "a shared library's frame symbolized through MAPPED_LIBRARIES", err)
check(total(records(doc, "thread_leak")) == (48, 1), "a thread's leak", err)
# by design: interior pointers and reachable blocks keep blocks alive
check(not records(doc, "keep_interior") and not records(doc, "keep_reachable"),
      "no possibly lost, no still reachable record (by design)", err)
mk = records(doc, "make_leak")
check(mk and mk[0]["frames"][:3] == ["make_leak", "lose_three", "main"]
      and mk[0]["stack"][0]["file"].endswith("/kinds.c"),
      "stack make_leak < lose_three < main with its source file", err)
check(all(r["kind"] == "definite" for r in records(doc)), "its leaks are of kind definite", err)

# C++ under tcmalloc
heap, stderr = tcmalloc_heap([prog("audit-leakxx")], "leakxx")
rc, doc, err = report_json([f"--from-tcmalloc-heap={heap}"])
check(total(records(doc, "lose_node()")) == (32, 1), "C++: new Node", err)
check(total(records(doc, "lose_array()")) == (100, 1), "C++: new int[25]", err)

# compare with a library that stands in for gperftools 2.17+: HEAPCHECK set,
# no banner, no heap file. It must be unavailable, not "no leaks".
lib = prog("libnochecker.so")
rc, doc, out = compare(["--with=tcmalloc", f"--tcmalloc-lib={lib}", "--", prog("audit-kinds")])
tc = backend(doc, "tcmalloc")
check(tc is not None and tc["available"] is False and "banner" in (tc["why"] or ""),
      "a checker that prints no banner: tcmalloc unavailable, says why", out)
check(doc is not None and all("tcmalloc" not in r["cells"] for r in doc["rows"]),
      "an unavailable backend contributes no records (not \"no leaks\")", out)
check(rc == 2 and doc["verdict"] == "none",
      "agent alone: nothing to compare, exit 2", out)
rc, out, err = run(["compare", "--with=tcmalloc", f"--tcmalloc-lib={lib}", "--",
                    prog("audit-kinds")])
check("tcmalloc" in out and "unavailable" in out and "gperftools 2.17" in out,
      "the text table names it unavailable", out + err)
check("warning: tcmalloc: unavailable" in err, "and warns on stderr", err)

# the real gperftools library without a heap checker
minimal = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
if os.path.exists(minimal):
    rc, doc, out = compare(["--with=tcmalloc", f"--tcmalloc-lib={minimal}", "--",
                            prog("audit-kinds")])
    tc = backend(doc, "tcmalloc")
    check(tc is not None and tc["available"] is False,
          "libtcmalloc_minimal (no heap checker): unavailable", out)

# a library that does not exist
rc, doc, out = compare(["--with=tcmalloc", "--tcmalloc-lib=/nonexistent/libtcmalloc.so",
                        "--", prog("audit-kinds")])
tc = backend(doc, "tcmalloc")
check(tc is not None and tc["available"] is False and "/nonexistent" in tc["why"],
      "a missing library: unavailable, named", out)
done()
