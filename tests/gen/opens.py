#!/usr/bin/env python3
"""opens.py - writes a capture of N connections that open, exchange one
HTTP request and response, and are never closed, as a relay would write
it.  For the readers' memory bound (tests/20-tap-basic.bats and the man
pages' figures).  Usage: opens.py N [OUT]"""
import sys

n = int(sys.argv[1])
out = open(sys.argv[2], 'wb') if len(sys.argv) > 2 else sys.stdout.buffer
T = '2026-11-22T10:00:00.%06dZ'
req = b'GET /a HTTP/1.1\r\nHost: h\r\n\r\n'
resp = b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok'


def rec(kind, conn, us, fields, payload=b''):
    h = 'TCPMON/1 %s conn=%d src=r1 time=%s%s len=%d\n' % (
        kind, conn, T % (us % 1000000), fields, len(payload))
    return h.encode() + payload + b'\n'


buf = [rec('stream', 0, 0, ' tool=tcpmon-relay version=1')]
for i in range(1, n + 1):
    buf.append(rec('open', i, i, ' client=127.0.0.1:%d target=127.0.0.1:80'
                   % (1024 + i % 60000)))
    buf.append(rec('data', i, i, ' dir=c2s', req))
    buf.append(rec('data', i, i, ' dir=s2c', resp))
    if len(buf) > 4096:
        out.write(b''.join(buf))
        buf = []
out.write(b''.join(buf))
out.close()
