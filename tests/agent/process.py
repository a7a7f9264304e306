#!/usr/bin/env python3
"""process.py: agent behaviours that span processes, files and options,
checked on real runs: fork, exec and posix_spawn children, report file
safety (unwritable place, planted symlinks), bad options, daemon habits,
jemalloc as the next allocator, and snapshots of a running daemon.

Usage: process.py SCENARIO AGENT BUILD_TESTS_DIR
"""

import glob
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'lib'))
import laraw  # noqa: E402

AGENT, BIN = None, None


def fail(msg, *reports):
    print('FAIL ' + msg)
    for r in reports:
        print(f'--- {r.path} ---\n' + open(r.path).read())
    sys.exit(1)


def expect(cond, msg, *reports):
    if not cond:
        fail(msg, *reports)


def own(r, prog):
    return laraw.own_records(r, laraw.Symbolizer(r), {os.path.realpath(prog)})


def env_with(options, preload=None):
    e = dict(os.environ)
    e['LD_PRELOAD'] = preload or AGENT
    e['LEAKAGENT_OPTIONS'] = options
    e['MALLOC_PERTURB_'] = '0'
    return e


def scenario_fork():
    prog = os.path.join(BIN, 'agent-fork')
    # the children that _exit would report too: this test is about the one that exits
    p, reports, _ = laraw.run_under_agent([prog], AGENT, 'report_on__exit=0', timeout=60)
    expect(p.returncode == 0, f'exit {p.returncode}: {p.stderr}')
    expect(len(reports) == 2, f'{len(reports)} reports, expected parent and one child', *reports)
    child, parent = sorted(reports, key=lambda r: r.ppid == os.getpid())
    expect(parent.ppid == os.getpid() and child.ppid == parent.pid,
           f'pids: parent {parent.pid}/{parent.ppid} child {child.pid}/{child.ppid}')
    expect(all(r.complete for r in reports), 'a report is incomplete', *reports)
    want_parent = {('U', 'm', '-', 'parent_before'): (111, 1), ('U', 'm', '-', 'parent_after'): (222, 1)}
    want_child = {('U', 'm', 'i', 'parent_before'): (111, 1), ('U', 'm', '-', 'child_own'): (333, 1)}
    got_p, got_c = own(parent, prog), own(child, prog)
    # a churn thread may be between its malloc and free at the fork: the
    # child inherits that block, and it is really outstanding there
    churn = [k for k in got_c if k[3] == 'churn' and k[2] == 'i' and got_c[k][1] <= 2]
    for k in churn:
        del got_c[k]
    expect(strip_kind(got_p) == strip_kind(want_parent), f'parent records {got_p}', parent)
    expect(strip_kind(got_c) == strip_kind(want_child), f'child records {got_c}', child)


def strip_kind(d):
    """Kinds are the scan tests' business; these are about origin and counts."""
    out = {}
    for k, (b, n) in d.items():
        ob, on = out.get(k[1:], (0, 0))
        out[k[1:]] = (ob + b, on + n)
    return out


def scenario_spawn(follow=True):
    prog = os.path.join(BIN, 'agent-spawn')
    opts = '' if follow else 'follow_children=0'
    p, reports, _ = laraw.run_under_agent([prog], AGENT, opts, timeout=60)
    expect(p.returncode == 0, f'exit {p.returncode}: {p.stderr}')
    if not follow:
        expect(len(reports) == 1, f'{len(reports)} reports with follow_children=0', *reports)
        return
    expect(len(reports) == 3, f'{len(reports)} reports, expected parent and two children', *reports)
    parent = [r for r in reports if r.ppid == os.getpid()]
    children = [r for r in reports if r.ppid != os.getpid()]
    expect(len(parent) == 1 and len(children) == 2, 'process tree', *reports)
    expect(strip_kind(own(parent[0], prog)) == {('m', '-', 'parent_leak'): (1234, 1)},
           'parent records', parent[0])
    for c in children:
        expect(c.ppid == parent[0].pid and c.args[1:] == ['child'], 'child identity', c)
        expect(strip_kind(own(c, prog)) == {('m', '-', 'child_leak'): (4321, 1)}, 'child records', c)


def run_basic(options, preload=None, prog='agent-basic', cwd=None):
    return subprocess.run([os.path.join(BIN, prog)], env=env_with(options, preload),
                          capture_output=True, text=True, timeout=60, cwd=cwd)


def scenario_unwritable():
    native = subprocess.run([os.path.join(BIN, 'agent-edge')], capture_output=True, text=True)
    p = run_basic('output=/proc/self/no-such-dir/x.%p.raw', prog='agent-edge')
    expect(p.returncode == native.returncode == 0 and p.stdout == native.stdout == 'edge ok\n',
           f'exit {p.returncode}, native {native.returncode}, stdout {p.stdout!r}')
    lines = p.stderr.splitlines()
    expect(len(lines) == 1 and lines[0].startswith('leakagent: cannot create report /proc/self/no-such-dir/x.'),
           f'stderr: {p.stderr!r}')


def scenario_symlink():
    d = tempfile.mkdtemp(prefix='la-sym-')
    victim = os.path.join(d, 'victim')
    open(victim, 'w').write('precious\n')
    os.symlink(victim, os.path.join(d, 'fixed.raw'))
    os.symlink(victim, os.path.join(d, '.fixed.raw.tmp0'))
    p = run_basic(f'output={d}/fixed.raw')
    expect(p.returncode == 0 and p.stderr == '', f'exit {p.returncode}: {p.stderr}')
    expect(open(victim).read() == 'precious\n', 'the symlink target was written to')
    expect(os.readlink(os.path.join(d, 'fixed.raw')) == victim, 'the symlink was replaced')
    r = laraw.parse(os.path.join(d, 'fixed.raw-2'))
    expect(r.complete, 'report under the next free name is incomplete', r)
    mode = os.stat(r.path).st_mode & 0o777
    expect(mode == 0o600, f'report mode {oct(mode)}, expected 0600')
    leftovers = [f for f in os.listdir(d) if '.tmp' in f and f != '.fixed.raw.tmp0']
    expect(not leftovers, f'temporary files left: {leftovers}')


def scenario_options():
    d = tempfile.mkdtemp(prefix='la-opt-')
    p = run_basic(f'output={d}/r.raw:bogus=1:depth=abc:depth=999:report_at_exit=maybe')
    lines = p.stderr.splitlines()
    expect(p.returncode == 0, f'exit {p.returncode}')
    expect(len(lines) == 4 and all(l.startswith('leakagent: ') for l in lines), f'stderr: {p.stderr!r}')
    expect("unknown option 'bogus'" in lines[0], lines[0])
    r = laraw.parse(os.path.join(d, 'r.raw'))
    expect(r.options.get('depth') == '20', f'depth {r.options.get("depth")} after bad values', r)
    p = run_basic(f'output={d}/h.raw:help=1:depth=4')
    expect('depth (int, default 32)' in p.stderr and 'output (string' in p.stderr,
           f'help: {p.stderr!r}')
    r = laraw.parse(os.path.join(d, 'h.raw'))
    expect(r.options.get('depth') == '4' and all(len(s) <= 4 for s in r.stacks.values()),
           'depth=4 not applied', r)
    p = run_basic(f'output={d}/none.raw:report_at_exit=0')
    expect(not os.path.exists(os.path.join(d, 'none.raw')), 'report_at_exit=0 still wrote')


def scenario_daemonish():
    start = tempfile.mkdtemp(prefix='la-start-')
    p = run_basic('output=rel.%p.raw', prog='agent-daemonish', cwd=start)
    expect(p.returncode == 7, f'exit {p.returncode}: {p.stderr}')
    files = glob.glob(os.path.join(start, 'rel.*.raw'))
    expect(len(files) == 1, f'reports in the start directory: {os.listdir(start)}')
    r = laraw.parse(files[0])
    prog = os.path.join(BIN, 'agent-daemonish')
    expect(strip_kind(own(r, prog)) == {('m', '-', 'daemon_leak'): (2468, 1)}, 'records', r)


def scenario_next_allocator(lib):
    path = '/usr/lib/x86_64-linux-gnu/' + lib
    d = tempfile.mkdtemp(prefix='la-next-')
    p = run_basic(f'output={d}/r.raw', preload=f'{AGENT} {path}')
    expect(p.returncode == 0 and p.stderr == '', f'exit {p.returncode}: {p.stderr}')
    r = laraw.parse(os.path.join(d, 'r.raw'))
    expect(any(m.path.endswith(lib) for m in r.modules), f'{lib} not loaded', r)
    got = strip_kind(own(r, os.path.join(BIN, 'agent-basic')))
    want = {('m', '-', 'leak_small'): (300, 3), ('m', '-', 'grow'): (5000, 1),
            ('m', '-', 'zeroed'): (64, 1)}
    expect(got == want, f'records under {lib}: {got}', r)
    p = run_basic(f'output={d}/cxx.raw', preload=f'{AGENT} {path}', prog='agent-cxx')
    expect(p.returncode == 0 and p.stdout == 'cxx ok\n', f'C++ program under {lib}: {p.stderr}')


def run_triggers(mode, options=''):
    prog = os.path.join(BIN, 'agent-triggers')
    out = tempfile.mkdtemp(prefix='la-trig-')
    e = env_with(f'output={out}/%e.%p.%n.raw' + (':' + options if options else ''))
    p = subprocess.run([prog, mode, out], env=e, capture_output=True, text=True, timeout=60)
    reports = sorted((laraw.parse(f) for f in glob.glob(os.path.join(out, '*.raw'))),
                     key=lambda r: r.seq)
    return p, reports, prog


def scenario_snapshot(mode):
    p, reports, prog = run_triggers(mode)
    expect(p.returncode == 0, f'{mode}: exit {p.returncode}: {p.stderr}')
    expect([r.trigger for r in reports] == ['signal', 'exit'], f'triggers {[r.trigger for r in reports]}',
           *reports)
    expect(all(r.complete for r in reports), 'incomplete report', *reports)
    snap, final = (strip_kind(own(r, prog)) for r in reports)
    expect(snap == {('m', '-', 'before'): (1111, 1)}, f'snapshot records {snap}', reports[0])
    expect(final == {('m', '-', 'before'): (1111, 1), ('m', '-', 'after'): (2222, 1)},
           f'exit records {final}', reports[1])


def scenario_death(mode, status):
    p, reports, prog = run_triggers(mode)
    expect(p.returncode == status, f'{mode}: status {p.returncode}, expected {status}: {p.stderr}')
    expect(len(reports) == 1 and reports[0].trigger == 'exit' and reports[0].complete,
           f'{mode}: reports {[r.trigger for r in reports]}', *reports)
    expect(reports[0].fatal_signal == max(-status, 0),
           f'{mode}: k line {reports[0].fatal_signal}, expected {max(-status, 0)}', reports[0])
    got = strip_kind(own(reports[0], prog))
    expect(got == {('m', '-', 'before'): (1111, 1)}, f'{mode}: records {got}', reports[0])
    p, reports, _ = run_triggers(mode, 'report_on_signal=0:report_on__exit=0')
    expect(p.returncode == status and not reports, f'{mode} with the options off: {len(reports)} reports')


def scenario_vforkdeath():
    """A vfork child shares the parent's memory: its death by SIGTERM must
    leave no mark in the parent's exit report."""
    p, reports, prog = run_triggers('vforkdeath')
    expect(p.returncode == 0, f'vforkdeath: status {p.returncode}: {p.stderr}')
    expect(len(reports) == 1 and reports[0].trigger == 'exit' and reports[0].complete,
           f'vforkdeath: reports {[r.trigger for r in reports]}', *reports)
    expect(reports[0].fatal_signal == 0,
           f'vforkdeath: the parent\'s report names signal {reports[0].fatal_signal}', reports[0])


def scenario_sleepers():
    p, reports, _ = run_triggers('sleepers')
    expect(p.returncode == 0, f'sleepers: exit {p.returncode}: {p.stdout} {p.stderr}')
    expect([r.trigger for r in reports] == ['signal', 'signal', 'exit'],
           f'sleepers: triggers {[r.trigger for r in reports]}', *reports)


def scenario_woken():
    p, reports, _ = run_triggers('woken')
    expect(p.returncode == 0, f'woken: exit {p.returncode}: {p.stdout} {p.stderr}')
    triggers = [r.trigger for r in reports]
    expect(len(triggers) >= 2 and set(triggers[:-1]) == {'signal'} and triggers[-1] == 'exit',
           f'woken: triggers {triggers}', *reports)


def scenario_in_hook():
    p, _, _ = run_triggers('in-hook')
    expect(p.returncode == 0, f'in-hook: exit {p.returncode}: {p.stdout} {p.stderr}')


def scenario_burst():
    p, reports, prog = run_triggers('burst')
    expect(p.returncode == 0 and p.stdout == 'served\n', f'burst: exit {p.returncode}: {p.stderr}')
    expect(2 <= len(reports) < 1000, f'{len(reports)} reports for 1000 coalesced signals')
    expect(all(r.complete for r in reports), 'a report is incomplete')
    expect(reports[-1].trigger == 'exit', 'no exit report')
    # no block lost or counted twice while 4 threads churn: each holds at most
    # its 16 blocks of 1, 17, ..., 241 bytes; `before` is there exactly once
    for r in reports[:-1]:
        got = strip_kind(own(r, prog))
        churn = got.pop(('m', '-', 'churn'), (0, 0))
        expect(got == {('m', '-', 'before'): (1111, 1)} and churn[1] <= 64 and churn[0] <= 4 * 1936,
               f'snapshot {r.seq}: {got}, churn {churn}', r)


def scenario_timerd():
    """Two SIGUSR1 snapshots and four delta snapshots (three by SIGUSR2, one
    of which cannot be written, and one from code) of a daemon whose threads
    allocate on a timer; every report exact; the daemon still serves
    afterwards."""
    prog = os.path.join(BIN, 'agent-timerd')
    out = tempfile.mkdtemp(prefix='la-timerd-')
    p = subprocess.Popen([prog], env=env_with(f'output={out}/%p.%n.raw'), text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def say(cmd, answer):
        p.stdin.write(cmd + '\n')
        p.stdin.flush()
        got = p.stdout.readline().strip()
        expect(got == answer, f'{cmd!r}: answered {got!r}, expected {answer!r}')

    def report(seq, sig=None):
        if sig:
            os.kill(p.pid, sig)
        path = os.path.join(out, f'{p.pid}.{seq}.raw')
        for _ in range(3000):  # a report file appears complete or not at all
            if os.path.exists(path):
                return laraw.parse(path)
            time.sleep(0.01)
        fail(f'report {seq} never appeared')

    def check(r, trigger, base, records, growth):
        expect(r.complete and r.trigger == trigger and r.base_seq == base,
               f'report {r.seq}: trigger {r.trigger}, base {r.base_seq}', r)
        sym = laraw.Symbolizer(r)
        got = own(r, prog)
        expect(got == records, f'report {r.seq} records {got}', r)
        got = laraw.own_records(r, sym, {os.path.realpath(prog)}, r.growth)
        expect(base is not None or not r.growth, f'report {r.seq}: growth in a full report', r)
        expect(base is None or got == growth, f'report {r.seq} growth {got}', r)

    R, D = 'R', 'D'
    cache = lambda k, n, b=100: {(k, 'm', '-', 'cache_put'): (b * n, n)}
    leak = lambda f, size, n: {(D, 'm', '-', f): (size * n, n)}
    grow = lambda k, f, b, n: {(k, 'm', None, f): (b, n)}
    say('phase 1', 'done 1')
    # the beacon `leakagent snapshot` reads: signals and the absolute template
    beacon = [ln for ln in open(f'/proc/{p.pid}/maps') if '/memfd:leakagent:' in ln]
    want = f'/memfd:leakagent:10:12:{out}/%p.%n.raw (deleted)'
    expect(len(beacon) == 1 and beacon[0].rstrip('\n').endswith(want), f'beacon {beacon}')
    after1 = {**cache(R, 30), **leak('leak_a', 64, 6)}
    check(report(1, signal.SIGUSR1), 'signal', None, after1, {})
    check(report(2, signal.SIGUSR2), 'delta', 0, after1,
          {**grow(R, 'cache_put', 3000, 30), **grow(D, 'leak_a', 384, 6)})
    say('phase 2', 'done 2')
    check(report(3, signal.SIGUSR1), 'signal', None,
          {**cache(R, 45), **leak('leak_a', 64, 6), **leak('leak_b', 48, 3)}, {})
    check(report(4, signal.SIGUSR2), 'delta', 2, {**cache(R, 30), **leak('leak_b', 48, 3)},
          {**grow(R, 'cache_put', 1500, 15), **grow(D, 'leak_b', 144, 3)})
    say('phase 3', 'done 3')
    # a delta that cannot be written (a file where the directory was) leaves
    # the mark where report 4 put it: the next delta covers its blocks
    os.rename(out, out + '.away')
    open(out, 'w').close()
    os.kill(p.pid, signal.SIGUSR2)
    line = p.stderr.readline()
    expect(line.startswith(f'leakagent: cannot create report {out}/{p.pid}.5.raw'), f'stderr: {line!r}')
    os.unlink(out)
    os.rename(out + '.away', out)
    check(report(6, signal.SIGUSR2), 'delta', 4, {**cache(R, 15), **leak('leak_c', 32, 3)},
          {**grow(R, 'cache_put', -1500, -15), **grow(D, 'leak_c', 96, 3)})
    say('ping', 'pong')
    say('api 1', 'api 0')
    check(report(7), 'api', 6, {}, {})
    say('quit', '')
    expect(p.wait(timeout=60) == 0, f'exit status {p.returncode}: {p.stderr.read()}')
    check(report(8), 'exit', None, {**cache(R, 30), **leak('leak_a', 64, 6),
                                    **leak('leak_b', 48, 3), **leak('leak_c', 32, 3)}, {})


def scenario_readme():
    """The README's option table says what help=1 says: same names, defaults."""
    import re
    d = tempfile.mkdtemp(prefix='la-readme-')
    p = run_basic(f'output={d}/r.raw:help=1')
    helped = dict(re.findall(r'^  (\w+) \(\w+, default (.*?)\): ', p.stderr, re.M))
    readme = open(os.path.join(os.path.dirname(__file__), '..', '..', 'README.md')).read()
    table = {m.group(1): m.group(2).strip('`') for m in
             re.finditer(r'^\| `(\w+)` \| (.*?) \|', readme, re.M)}
    expect(helped and helped == table, f'help={helped}\nREADME={table}')


if __name__ == '__main__':
    name, AGENT, BIN = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    {'fork': scenario_fork, 'spawn': scenario_spawn,
     'no-follow': lambda: scenario_spawn(False), 'unwritable': scenario_unwritable,
     'symlink': scenario_symlink, 'options': scenario_options,
     'daemonish': scenario_daemonish,
     'jemalloc': lambda: scenario_next_allocator('libjemalloc.so.2'),
     'tcmalloc': lambda: scenario_next_allocator('libtcmalloc_minimal.so.4'),
     'readme': scenario_readme,
     'snapshot': lambda: scenario_snapshot('snapshot'),
     'chained': lambda: scenario_snapshot('chained'),
     'ignored': lambda: scenario_snapshot('ignored'),
     'term': lambda: scenario_death('term', -15),
     'exit5': lambda: scenario_death('exit5', 5),
     'abort': lambda: scenario_death('abort', -6),
     'segv': lambda: scenario_death('segv', -11),
     'fpe': lambda: scenario_death('fpe', -8),
     'uaf': lambda: scenario_death('uaf', -11),
     'pipe': lambda: scenario_death('pipe', -13),
     'vforkdeath': scenario_vforkdeath,
     'rearm': lambda: scenario_death('rearm', -11),
     'dflterm': lambda: scenario_death('dflterm', -15),
     'oneshot': lambda: scenario_death('oneshot', -15),
     'oneshot-twice': lambda: scenario_death('oneshot-twice', -15),
     'in-hook': scenario_in_hook,
     'sleepers': scenario_sleepers,
     'woken': scenario_woken,
     'burst': scenario_burst, 'timerd': scenario_timerd}[name]()
    print(f'ok {name}')
