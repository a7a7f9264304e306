#!/usr/bin/env python3
"""check.py: runs one test program under the agent and checks its report
against the EXPECT lines in the program's source, exactly:

  // EXPECT: record KIND FAM BYTES BLOCKS FUNCTION [inherited]
      the program's own records (allocating frame in the test binary or in a
      library listed by LIBS:), summed per (kind, family, function), must be
      exactly the set of EXPECT record lines
  // EXPECT: finding WHAT AFAM FFAM FUNCTION [COUNT]
      findings (mismatch / invalid), FUNCTION is the freeing frame's; exact set
  // EXPECT: exit N                 the program's exit status (default 0)
  // EXPECT: reports N              number of report files (default 1)
  // EXPECT: scanned N              the report's w line scanned flag
  // EXPECT: world SEEN PARKED UNPARKED
                                    the w line's thread counts (the reporting
                                    thread is seen and parked); '*' matches any
  // EXPECT: stdout TEXT            a line the program must print
  // EXPECT: module NAME STATE      a module of that file name, state L or U,
                                    with a build-id
  // EXPECT: indirect FUNCTION IBYTES IBLOCKS
                                    the definitely lost records allocated in
                                    FUNCTION carry these indirect totals
  // EXPECT: stack FUNCTION CALLER...
                                    every record allocated in FUNCTION has
                                    these callers below it, in this order
                                    (other frames may come between)
  // EXPECT: lost N                 bytes definitely + indirectly + possibly
                                    lost in the whole report (every module)
  // EXPECT: each-report 1          check records/world/lost in every report,
                                    not only the last
  // OPTIONS: key=value:...         extra LEAKAGENT_OPTIONS
  // WRAP: cmd ...                  run the program under cmd (strace, gdb):
                                    the agent is preloaded into the program
                                    only, through env; @AGENT@ and @PROG@ in
                                    cmd are replaced, else they are appended
  // LIBS: name.so ...              libraries (in the build dir) counted as own
  // ARGS: ...                      program arguments

Usage: check.py AGENT SOURCE PROGRAM
"""

import os
import shlex
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'lib'))
import laraw  # noqa: E402


def directives(source):
    out = []
    for line in open(source):
        line = line.strip()
        for tag in ('EXPECT:', 'OPTIONS:', 'LIBS:', 'ARGS:', 'WRAP:'):
            i = line.find('// ' + tag)
            if i < 0:
                i = line.find('* ' + tag)
            if i >= 0:
                out.append((tag[:-1], line[line.index(tag) + len(tag):].strip()))
    return out


def main():
    agent, source, program = (os.path.abspath(a) for a in sys.argv[1:4])
    ds = directives(source)
    options = ':'.join(v for t, v in ds if t == 'OPTIONS')
    args = [a for t, v in ds if t == 'ARGS' for a in shlex.split(v)]
    libs = [os.path.realpath(os.path.join(os.path.dirname(program), n))
            for t, v in ds if t == 'LIBS' for n in v.split()]
    want_rec, want_find, want = {}, {}, {'exit': 0, 'reports': 1}
    stdout_lines = []
    for t, v in ds:
        if t != 'EXPECT':
            continue
        f = v.split()
        if f[0] == 'record':
            origin = 'i' if len(f) > 6 and f[6] == 'inherited' else '-'
            key = (f[1], f[2], origin, f[5])
            b, n = want_rec.get(key, (0, 0))
            want_rec[key] = (b + int(f[3]), n + int(f[4]))
        elif f[0] == 'finding':
            want_find[(f[1], f[2], f[3], f[4])] = int(f[5]) if len(f) > 5 else 1
        elif f[0] == 'module':
            want.setdefault('modules', []).append((f[1], f[2]))
        elif f[0] == 'indirect':
            want.setdefault('indirect', {})[f[1]] = (int(f[2]), int(f[3]))
        elif f[0] == 'stack':
            want.setdefault('stack', {})[f[1]] = f[2:]
        elif f[0] == 'world':
            want['world'] = f[1:4]
        elif f[0] == 'stdout':
            stdout_lines.append(v.split(None, 1)[1])
        else:
            want[f[0]] = int(f[1])

    env = dict(os.environ)
    env['LD_LIBRARY_PATH'] = os.path.dirname(program)
    wrap = [shlex.split(v) for t, v in ds if t == 'WRAP']
    argv = [program] + args
    if wrap:
        w = wrap[0]
        inner = ['env', 'LD_PRELOAD=' + agent, program]
        if '@PROG@' in w:
            argv = [a.replace('@AGENT@', agent) for a in w]
            i = argv.index('@PROG@')
            argv[i:i + 1] = inner
            argv += args
        else:
            argv = w + inner + args
    proc, reports, outdir = laraw.run_under_agent(argv, agent, options, env=env,
                                                  cwd=outdir_cwd(), preload=not wrap)
    errors = []
    if proc.returncode != want['exit']:
        errors.append(f'exit status {proc.returncode}, expected {want["exit"]}')
    for line in stdout_lines:
        if line not in proc.stdout.splitlines():
            errors.append(f'stdout lacks {line!r}')
    if len(reports) != want['reports']:
        errors.append(f'{len(reports)} reports, expected {want["reports"]}')
    checked = reports if want.get('each-report') else reports[-1:]
    for r in checked:
        if not r.complete:
            errors.append(f'{r.path}: no end marker')
        sym = laraw.Symbolizer(r)
        got = laraw.own_records(r, sym, {os.path.realpath(program)} | set(libs))
        if got != want_rec:
            errors.append('records differ:\n  got      ' + fmt(got) + '\n  expected ' + fmt(want_rec))
        gotf = {}
        for f in r.findings:
            pcs = r.stacks.get(f['fstack'], [0])
            key = (f['what'], f['afam'], f['ffam'], sym.function(pcs[0]) if pcs[0] else '??')
            gotf[key] = gotf.get(key, 0) + f['count']
        if gotf != want_find:
            errors.append(f'findings differ:\n  got      {gotf}\n  expected {want_find}')
        for name, state in want.get('modules', []):
            ms = [m for m in r.modules if os.path.basename(m.path) == name]
            if not ms or ms[0].state != state or ms[0].build_id == '-':
                errors.append(f'module {name}: {ms[0] if ms else "missing"}, expected state {state} with a build-id')
        if 'world' in want:
            for name, w in zip(('seen', 'parked', 'unparked'), want['world']):
                if w != '*' and r.world.get(name) != int(w):
                    errors.append(f'world {name} {r.world.get(name)}, expected {w}')
        for fn, (ib, ibl) in want.get('indirect', {}).items():
            tot = [0, 0]
            for rec in r.records:
                pcs = r.stacks.get(rec['stack'], [])
                if rec['kind'] == 'D' and pcs and sym.function(pcs[0]) == fn:
                    tot[0] += rec['ibytes']
                    tot[1] += rec['iblocks']
            if tot != [ib, ibl]:
                errors.append(f'indirect of {fn}: {tot[0]}B/{tot[1]}, expected {ib}B/{ibl}')
        for fn, callers in want.get('stack', {}).items():
            stacks = [r.stacks.get(rec['stack'], []) for rec in r.records]
            names = [[sym.function(pc) for pc in pcs] for pcs in stacks if pcs]
            names = [n for n in names if n[0] == fn]
            for n in names:
                rest = iter(n[1:])
                if not all(c in rest for c in callers):
                    errors.append(f'stack of {fn}: {" ".join(map(str, n))}, expected callers {" ".join(callers)}')
            if not names:
                errors.append(f'no record allocated in {fn} to check its callers')
        if 'lost' in want:
            lost = sum(r.totals.get(k, (0, 0))[0] for k in 'DIP')
            if lost != want['lost']:
                errors.append(f'{lost} bytes lost in the whole report, expected {want["lost"]}')
        if 'scanned' in want and r.world.get('scanned') != want['scanned']:
            errors.append(f'scanned {r.world.get("scanned")}, expected {want["scanned"]}')
    if errors:
        print(f'FAIL {os.path.basename(source)}')
        for e in errors:
            print('  ' + e)
        print('--- stderr ---\n' + proc.stderr)
        for r in reports:
            print(f'--- {r.path} ---\n' + open(r.path).read())
        sys.exit(1)
    print(f'ok {os.path.basename(source)}: {len(want_rec)} records, {len(want_find)} findings')


def fmt(d):
    return ', '.join(f'{k[0]} {k[1]}{" inh" if k[2] == "i" else ""} {v[0]}B/{v[1]} {k[3]}'
                     for k, v in sorted(d.items()))


def outdir_cwd():
    import tempfile
    return tempfile.mkdtemp(prefix='la-cwd-')


if __name__ == '__main__':
    main()
