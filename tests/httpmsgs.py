#!/usr/bin/env python3
"""httpmsgs.py - HTTP messages in a tcpmon stream, for the formatter tests.

  httpmsgs.py FILE bodies CONN DIR PREFIX   writes the body of each message
      of CONN in DIR (c2s or s2c) to PREFIX.1, PREFIX.2, ... and prints the
      count; messages are framed by Content-Length (what formatted messages
      carry) or have no body.
  httpmsgs.py FILE heads CONN DIR           prints each head, CR removed
  httpmsgs.py FILE split IN OUT             rewrites a stream with every
      data payload cut into one-byte records
  httpmsgs.py FILE interleave N OUT       N copies of the stream's
      connections (conn numbers 1000*i + conn), their records round-robin
  httpmsgs.py FILE xforms                   prints "CONN DIR XFORM" per data
      record
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recparse import records  # noqa: E402


def messages(path, conn, d):
    data = b''.join(p for k, f, p in records(path)
                    if k == 'data' and f.get('conn') == conn and
                    f.get('dir') == d)
    pos, out = 0, []
    while pos < len(data):
        end = data.index(b'\r\n\r\n', pos) + 4
        head = data[pos:end]
        n = 0
        for line in head.split(b'\r\n')[1:]:
            if line.lower().startswith(b'content-length:'):
                n = int(line.split(b':', 1)[1])
        out.append((head, data[end:end + n]))
        pos = end + n
    return out


def main():
    path, what = sys.argv[1], sys.argv[2]
    if what == 'bodies':
        msgs = messages(path, sys.argv[3], sys.argv[4])
        for i, (h, b) in enumerate(msgs, 1):
            with open('%s.%d' % (sys.argv[5], i), 'wb') as f:
                f.write(b)
        print(len(msgs))
    elif what == 'heads':
        for h, b in messages(path, sys.argv[3], sys.argv[4]):
            sys.stdout.write(h.decode('latin-1').replace('\r', ''))
    elif what == 'split':
        raw = open(path, 'rb').read()
        out = open(sys.argv[3], 'wb')
        pos = 0
        while pos < len(raw):
            nl = raw.index(b'\n', pos)
            hdr = raw[pos:nl]
            n = int(hdr.rsplit(b' len=', 1)[1])
            payload = raw[nl + 1:nl + 1 + n]
            if hdr.split(b' ')[1] == b'data' and n > 1:
                base = hdr.rsplit(b' len=', 1)[0]
                for i in range(n):
                    out.write(base + b' len=1\n' + payload[i:i + 1] + b'\n')
            else:
                out.write(raw[pos:nl + 2 + n])
            pos = nl + 2 + n
    elif what == 'interleave':
        n, out = int(sys.argv[3]), open(sys.argv[4], 'wb')
        raw = open(path, 'rb').read()
        recs, pos = [], 0
        while pos < len(raw):
            nl = raw.index(b'\n', pos)
            ln = int(raw[pos:nl].rsplit(b' len=', 1)[1])
            recs.append(raw[pos:nl + 2 + ln])
            pos = nl + 2 + ln
        for r in recs:
            for i in range(1, n + 1):
                h, rest = r.split(b'\n', 1)
                t = h.split(b' ')
                t = [b'conn=%d' % (1000 * i + int(x[5:]))
                     if x.startswith(b'conn=') and x != b'conn=0' else x
                     for x in t]
                out.write(b' '.join(t) + b'\n' + rest)
    elif what == 'xforms':
        for k, f, p in records(path):
            if k == 'data':
                print(f.get('conn'), f.get('dir'), f.get('xform', '-'))


if __name__ == '__main__':
    main()
