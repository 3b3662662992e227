#!/usr/bin/env python3
"""check-calls.py [-v] < LIST - the second half of the layering rule
(HACKING.md): the files of a program call each other one way only.  LIST is
`make -s layering-list`: a line "PROG ARCHIVES... : SRCS..." per program.  A
file calls another when it names one of that file's non-static functions
followed by "(" (comments left out).  Prints each program's call graph with
-v; exits 1 naming each cycle."""
import re
import sys

DEF = re.compile(r'^(?!static)[a-z][^;{}()]*\n\*?([a-z_][a-z0-9_]*)\(', re.M)
COMMENT = re.compile(r'/\*.*?\*/', re.S)


def graph(files):
    defs = {}
    for f in files:
        for m in DEF.finditer(open(f).read()):
            if m.group(1) != 'main':
                defs.setdefault(m.group(1), set()).add(f)
    g = {}
    for f in files:
        src = COMMENT.sub('', open(f).read())
        g[f] = set()
        for name, where in defs.items():
            for w in where - {f}:
                if re.search(r'\b' + name + r'\s*\(', src):
                    g[f].add(w)
    return g


def cycles(g):
    found, state, stack = [], {}, []

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(g[u]):
            if state.get(v) == 1:
                found.append(stack[stack.index(v):] + [v])
            elif v not in state:
                visit(v)
        stack.pop()
        state[u] = 2
    for u in sorted(g):
        if u not in state:
            visit(u)
    return found


def main():
    verbose = '-v' in sys.argv
    bad, seen, progs = 0, set(), []
    for line in sys.stdin:
        if ':' not in line:
            continue
        prog = line.split()[0]
        files = sorted(set(line.split(':', 1)[1].split()))
        g = graph(files)
        progs.append(prog)
        if verbose:
            for f in sorted(g):
                print('%s: %s -> %s' % (prog, f, ' '.join(sorted(g[f])) or '-'))
        for c in cycles(g):
            key = tuple(sorted(c[:-1]))
            if key in seen:
                continue
            seen.add(key)
            print('check-calls: %s: a cycle: %s' % (prog, ' -> '.join(c)),
                  file=sys.stderr)
            bad = 1
    if not bad:
        print('check-calls: the files of %d programs call one way only' %
              len(progs))
    sys.exit(bad)


if __name__ == '__main__':
    main()
