"""laraw.py: the tests' own reader of raw agent reports (include/leakagent-raw.h)
and a small symbolizer built on eu-addr2line, so agent tests can assert exact
records (kind, family, bytes, blocks, allocating function) without depending
on the collector under test."""

import glob
import os
import subprocess
import tempfile
from dataclasses import dataclass, field


def unesc(s):
    out, i = bytearray(), 0
    b = s.encode()
    while i < len(b):
        if b[i] == ord('%') and i + 3 <= len(b):
            out.append(int(b[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(b[i])
            i += 1
    return out.decode(errors='replace')


@dataclass(eq=False)
class Module:
    id: int
    bias: int
    state: str
    build_id: str
    path: str
    loads: list = field(default_factory=list)  # (vaddr, memsz, prot)

    def contains(self, pc):
        return any(self.bias + v <= pc < self.bias + v + m for v, m, _ in self.loads)


@dataclass
class Report:
    path: str
    version: int = 0
    pid: int = 0
    ppid: int = 0
    exe: str = ''
    args: list = field(default_factory=list)
    trigger: str = ''
    fatal_signal: int = 0  # k line: the signal an exit report's process died of
    seq: int = 0
    base_seq: int = None  # delta reports only: the report that set the mark
    options: dict = field(default_factory=dict)
    modules: list = field(default_factory=list)
    stacks: dict = field(default_factory=dict)
    records: list = field(default_factory=list)
    growth: list = field(default_factory=list)
    findings: list = field(default_factory=list)
    world: dict = field(default_factory=dict)
    totals: dict = field(default_factory=dict)
    complete: bool = False

    def module_of(self, pc):
        for m in self.modules:
            if m.contains(pc):
                return m
        return None


def parse(path):
    r = Report(path)
    lines = open(path, encoding='ascii').read().split('\n')
    assert lines[-1] == '', f'{path}: does not end with a newline'
    lines = lines[:-1]
    head = lines[0].split()
    assert head[0] == 'LEAKAGENT-RAW', f'{path}: bad magic {lines[0]!r}'
    r.version = int(head[1], 16)
    mods = {}
    for n, line in enumerate(lines[1:], start=1):
        tag, _, rest = line.partition(' ')
        f = rest.split(' ')
        if tag == 'p':
            r.pid, r.ppid = int(f[0], 16), int(f[1], 16)
        elif tag == 'x':
            r.exe = unesc(rest)
        elif tag == 'a':
            r.args.append(unesc(rest.partition(' ')[2]))
        elif tag == 't':
            r.trigger, r.seq = f[0], int(f[1], 16)
        elif tag == 'k':
            r.fatal_signal = int(f[0], 16)
        elif tag == 'd':
            r.base_seq = int(f[0], 16)
        elif tag == 'o':
            r.options[f[0]] = f[1]
        elif tag == 'm':
            m = Module(int(f[0], 16), int(f[1], 16), f[2], f[3], unesc(' '.join(f[4:])))
            mods[m.id] = m
            r.modules.append(m)
        elif tag == 'l':
            mods[int(f[0], 16)].loads.append((int(f[1], 16), int(f[2], 16), f[3]))
        elif tag == 's':
            r.stacks[int(f[0], 16)] = [int(x, 16) for x in f[2:]]
            assert len(r.stacks[int(f[0], 16)]) == int(f[1], 16)
        elif tag == 'r':
            r.records.append(dict(kind=f[0], fam=f[1], origin=f[2], stack=int(f[3], 16),
                                  bytes=int(f[4], 16), blocks=int(f[5], 16),
                                  ibytes=int(f[6], 16), iblocks=int(f[7], 16), largest=[]))
        elif tag == 'g':
            r.growth.append(dict(kind=f[0], fam=f[1], stack=int(f[2], 16),
                                 bytes=int(f[3], 16), blocks=int(f[4], 16)))
        elif tag == 'b':
            r.records[-1]['largest'].append((int(f[0], 16), int(f[1], 16)))
        elif tag == 'f':
            r.findings.append(dict(what=f[0], afam=f[1], ffam=f[2], astack=int(f[3], 16),
                                   fstack=int(f[4], 16), addr=int(f[5], 16),
                                   size=int(f[6], 16), count=int(f[7], 16)))
        elif tag == 'w':
            r.world = dict(seen=int(f[0], 16), parked=int(f[1], 16),
                           unparked=int(f[2], 16), scanned=int(f[3], 16))
        elif tag == 'n':
            r.totals[f[0]] = (int(f[1], 16), int(f[2], 16))
        elif tag == 'e':
            assert int(f[0], 16) == n, f'{path}: end marker says {f[0]} lines, saw {n}'
            r.complete = True
    return r


class Symbolizer:
    """Function names for return addresses, through eu-addr2line, cached."""

    def __init__(self, report):
        self.report = report
        self.cache = {}

    def function(self, pc):
        if pc not in self.cache:
            self.resolve([pc])
        return self.cache[pc]

    def resolve(self, pcs):
        by_mod = {}
        for pc in pcs:
            if pc in self.cache:
                continue
            m = self.report.module_of(pc - 1)
            if not m or not os.path.exists(m.path):
                self.cache[pc] = '??'
                continue
            by_mod.setdefault(m, []).append(pc)
        for m, lst in by_mod.items():
            addrs = [hex(pc - 1 - m.bias) for pc in lst]
            out = subprocess.run(['eu-addr2line', '-e', m.path, '-f', '-C'] + addrs,
                                 capture_output=True, text=True).stdout.split('\n')
            for i, pc in enumerate(lst):
                name = out[2 * i].strip() if 2 * i < len(out) else '??'
                self.cache[pc] = name.split('(')[0]


def run_under_agent(argv, agent, options='', env=None, cwd=None, timeout=60, stdin=None,
                    preload=True):
    """Runs argv with the agent preloaded, reports going to a fresh directory.
    preload=False leaves LD_PRELOAD alone (argv sets it for the program only,
    e.g. under strace or gdb). Returns (completed process, [Report ...] sorted
    by pid then seq, dir)."""
    out = tempfile.mkdtemp(prefix='la-test-')
    e = dict(os.environ if env is None else env)
    if preload:
        e['LD_PRELOAD'] = agent + (' ' + e['LD_PRELOAD'] if e.get('LD_PRELOAD') else '')
    opts = f'output={out}/%e.%p.%n.raw'
    e['LEAKAGENT_OPTIONS'] = opts + (':' + options if options else '')
    e['MALLOC_PERTURB_'] = '0'
    p = subprocess.run(argv, env=e, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       stdin=stdin)
    reports = [parse(f) for f in glob.glob(os.path.join(out, '*.raw'))]
    reports.sort(key=lambda r: (r.pid, r.seq))
    return p, reports, out


def own_records(report, sym, module_paths, lines=None):
    """Records (or the given lines, e.g. report.growth) whose allocating frame
    (the allocator's caller) lies in one of module_paths, summed by (kind,
    family, origin, function); growth lines have origin None."""
    agg = {}
    for rec in report.records if lines is None else lines:
        pcs = report.stacks.get(rec['stack'], [])
        if not pcs:
            continue
        m = report.module_of(pcs[0] - 1)
        if not m or os.path.realpath(m.path) not in module_paths:
            continue
        key = (rec['kind'], rec['fam'], rec.get('origin'), sym.function(pcs[0]))
        b, n = agg.get(key, (0, 0))
        agg[key] = (b + rec['bytes'], n + rec['blocks'])
    return agg
