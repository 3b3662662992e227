#!/usr/bin/env python3
"""escapes.py - writes a capture whose field values and payloads hold what
would drive a terminal: an OSC 52 clipboard write, a title change, CSI
sequences, C1 controls in raw and UTF-8 form, DEL.  For the tests that
tcpmon-tap, tcpmon-grep and tcpmon-send show none of it (95-security.bats).
Usage: escapes.py [OUT]"""
import sys

OSC52 = b'\x1b]52;c;b3duZWQ=\x07'
TITLE = b'\x1b]0;owned\x1b\\'
CSI = b'\x1b[2J\x1b[31m'
C1 = b'\xc2\x9b31m\xc2\x9d0;t\xc2\x9c'      # CSI, OSC, ST as UTF-8 C1
RAW_C1 = b'\x9b31m\x9d0;t\x9c'               # the same as single bytes
ALL = OSC52 + TITLE + CSI + C1 + RAW_C1 + b'\x7f\x01'


def esc(v):
    """A field value as writers escape it (tcpmon-record(5))."""
    return ''.join(chr(c) if 0x20 < c < 0x7f and c != 0x25 else '%%%02X' % c
                   for c in v)


def rec(kind, conn, fields, payload=b'', src=b'r1'):
    h = 'TCPMON/1 %s conn=%d src=%s time=2026-11-22T10:00:00.000001Z' % (
        kind, conn, esc(src))
    for k, v in fields:
        h += ' %s=%s' % (k, esc(v))
    h += ' len=%d\n' % len(payload)
    return h.encode() + payload + b'\n'


body = b'text ' + ALL + b' end\n'
resp = (b'HTTP/1.1 200 OK' + C1 + b'\r\nX-Evil: ' + OSC52 + TITLE +
        b'\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n' %
        len(body) + body)
out = [
    rec('stream', 0, [('tool', b'relay' + TITLE), ('version', C1)]),
    rec('open', 1, [('client', b'1.2.3.4:5' + OSC52), ('target', TITLE),
                    ('listen', CSI + RAW_C1)]),
    rec('data', 1, [('dir', b'c2s')], b'GET /' + ALL + b' HTTP/1.1\r\n\r\n'),
    rec('data', 1, [('dir', b's2c')], resp),
    rec('note', 1, [('level', b'warn' + C1)], b'note ' + ALL),
    rec('data', 2, [('dir', b'c2s'), ('xform', b'xml' + OSC52)],
        b'plain ' + ALL + b'\n', src=b'r2' + TITLE),
    rec('data', 3, [('dir', b'c2s')], b'raw bytes ' + ALL + b'\x00\n'),
    rec('close', 1, [('reason', b'error' + CSI), ('by', C1),
                     ('error', OSC52 + TITLE + RAW_C1), ('c2s', CSI),
                     ('s2c', b'1')]),
    rec('close', 2, [('reason', b'eof'), ('c2s', b'1'), ('s2c', b'0')],
        src=b'r2' + TITLE),
]
f = open(sys.argv[1], 'wb') if len(sys.argv) > 1 else sys.stdout.buffer
f.write(b''.join(out))
