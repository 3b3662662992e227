#!/usr/bin/env python3
"""fmtgen.py - makes the input of bench/fmt.sh: a record stream of SOAP
messages over keep-alive HTTP connections, and the same bodies as files.

  fmtgen.py DIR TOTAL_MB   writes DIR/stream.tcpmon and DIR/bodies/NNNNN.xml

Body sizes are spread evenly on a log scale from 1 KiB to 5 MiB, with the
first two at the ends; data records carry at most 64 KiB, as a relay's
reads do.  Seeded: every run makes the same bytes.
"""
import math
import os
import random
import sys

KIB = 1024
LO, HI = 1 * KIB, 5 * KIB * KIB
REC = 64 * KIB


def envelope(size, rnd, n):
    head = ('<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap='
            '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="urn:tcpmon:'
            'bench"><soap:Header><m:Id>%d</m:Id></soap:Header><soap:Body>'
            '<m:Orders>' % n).encode()
    tail = b'</m:Orders></soap:Body></soap:Envelope>'
    parts, left, i = [head], size - len(head) - len(tail), 0
    while left > 0:
        item = ('<m:Order id="%d"><m:Customer><m:Name>Customer %d</m:Name>'
                '<m:City>City %d</m:City></m:Customer><m:Lines><m:Line '
                'sku="S%d" qty="%d"/><m:Line sku="T%d" qty="1"/></m:Lines>'
                '<m:Note><![CDATA[a & b]]></m:Note><!-- %d --></m:Order>' %
                (i, rnd.randrange(10**6), i % 97, i, i % 9 + 1, i, i)).encode()
        parts.append(item)
        left -= len(item)
        i += 1
    return b''.join(parts) + tail


def rec(conn, d, payload, t):
    return b'TCPMON/1 data conn=%d src=bench time=2026-11-22T10:%02d:%02d.000000Z dir=%s len=%d\n%s\n' % (
        conn, t // 60 % 60, t % 60, d, len(payload), payload)


def main():
    out, total = sys.argv[1], int(sys.argv[2]) * KIB * KIB
    rnd = random.Random(5)
    os.makedirs(out + '/bodies', exist_ok=True)
    f = open(out + '/stream.tcpmon', 'wb')
    written, n, conns = 0, 0, 4
    for c in range(1, conns + 1):
        f.write(b'TCPMON/1 open conn=%d src=bench time=2026-11-22T10:00:00.000000Z client=127.0.0.1:%d len=0\n\n' % (c, 40000 + c))
    while written < total:
        if n < 2:
            size = (LO, HI)[n]
        else:
            size = int(math.exp(rnd.uniform(math.log(LO), math.log(HI))))
        body = envelope(size, rnd, n)
        n += 1
        with open('%s/bodies/%05d.xml' % (out, n), 'wb') as b:
            b.write(body)
        conn = n % conns + 1
        d = 'c2s' if n % 2 else 's2c'
        if d == 'c2s':
            head = b'POST /orders HTTP/1.1\r\nHost: bench\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: "urn:tcpmon:bench#Put"\r\nContent-Length: %d\r\n\r\n' % len(body)
        else:
            head = b'HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %d\r\n\r\n' % len(body)
        msg = head + body
        for i in range(0, len(msg), REC):
            f.write(rec(conn, d.encode(), msg[i:i + REC], n))
        written += len(msg)
    for c in range(1, conns + 1):
        f.write(b'TCPMON/1 close conn=%d src=bench time=2026-11-22T10:59:59.000000Z reason=eof len=0\n\n' % c)
    print(n, written)


if __name__ == '__main__':
    main()
