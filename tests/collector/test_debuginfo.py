#!/usr/bin/env python3
"""test_debuginfo.py: where symbols come from, and when they must not be
trusted: a dlclose()d library, a stripped binary with separate debug info
(.gnu_debuglink and build-id directory), a stripped binary without any, and a
binary rebuilt since the run (build-id mismatch: reported, never
mis-symbolized)."""
import glob
import re
import shutil
import subprocess
import tempfile
from lacheck import *

tmp = tempfile.mkdtemp(prefix="la-debuginfo-")
env0 = dict(os.environ, MALLOC_PERTURB_="0")


def sh(*args):
    subprocess.run(args, check=True, capture_output=True)


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    return re.search(r"Build ID: ([0-9a-f]+)", out)[1]


def raw_of(path, *args):
    d = tempfile.mkdtemp(dir=tmp)
    subprocess.run([path] + list(args), env=dict(env0, LD_PRELOAD=os.environ["AGENT"],
                   LEAKAGENT_OPTIONS=f"output={d}/r.%p.raw"), capture_output=True)
    return glob.glob(d + "/r.*.raw")[0]


# dlclose()d library: module kept as unloaded (U) and still symbolized
lib = os.path.join(BINDIR, "libdlmod.so")
raw = raw_of(prog("leak_dlclose"), lib)
check(re.search(r"^m \S+ \S+ U \S+ .*libdlmod\.so$", open(raw).read(), re.M),
      "the raw report keeps the dlclose()d module, state U", open(raw).read())
rc, out, err = run([prog("leak_dlclose"), lib])
dl = find(records(err), "dlmod_leak")
check(rc == 0 and len(dl) == 1 and dl[0]["bytes"] == 333 and re.search(r"\(dlmod\.c:\d+\)", dl[0]["where"][0]),
      "dlclose()d library symbolized: dlmod_leak (dlmod.c:N), 333 bytes", err)

# stripped binary, debug info through .gnu_debuglink
sdir = os.path.join(tmp, "stripped")
os.mkdir(sdir)
exe = os.path.join(sdir, "leak_basic")
shutil.copy(prog("leak_basic"), exe)
sh("objcopy", "--only-keep-debug", exe, exe + ".debug")
sh("strip", "--strip-all", exe)
sh("objcopy", "--add-gnu-debuglink=" + exe + ".debug", exe)
nm = subprocess.run(["nm", exe], capture_output=True, text=True)
check("make_leak" not in nm.stdout, "the stripped binary has no symbol for make_leak")
rc, out, err = run([exe])
ml = find(records(err), "make_leak")
check(rc == 3 and len(ml) == 3 and all(re.search(r"\(leak_basic\.c:\d+\)", r["where"][0]) for r in ml),
      "stripped binary symbolized through .gnu_debuglink", err)

# the same, without any debug info: module+offset, no crash, not an error
os.rename(exe + ".debug", os.path.join(tmp, "leak_basic.debug.away"))
rc, out, err = run([exe])
recs = records(err)
check(rc == 3 and recs and not find(recs, "make_leak") and
      all(re.match(r"\?\?\? \(in .*/stripped/leak_basic\+0x[0-9a-f]+\)", r["where"][0]) for r in recs
          if "stripped/leak_basic" in r["where"][0]),
      "no debug info: module+offset frames, exit status unchanged", err)
check(all(not l.startswith("leakagent: error") for l in err.splitlines()), "missing debug info is no error", err)

# stripped, no debuglink, debug file found by build-id under --debug-dir
bdir = os.path.join(tmp, "stripped2")
os.mkdir(bdir)
exe2 = os.path.join(bdir, "leak_basic")
shutil.copy(prog("leak_basic"), exe2)
bid = build_id(exe2)
dbg = os.path.join(tmp, "debugroot", ".build-id", bid[:2])
os.makedirs(dbg)
sh("objcopy", "--only-keep-debug", exe2, os.path.join(dbg, bid[2:] + ".debug"))
sh("strip", "--strip-all", exe2)
raw = raw_of(exe2)
rc, out, err = run(["report", raw])
check(not find(records(err), "make_leak"), "without --debug-dir: no names", err)
rc, out, err = run(["report", "--debug-dir=" + os.path.join(tmp, "debugroot"), raw])
check(rc == 0 and len(find(records(err), "make_leak")) == 3, "debug info found by build-id under --debug-dir", err)

# a binary rebuilt since the run: reported as replaced, frames never named from the new file
rdir = os.path.join(tmp, "rebuilt")
os.mkdir(rdir)
exe3 = os.path.join(rdir, "leak_basic")
shutil.copy(prog("leak_basic"), exe3)
old_bid = build_id(exe3)
raw = raw_of(exe3)
keep_debug = os.path.join(tmp, "rebuilt-debug", ".build-id", old_bid[:2])
os.makedirs(keep_debug)
sh("objcopy", "--only-keep-debug", exe3, os.path.join(keep_debug, old_bid[2:] + ".debug"))
shutil.copy(prog("leak_fork"), exe3)  # "rebuilt": another program at the same path
rc, out, err = run(["report", raw])
errs = [l for l in err.splitlines() if l.startswith("leakagent: error:")]
check(rc == 2 and len(errs) == 1 and "rebuilt/leak_basic" in errs[0] and "replaced since the run" in errs[0]
      and old_bid in errs[0], "rebuilt binary: one error naming the file and both build-ids, exit 2", err)
recs = records(err)
check(recs and not any(fn in ("parent_leak", "child_leak", "main", "make_leak") for r in recs for fn in r["frames"]
                      if "rebuilt/leak_basic" in r["where"][r["frames"].index(fn)]),
      "no frame of the replaced binary is named", err)
check(sum(r["bytes"] for r in recs) >= 372, "the records are still reported", err)
rc, out, err = run(["report", "--debug-dir=" + os.path.join(tmp, "rebuilt-debug"), raw])
check(rc == 0 and len(find(records(err), "make_leak")) == 3 and "replaced since the run" in err
      and "symbolized from" in err, "replaced binary symbolized from a debug file with the recorded build-id", err)

# a binary missing since the run
os.unlink(exe3)
rc, out, err = run(["report", raw])
errs = [l for l in err.splitlines() if l.startswith("leakagent: error:")]
check(rc == 2 and len(errs) == 1 and "rebuilt/leak_basic" in errs[0] and "No such file" in errs[0],
      "missing binary: one error naming it, exit 2", err)
check(re.search(r"\?\?\? \(in .*rebuilt/leak_basic\+0x[0-9a-f]+\)", err), "missing binary: module+offset", err)

shutil.rmtree(tmp)
done()
