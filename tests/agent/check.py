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
  // EXPECT: stdout TEXT            a line the program must print
  // EXPECT: module NAME STATE      a module of that file name, state L or U,
                                    with a build-id
  // OPTIONS: key=value:...         extra LEAKAGENT_OPTIONS
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
        for tag in ('EXPECT:', 'OPTIONS:', 'LIBS:', 'ARGS:'):
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
        elif f[0] == 'stdout':
            stdout_lines.append(v.split(None, 1)[1])
        else:
            want[f[0]] = int(f[1])

    env = dict(os.environ)
    env['LD_LIBRARY_PATH'] = os.path.dirname(program)
    proc, reports, outdir = laraw.run_under_agent([program] + args, agent, options, env=env,
                                                  cwd=outdir_cwd())
    errors = []
    if proc.returncode != want['exit']:
        errors.append(f'exit status {proc.returncode}, expected {want["exit"]}')
    for line in stdout_lines:
        if line not in proc.stdout.splitlines():
            errors.append(f'stdout lacks {line!r}')
    if len(reports) != want['reports']:
        errors.append(f'{len(reports)} reports, expected {want["reports"]}')
    if reports:
        r = reports[-1]
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
