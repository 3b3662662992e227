#!/usr/bin/env python3
"""recparse.py - an independent reader of tcpmon records for the tests, written
from man/tcpmon-record.5 rather than from common/record.c, so that the two
readers check each other.

  recparse.py FILE kinds            one line per record: "KIND CONN DIR LEN"
  recparse.py FILE payload CONN DIR the payload bytes of CONN and DIR on stdout
  recparse.py FILE field CONN KIND KEY   the value of KEY in CONN's KIND record
  recparse.py FILE notes CONN       the text of CONN's note records

With RP_AT=sent or RP_AT=delivered in the environment, only the records with
that `at` field (a relay with stages) are read.
"""
import os
import sys


def records(path):
    data = open(path, 'rb').read()
    pos = 0
    while pos < len(data):
        nl = data.index(b'\n', pos)
        toks = data[pos:nl].decode('ascii').split(' ')
        assert toks[0] == 'TCPMON/1', toks[0]
        fields = {}
        for t in toks[2:]:
            k, v = t.split('=', 1)
            fields[k] = unesc(v)
        n = int(fields['len'])
        payload = data[nl + 1:nl + 1 + n]
        assert data[nl + 1 + n:nl + 2 + n] == b'\n'
        pos = nl + 2 + n
        if os.environ.get('RP_AT') and fields.get('at') != os.environ['RP_AT']:
            continue
        yield toks[1], fields, payload


def unesc(v):
    out, i = bytearray(), 0
    while i < len(v):
        if v[i] == '%':
            out.append(int(v[i + 1:i + 3], 16))
            i += 3
        else:
            out += v[i].encode()
            i += 1
    return out.decode('utf-8', 'replace')


def main():
    path, what = sys.argv[1], sys.argv[2]
    if what == 'kinds':
        for kind, f, p in records(path):
            print(kind, f.get('conn', '0'), f.get('dir', '-'), len(p))
    elif what == 'payload':
        conn, d = sys.argv[3], sys.argv[4]
        out = sys.stdout.buffer
        for kind, f, p in records(path):
            if kind == 'data' and f.get('conn') == conn and f.get('dir') == d:
                out.write(p)
    elif what == 'notes':
        for kind, f, p in records(path):
            if kind == 'note' and f.get('conn') == sys.argv[3]:
                sys.stdout.buffer.write(p + b'\n')
    elif what == 'field':
        conn, k, key = sys.argv[3], sys.argv[4], sys.argv[5]
        for kind, f, p in records(path):
            if kind == k and f.get('conn') == conn:
                print(f.get(key, ''))
    else:
        sys.exit('recparse.py: unknown command ' + what)


if __name__ == '__main__':
    main()
