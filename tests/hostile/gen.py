#!/usr/bin/env python3
"""gen.py DIR - writes the hostile inputs named in tests/hostile.tsv into DIR.
Each is small to describe and built here, so the table stays readable."""
import gzip, os, sys

d = sys.argv[1]
os.makedirs(d, exist_ok=True)


def rec(kind, conn, payload=b'', **f):
    hdr = 'TCPMON/1 %s conn=%d src=h time=2026-11-22T10:00:00.000000Z' % (kind, conn)
    for k, v in f.items():
        hdr += ' %s=%s' % (k.replace('_', '-'), v)
    return (hdr + ' len=%d\n' % len(payload)).encode() + payload + b'\n'


def put(name, data):
    with open(os.path.join(d, name), 'wb') as fh:
        fh.write(data)


def http_resp(body, extra=b''):
    return (b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n' % len(body)) + extra + b'\r\n' + body


conv = rec('open', 1, client='127.0.0.1:1', target='127.0.0.1:2')
put('empty', b'')
put('notrec', b'hello, not records\n')
put('hugeline', b'A' * (10 << 20))
put('nul', b'\0' * 100000)
put('hugehdr', b'TCPMON/1 data conn=1 ' + b'x=' + b'y' * (1 << 20) + b' len=0\n\n')
put('badutf8', conv + rec('data', 1, b'\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc\xff\xfe', dir='c2s'))
put('head1m', conv + rec('data', 1, b'GET / HTTP/1.1\r\n' + b'X-Big: ' + b'z' * (1 << 20) + b'\r\n\r\n', dir='c2s'))
put('million', conv + b''.join(rec('data', 1, b'x', dir='c2s') for _ in range(1000000)))
gz = gzip.compress(b'<a>' + b'<b>text</b>' * 5000 + b'</a>')
put('badgzip', conv + rec('data', 1, http_resp(gz[:len(gz) // 2], b'Content-Type: text/xml\r\nContent-Encoding: gzip\r\n'), dir='s2c'))
lol = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">' + b''.join(
    b'<!ENTITY %c "%s">' % (ord('b') + i, (b'&%c;' % (ord('a') + i)) * 10) for i in range(9)) + b']><l>&j;</l>'
put('xmlbomb', conv + rec('data', 1, http_resp(lol, b'Content-Type: text/xml\r\n'), dir='s2c'))
put('jsondeep', conv + rec('data', 1, http_resp(b'[' * 100000 + b']' * 100000, b'Content-Type: application/json\r\n'), dir='s2c'))
put('lenover', b'TCPMON/1 data conn=1 dir=c2s len=99999999999\nx\n')
put('lenneg', b'TCPMON/1 data conn=1 dir=c2s len=-1\n\n')
put('connover', b'TCPMON/1 data conn=99999999999999999999999 dir=c2s len=0\n\n')
put('truncated', (conv + rec('data', 1, b'abcdef' * 1000, dir='c2s'))[:-3000])
put('badtime', b'TCPMON/1 data conn=1 time=2026-02-30T25:61:61Z dir=c2s len=0\n\n')
put('unknown', conv + rec('future', 1, b'\0\1\2', shiny='yes') + rec('data', 1, b'ok', dir='c2s'))
