#!/usr/bin/env python3
"""rectime.py INPUT CMD [ARG...] - runs CMD with stdin from INPUT, reads the
records it writes as they arrive and prints one line per record:
"MS KIND CONN DIR LEN", MS the milliseconds since CMD was started.  Starting
CMD itself keeps the interpreter's start-up out of the times.  Exits with
CMD's status."""
import subprocess
import sys
import time


def main():
    with open(sys.argv[1], 'rb') as inp:
        t0 = time.monotonic()
        p = subprocess.Popen(sys.argv[2:], stdin=inp, stdout=subprocess.PIPE)
    out = p.stdout
    while True:
        hdr = out.readline()
        if not hdr:
            break
        now = time.monotonic()
        toks = hdr.rstrip(b'\n').decode('ascii').split(' ')
        f = dict(t.split('=', 1) for t in toks[2:])
        n = int(f['len'])
        out.read(n + 1)
        print('%d %s %s %s %d' % ((now - t0) * 1000, toks[1],
              f.get('conn', '0'), f.get('dir', '-'), n), flush=True)
    sys.exit(p.wait())


main()
