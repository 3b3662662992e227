#!/usr/bin/env python3
"""rectime.py - reads a record stream from stdin as it arrives and prints one
line per record: "MS KIND CONN DIR LEN", MS the milliseconds since the first
record arrived.  For timing tests of filters such as tcpmon-throttle."""
import sys
import time


def main():
    inp = sys.stdin.buffer
    t0 = None
    while True:
        hdr = inp.readline()
        if not hdr:
            break
        now = time.monotonic()
        if t0 is None:
            t0 = now
        toks = hdr.rstrip(b'\n').decode('ascii').split(' ')
        f = dict(t.split('=', 1) for t in toks[2:])
        n = int(f['len'])
        inp.read(n + 1)
        print('%d %s %s %s %d' % ((now - t0) * 1000, toks[1],
              f.get('conn', '0'), f.get('dir', '-'), n), flush=True)


main()
