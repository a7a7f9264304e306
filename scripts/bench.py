#!/usr/bin/python3
# bench.py: the benchmark runner. Builds the workloads of scripts/bench/, runs
# each natively, under the bare libunwind capture shim, under the agent and
# under the peers (LSan, heaptrack, tcmalloc heap checker, memcheck), and
# prints one markdown table per group: median wall-time ratios and max RSS.
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "scripts", "bench")
LIBDIR = "/usr/lib/x86_64-linux-gnu"
LSAN = LIBDIR + "/liblsan.so.0"
TCMALLOC = LIBDIR + "/libtcmalloc.so.4"

# --- workloads ------------------------------------------------------------
# size: the one knob (iterations, rounds, rows, blocks); quick: its --quick
# value. div: the size divisor for tools too slow to run at full size (the
# ratio is then against a native run of the same reduced size).


def prog(name):
    return lambda ctx, size, *extra: ([os.path.join(ctx.bin, name), str(size)] + list(extra), {}, None)


def sqlite(ctx, size):
    sql = os.path.join(ctx.tmp, "sqlite-%d.sql" % size)
    if not os.path.exists(sql):
        with open(sql, "w") as f:
            subprocess.run([sys.executable, os.path.join(SRC, "gen-sql.py"), str(size)], stdout=f, check=True)
    return ["/usr/bin/sqlite3", ":memory:"], {}, sql


def python(ctx, size):
    return (["/usr/bin/python3", os.path.join(SRC, "pyalloc.py"), str(size)],
            {"PYTHONMALLOC": "malloc"}, None)


WORKLOADS = [
    # name, group, command, size, quick size, size divisors of slow tools
    ("churn-1t", "micro", prog("churn"), 30_000_000, 3_000_000,
     {"heaptrack": 5, "tcmalloc": 200, "memcheck": 20}),
    ("churn-4t", "micro", lambda c, s: prog("churn")(c, s, "4"), 40_000_000, 4_000_000,
     {"heaptrack": 5, "tcmalloc": 200, "memcheck": 20}),
    ("deep-20", "micro", prog("deep"), 15_000_000, 1_500_000,
     {"heaptrack": 5, "tcmalloc": 200, "memcheck": 20}),
    ("nodes", "micro", prog("nodes"), 500, 50,
     {"heaptrack": 5, "tcmalloc": 100, "memcheck": 20}),
    ("cxx-newdel", "micro", prog("newdel"), 8_000_000, 800_000,
     {"heaptrack": 5, "tcmalloc": 200, "memcheck": 20}),
    ("sqlite3", "real", sqlite, 100_000, 20_000,
     {"heaptrack": 1, "tcmalloc": 10, "memcheck": 5}),
    ("python3", "real", python, 8, 1,
     {"heaptrack": 2, "tcmalloc": 8, "memcheck": 8}),
    ("bigheap", "bigheap", prog("bigheap"), 5_000_000, 500_000,
     {"heaptrack": 1, "tcmalloc": 1, "memcheck": 10}),
]

TOOLS = ["native", "shim", "agent", "lsan", "heaptrack", "tcmalloc", "memcheck"]


class Ctx:
    pass


# --- tools: how each wraps a command ---------------------------------------


def wrap(ctx, tool, argv, env, variant):
    """Returns (argv, env) running argv under tool. variant picks LSan's way in."""
    env = dict(env)
    if tool == "shim":
        env["LD_PRELOAD"] = ctx.shim
    elif tool == "agent":
        env["LD_PRELOAD"] = ctx.agent
        env["LEAKAGENT_OPTIONS"] = ("output=" + os.path.join(ctx.out, "leakagent.%e.%p.%n.raw") +
                                    ":scan_stats=1")
    elif tool == "lsan":
        env["LSAN_OPTIONS"] = "exitcode=0"
        if variant == "linked":  # our own programs, rebuilt with -fsanitize=leak
            argv = [argv[0] + ".lsan"] + argv[1:]
        elif variant == "sigfix":  # preloaded LSan crashes in signal(): see lsan-signal-fix.c
            env["LD_PRELOAD"] = ctx.sigfix + ":" + LSAN
        else:
            env["LD_PRELOAD"] = LSAN
    elif tool == "heaptrack":
        argv = ["heaptrack", "-o", os.path.join(ctx.out, "heaptrack.out")] + argv
    elif tool == "tcmalloc":
        env["LD_PRELOAD"] = TCMALLOC
        env["HEAPCHECK"] = "normal"
    elif tool == "memcheck":
        argv = ["valgrind", "-q", "--leak-check=full", "--error-exitcode=0"] + argv
    return argv, env


class Run:
    def __init__(self, wall, rss_kb, rc, exit_s, cpu, exit_cpu=None):
        self.wall, self.rss_kb, self.rc, self.exit_s, self.cpu = wall, rss_kb, rc, exit_s, cpu
        self.exit_cpu = exit_cpu


def run_once(ctx, argv, env, stdin, timeout):
    """One run through runner.c: wall seconds, max RSS of the biggest process,
    exit status, and the time from bench-end (printed by bigheap at the end of
    its main) to the process's exit."""
    full_env = dict(os.environ)
    full_env.pop("LD_PRELOAD", None)
    full_env.update(env)
    if "LD_PRELOAD" in full_env:
        full_env["LA_BENCH_PRELOAD"] = full_env.pop("LD_PRELOAD")
    err_path = os.path.join(ctx.out, "stderr")
    status_path = os.path.join(ctx.tmp, "status")
    with open(err_path, "wb") as err, open(stdin or os.devnull, "rb") as inp:
        p = subprocess.Popen([ctx.runner, status_path] + argv, env=full_env, stdin=inp,
                             stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.wait()
            return None
    if p.returncode != 0:
        sys.exit("error: the runner failed on %s (see %s)" % (" ".join(argv), err_path))
    with open(status_path) as f:
        wall_ns, rss_kb, status, t1, cpu_us = (int(x) for x in f.read().split())
    exit_s = exit_cpu = None
    ctx.scan_line = None
    with open(err_path, "rb") as f:
        for line in f:
            if line.startswith(b"leakagent: scan: "):
                ctx.scan_line = line[len(b"leakagent: "):].decode(errors="replace").strip()
            if line.startswith(b"bench-end "):
                exit_s = (t1 - int(line.split()[1])) / 1e9
                exit_cpu = (cpu_us - int(line.split()[2])) / 1e6
    rc = os.waitstatus_to_exitcode(status)
    if ctx.verbose:
        print("    %-50s %.3fs rc=%d rss=%dMB" % (" ".join(argv)[-50:], wall_ns / 1e9, rc, rss_kb >> 10),
              file=sys.stderr)
    return Run(wall_ns / 1e9, rss_kb, rc, exit_s, cpu_us / 1e6, exit_cpu)


def clean_out(ctx):
    for f in os.listdir(ctx.out):
        p = os.path.join(ctx.out, f)
        if os.path.isdir(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)


def run_checked(ctx, wl, tool, size):
    """One run of (workload, tool, size): a Run, or a string saying why not.
    Falls back to another way of running LSan when the preload crashes, and
    checks that the agent wrote a report."""
    name, group, cmd = wl[0], wl[1], wl[2]
    argv, env, stdin = cmd(ctx, size)
    while True:
        variant = ctx.lsan_variant.get(name, "preload")
        a, e = wrap(ctx, tool, argv, env, variant)
        r = run_once(ctx, a, e, stdin, ctx.timeout)
        if tool == "agent" and ctx.scan_line:
            ctx.scan_lines.setdefault(name, []).append(ctx.scan_line)
        if tool == "agent" and r is not None and r.rc == 0:
            if not any(f.startswith("leakagent.") for f in os.listdir(ctx.out)):
                print("warning: %s: the agent wrote no report" % name, file=sys.stderr)
        clean_out(ctx)
        if r is None:
            return "timeout"
        if r.rc in ((0, 1) if tool == "tcmalloc" else (0,)):
            return r
        nxt = {"preload": "sigfix" if group == "real" else "linked"}.get(variant)
        if tool == "lsan" and r.rc < 0 and nxt:
            print("note: %s: preloaded LSan died (signal %d); trying %s" % (name, -r.rc, nxt),
                  file=sys.stderr)
            ctx.lsan_variant[name] = nxt
            continue
        return "rc %d" % r.rc


def median_run(results):
    med = lambda f: statistics.median(f(r) for r in results)
    exits = [r.exit_s for r in results if r.exit_s is not None]
    exit_cpus = [r.exit_cpu for r in results if r.exit_cpu is not None]
    return Run(med(lambda r: r.wall), med(lambda r: r.rss_kb), 0,
               statistics.median(exits) if exits else None, med(lambda r: r.cpu),
               statistics.median(exit_cpus) if exit_cpus else None)


def measure_workload(ctx, wl, tools, size, runs):
    """All cells of one workload, interleaved: run 1 of every tool, then run 2,
    so load from outside (this machine is shared) hits every column alike.
    Returns {tool or ("native", div): Run or reason}."""
    cells = [("native", 1)] + [(t, wl[5].get(t, 1)) for t in tools]
    cells += [("native", d) for d in sorted({d for _, d in cells if d > 1})]
    run_checked(ctx, wl, "native", size)  # warm-up: page cache, first-touch memory
    got = {c: [] for c in cells}
    failed = {}
    for _ in range(runs):
        for c in cells:
            if c in failed:
                continue
            r = run_checked(ctx, wl, c[0], max(size // c[1], 1))
            if isinstance(r, str):
                failed[c] = r
            else:
                got[c].append(r)
    return {c: failed.get(c) or median_run(got[c]) for c in cells}


# --- building --------------------------------------------------------------


def sh(argv, **kw):
    subprocess.run(argv, check=True, **kw)


def build(ctx):
    os.makedirs(ctx.bin, exist_ok=True)
    cflags = ["-O2", "-g"]
    sh(["gcc", "-O2", "-o", ctx.runner, os.path.join(SRC, "runner.c")])
    for name in ["churn", "deep", "nodes", "bigheap"]:
        src = os.path.join(SRC, name + ".c")
        sh(["gcc"] + cflags + ["-o", os.path.join(ctx.bin, name), src, "-lpthread"])
        sh(["gcc"] + cflags + ["-fsanitize=leak", "-o", os.path.join(ctx.bin, name + ".lsan"), src, "-lpthread"])
    src = os.path.join(SRC, "newdel.cc")
    sh(["g++"] + cflags + ["-o", os.path.join(ctx.bin, "newdel"), src])
    sh(["g++"] + cflags + ["-fsanitize=leak", "-o", os.path.join(ctx.bin, "newdel.lsan"), src])
    sh(["gcc"] + cflags + ["-o", os.path.join(ctx.bin, "pause"), os.path.join(SRC, "pause.c"), "-lpthread"])
    sh(["gcc", "-O2", "-g", "-fPIC", "-shared", "-o", ctx.shim, os.path.join(SRC, "capture-shim.c"),
        "-ldl", "-lunwind"])
    sh(["gcc", "-O2", "-fPIC", "-shared", "-o", ctx.sigfix, os.path.join(SRC, "lsan-signal-fix.c")])
    if ctx.agent == os.path.join(ROOT, "build", "agent", "libleakagent.so"):
        if not os.path.exists(os.path.join(ROOT, "build", "build.ninja")):
            sh(["meson", "setup", os.path.join(ROOT, "build")], cwd=ROOT, stdout=subprocess.DEVNULL)
        sh(["ninja", "-C", os.path.join(ROOT, "build")], stdout=subprocess.DEVNULL)


# --- the snapshot pause -----------------------------------------------------


def measure_pause(ctx, blocks, runs):
    """pause.c under the agent: the longest stall a running thread saw while a
    SIGUSR1 snapshot was taken, with the agent's own scan_stats split.
    Returns (live bytes, [gap ns], [scan_stats line]) or an error string."""
    gaps, lines, live = [], [], 0
    for _ in range(runs):
        out = tempfile.mkdtemp(dir=ctx.tmp)
        env = dict(os.environ, LD_PRELOAD=ctx.agent,
                   LEAKAGENT_OPTIONS="output=%s/%%p.%%n.raw:scan_stats=1:report_at_exit=0" % out)
        p = subprocess.run([os.path.join(ctx.bin, "pause"), str(blocks), out], env=env,
                           capture_output=True, text=True, timeout=ctx.timeout)
        if p.returncode != 0 or not p.stdout.startswith("pause "):
            return "failed: " + p.stderr.strip()[-80:]
        live, gap = int(p.stdout.split()[1]), int(p.stdout.split()[2])
        gaps.append(gap)
        lines += [l[len("leakagent: "):] for l in p.stderr.splitlines() if l.startswith("leakagent: scan: ")]
        shutil.rmtree(out)
    return live, gaps, lines


def print_pause(results):
    print("## snapshot pause (SIGUSR1 while a thread allocates; target: at most 100 ms per 100 MB live)\n")
    print("| live blocks | live heap MB | longest stall ms | per 100 MB | snapshot ms | stop ms | mark+classify ms |")
    print("|---|---|---|---|---|---|---|")
    ms = lambda key, line: re.search(key + r" ([0-9.]+) ms", line)
    for blocks, res in results:
        if isinstance(res, str):
            print("| %d | - | %s | | | | |" % (blocks, res))
            continue
        live, gaps, lines = res
        gap = statistics.median(gaps) / 1e6
        parts = []
        for key in ["snapshot", "stop", "mark\\+classify"]:
            vals = [float(m.group(1)) for m in (ms(key, l) for l in lines) if m]
            parts.append("%.1f" % statistics.median(vals) if vals else "-")
        print("| %d | %.0f | %.0f | %.0f | %s |" % (blocks, live / 1e6, gap, gap / (live / 1e8), " | ".join(parts)))
    print("\nlongest stall: the longest gap between two iterations of a thread that mallocs,")
    print("frees and reads the clock in a loop (median over runs): the pause the program felt.\n")


# --- tables ----------------------------------------------------------------


def fmt_ratio(cell):
    r, div, why = cell
    if r is None:
        return why
    s = "%.2fx" % r if r < 10 else "%.1fx" % r if r < 100 else "%.0fx" % r
    return s + (" /%d" % div if div > 1 else "")


def main():
    ap = argparse.ArgumentParser(description="leakagent benchmark: ratios to native, side by side with peers")
    ap.add_argument("-n", "--runs", type=int, help="runs per cell, median taken (default 3, --quick 1)")
    ap.add_argument("--quick", action="store_true", help="small sizes: the whole run takes under 2 minutes")
    ap.add_argument("--tools", default=",".join(TOOLS[1:]), help="comma-separated subset of " + ",".join(TOOLS[1:]))
    ap.add_argument("--workloads", help="comma-separated subset of " + ",".join(w[0] for w in WORKLOADS))
    ap.add_argument("--agent", default=os.path.join(ROOT, "build", "agent", "libleakagent.so"))
    ap.add_argument("--timeout", type=float, default=180, help="seconds per run before giving up (default 180)")
    ap.add_argument("--pause-blocks", help="live blocks for the snapshot pause, comma-separated "
                    "(default 1000000,5000000; --quick 200000,1000000; empty: skip)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every run on stderr")
    args = ap.parse_args()

    ctx = Ctx()
    ctx.tmp = tempfile.mkdtemp(prefix="leakagent-bench.")
    ctx.bin = os.path.join(ctx.tmp, "bin")
    ctx.out = os.path.join(ctx.tmp, "out")
    os.makedirs(ctx.out)
    ctx.shim = os.path.join(ctx.bin, "capture-shim.so")
    ctx.sigfix = os.path.join(ctx.bin, "lsan-signal-fix.so")
    ctx.runner = os.path.join(ctx.bin, "runner")
    ctx.agent = os.path.abspath(args.agent)
    ctx.verbose = args.verbose
    ctx.timeout = args.timeout
    ctx.lsan_variant = {}
    ctx.scan_lines = {}  # workload -> the agent's scan_stats lines, one a run
    runs = args.runs or (1 if args.quick else 3)
    tools = [t for t in args.tools.split(",") if t]
    wls = [w for w in WORKLOADS if not args.workloads or w[0] in args.workloads.split(",")]
    build(ctx)

    started = time.monotonic()
    load0 = "%.2f" % os.getloadavg()[0]
    rows = {}  # workload -> dict
    for wl in wls:
        name, group, size = wl[0], wl[1], wl[4] if args.quick else wl[3]
        print("%s (size %d)..." % (name, size), file=sys.stderr)
        res = measure_workload(ctx, wl, tools, size, runs)
        base = res[("native", 1)]
        if isinstance(base, str):
            print("error: %s fails natively (%s); skipped" % (name, base), file=sys.stderr)
            continue
        row = {"native": base, "cells": {}, "runs": {"native": base}}
        for tool in tools:
            div = wl[5].get(tool, 1)
            r, ref = res[(tool, div)], res[("native", div)]
            ok = not isinstance(r, str) and not isinstance(ref, str)
            row["cells"][tool] = (r.wall / ref.wall if ok else None, div, None if ok else r)
            row["runs"][tool] = r if ok else None
            row.setdefault("cpu", {})[tool] = r.cpu / ref.cpu if ok and ref.cpu > 0 else None
        rows[name] = row
    pause_blocks = args.pause_blocks if args.pause_blocks is not None else \
        "200000,1000000" if args.quick else "1000000,5000000"
    pauses = []
    for blocks in [int(b) for b in pause_blocks.split(",") if b]:
        print("snapshot pause, %d blocks..." % blocks, file=sys.stderr)
        pauses.append((blocks, measure_pause(ctx, blocks, runs)))
    elapsed = time.monotonic() - started

    print("\n# leakagent benchmark (%s mode, median of %d run%s, %s)\n" %
          ("quick" if args.quick else "default", runs, "s" if runs > 1 else "", time.strftime("%Y-%m-%d")))
    print("load average at start %s, at end %.2f (2 cores; other jobs inflate wall times)\n"
          % (load0, os.getloadavg()[0]))
    for group in ["micro", "real", "bigheap"]:
        names = [w[0] for w in wls if w[1] == group and w[0] in rows]
        if not names:
            continue
        print("## %s\n" % group)
        print("| workload | native s | shim x | agent x | agent/shim | lsan x | heaptrack x | tcmalloc x | memcheck x | native RSS MB | agent RSS x | agent/shim cpu |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for n in names:
            row = rows[n]
            c = row["cells"]
            get = lambda t: fmt_ratio(c[t]) if t in c else "-"
            a, s = c.get("agent", (None,))[0], c.get("shim", (None,))[0]
            lsan = get("lsan")
            if ctx.lsan_variant.get(n) == "linked":
                lsan += " L"
            elif ctx.lsan_variant.get(n) == "sigfix":
                lsan += " S"
            ag = row["runs"].get("agent")
            ca, cs = row["cpu"].get("agent"), row["cpu"].get("shim")
            print("| %s | %.3f | %s | %s | %s | %s | %s | %s | %s | %.0f | %s | %s |" % (
                n, row["native"].wall, get("shim"), get("agent"),
                "%.2f" % (a / s) if a and s else "-", lsan, get("heaptrack"), get("tcmalloc"),
                get("memcheck"), row["native"].rss_kb / 1024,
                "%.2fx" % (ag.rss_kb / row["native"].rss_kb) if ag else "-",
                "%.2f" % (ca / cs) if ca and cs else "-"))
        print()
        if group == "bigheap":
            print("| bigheap under | wall s | CPU s | end of main to exit: wall s | same, CPU s | max RSS MB |")
            print("|---|---|---|---|---|---|")
            for n in names:
                for t in ["native"] + tools:
                    r = rows[n]["runs"].get(t)
                    if r is None:
                        continue
                    div = WORKLOADS[[w[0] for w in WORKLOADS].index(n)][5].get(t, 1) if t != "native" else 1
                    opt = lambda v: "%.2f" % v if v is not None else "-"
                    print("| %s%s | %.2f | %.2f | %s | %s | %.0f |" % (
                        t, " (/%d size)" % div if div > 1 else "", r.wall, r.cpu, opt(r.exit_s),
                        opt(r.exit_cpu), r.rss_kb / 1024))
            for n in names:
                for line in ctx.scan_lines.get(n, []):
                    print("agent scan_stats on %s: `%s`  " % (n, line))
            print()
    if pauses:
        print_pause(pauses)
    print("agent/shim cpu: the same ratio on user+sys CPU time, steadier when the machine is shared.")
    print("Ratios are wall time against the native run of the same size in this invocation.")
    print("`/k`: the tool ran the workload at 1/k of its size (too slow at full size).")
    print("lsan: preloaded liblsan.so.0; `L`: preload crashed, ran a -fsanitize=leak build;")
    print("`S`: preloaded with lsan-signal-fix.so (liblsan's signal() interceptor crashes).")
    print("tcmalloc replaces the allocator too, so its ratio includes a faster malloc.")
    print("heaptrack includes its interpret/compress process (in CPU too); RSS is the biggest process's.")
    print("\nsizes: " + ", ".join("%s=%d" % (w[0], w[4] if args.quick else w[3]) for w in wls))
    print("total %.0f s" % elapsed)
    shutil.rmtree(ctx.tmp)


if __name__ == "__main__":
    main()
