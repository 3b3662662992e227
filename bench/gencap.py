#!/usr/bin/env python3
"""gencap.py - writes a capture of mixed HTTP traffic, as a relay would, for
bench/tap.sh: SIZE MiB of records of many interleaved connections (pages
with Content-Length, gzip and chunked JSON, chunked SOAP with a rare Fault,
binary downloads, a binary protocol, resets).  Usage: gencap.py SIZE_MIB OUT
"""
import gzip
import os
import random
import sys

rnd = random.Random(7)
CHUNK = 16384          # the relay reads at most this much at a time here


def http_resp(status, headers, body):
    h = 'HTTP/1.1 %s\r\n' % status + ''.join('%s: %s\r\n' % kv for kv in headers)
    return h.encode() + b'\r\n' + body


def chunked(body, size=4000):
    out = b''
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b'%x\r\n' % len(part) + part + b'\r\n'
    return out + b'0\r\n\r\n'


def req(method, path, extra=b''):
    return (b'%s %s HTTP/1.1\r\nHost: ws.example.org\r\nUser-Agent: bench/1.0\r\n'
            b'Accept: */*\r\n' % (method, path)) + extra


html = (b'<!doctype html><title>bench</title>' + b'<p>some text on a page</p>\n' * 60)
js = b'{"items": [' + b','.join(b'{"id": %d, "name": "item %d", "ok": true}' % (i, i)
                               for i in range(300)) + b']}\n'
gz = gzip.compress(js, 6)
soap_ok = (b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/'
           b'soap/envelope/"><soap:Body><AddResponse><r>5</r></AddResponse>' +
           b'<pad>padding padding padding</pad>\n' * 200 + b'</soap:Body></soap:Envelope>\n')
soap_fault = soap_ok.replace(b'<AddResponse><r>5</r></AddResponse>',
                             b'<soap:Fault><faultstring>Server Fault</faultstring></soap:Fault>')
soap_req = (b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/'
            b'soap/envelope/"><soap:Body><Add><a>2</a><b>3</b></Add></soap:Body>'
            b'</soap:Envelope>\n' + b'<!-- request padding -->\n' * 40)
png = b'\x89PNG\r\n\x1a\n' + os.urandom(60000)

exchanges = [
    (req(b'GET', b'/index.html'),
     http_resp('200 OK', [('Content-Type', 'text/html'), ('Content-Length', len(html))], html)),
    (req(b'GET', b'/items.json', b'Accept-Encoding: gzip\r\n\r\n'),
     http_resp('200 OK', [('Content-Type', 'application/json'), ('Transfer-Encoding', 'chunked'),
                          ('Content-Encoding', 'gzip')], chunked(gz))),
    (req(b'POST', b'/ws', b'Content-Type: text/xml\r\nContent-Length: %d\r\n\r\n' %
         len(soap_req)) + soap_req,
     http_resp('200 OK', [('Content-Type', 'text/xml'), ('Transfer-Encoding', 'chunked')],
               chunked(soap_ok))),
    (req(b'GET', b'/logo.png', b'\r\n'),
     http_resp('200 OK', [('Content-Type', 'image/png'), ('Content-Length', len(png))], png)),
]
fault = (exchanges[2][0], http_resp('500 Internal Server Error',
         [('Content-Type', 'text/xml'), ('Transfer-Encoding', 'chunked')], chunked(soap_fault)))
exchanges[0] = (exchanges[0][0] + b'\r\n', exchanges[0][1])
binary = os.urandom(3000)

SRC = b'relay-4242'
T0 = 1795341600 * 1000000      # 2026-11-22T10:00:00Z


def ts(us):
    s, u = divmod(us, 1000000)
    d = s - T0 // 1000000
    return b'2026-11-22T%02d:%02d:%02d.%06dZ' % (10 + d // 3600, d // 60 % 60, d % 60, u)


def rec(kind, conn, t, payload=b'', dir=None, fields=b''):
    h = b'TCPMON/1 %s conn=%d src=%s time=%s' % (kind, conn, SRC, ts(t))
    if dir:
        h += b' dir=' + dir
    return h + fields + b' len=%d\n' % len(payload) + payload + b'\n'


def conn_records(cid, t):
    """The records of one connection, as a list."""
    out = [rec(b'open', cid, t, fields=b' client=10.0.0.%d:%d listen=0.0.0.0:8080 '
               b'target=10.0.1.1:80' % (cid % 250 + 1, 30000 + cid % 30000))]
    up = down = 0
    kind = rnd.random()
    if kind < 0.05:                      # a binary protocol
        out.append(rec(b'data', cid, t + 10, binary[:200], b'c2s'))
        out.append(rec(b'data', cid, t + 20, binary, b's2c'))
        up, down = 200, len(binary)
    else:
        for _ in range(rnd.randint(1, 4)):    # keep-alive exchanges
            q, a = rnd.choice(exchanges) if rnd.random() > 0.002 else fault
            out.append(rec(b'data', cid, t + 30, q, b'c2s'))
            for i in range(0, len(a), CHUNK):
                out.append(rec(b'data', cid, t + 40 + i, a[i:i + CHUNK], b's2c'))
            up += len(q)
            down += len(a)
    if kind > 0.99:
        out.append(rec(b'close', cid, t + 900, fields=b' reason=reset by=client c2s=%d s2c=%d'
                       % (up, down)))
    else:
        out.append(rec(b'shutdown', cid, t + 800, dir=b'c2s'))
        out.append(rec(b'shutdown', cid, t + 850, dir=b's2c'))
        out.append(rec(b'close', cid, t + 900, fields=b' reason=eof c2s=%d s2c=%d' % (up, down)))
    return out


def main():
    size = int(sys.argv[1]) * 1024 * 1024
    written = 0
    cid = 0
    t = T0
    with open(sys.argv[2], 'wb', buffering=4 << 20) as f:
        head = rec(b'stream', 0, t, fields=b' tool=tcpmon-relay version=0.1.0')
        f.write(head)
        written += len(head)
        live = []
        while written < size or live:
            # Eight connections at a time, their records interleaved.
            while len(live) < 8 and written < size:
                cid += 1
                t += 1000
                live.append(conn_records(cid, t))
            i = rnd.randrange(len(live))
            r = live[i].pop(0)
            if not live[i]:
                live.pop(i)
            f.write(r)
            written += len(r)


main()
