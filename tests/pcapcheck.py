#!/usr/bin/env python3
"""pcapcheck.py - checks for tcpmon-pcap (tests/80-pcap.bats), reading records
with tests/recparse.py and captures with tshark.

  pcapcheck.py follow RECORDS PCAP   every connection of RECORDS, in the order of
      their opens, is the TCP stream of the same index in PCAP (tshark -z
      follow,tcp,raw): the same bytes each way, and no other stream
  pcapcheck.py expert PCAP           tshark -z expert names no missing segment,
      unseen ACK, retransmission, out-of-order or malformed packet
  pcapcheck.py same RELAY PCAPRECS   each connection of PCAPRECS (records from
      tcpmon-pcap -r) has the bytes each way of the RELAY connection whose
      client= it shares, and every relay connection is found
  pcapcheck.py conns RECORDS         one line per connection: "CONN C2S S2C"
      with the byte counts of its data records and its close reason

Connections of a relay with stages: the open as sent, the rest as delivered.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recparse import records  # noqa: E402


# What tshark's TCP analysis says of a stream that is not whole or not right.
BAD_EXPERT = ('previous segment not captured', "acked segment that wasn't captured",
              'acked unseen', 'retransmission', 'out-of-order', 'dup ack',
              'bad checksum', 'checksum is', 'spurious', 'lost segment',
              'malformed packet (exception occurred)          tcp', 'window full')


def conns(path):
    """{(src, conn): {'open': fields, 'c2s': bytes, 's2c': bytes, ...}} in open order."""
    out = {}
    for kind, f, p in records(path):
        at = f.get('at')
        if at is not None and (at == 'sent') != (kind == 'open'):
            continue
        key = (f.get('src'), f.get('conn'))
        if kind == 'open':
            out.setdefault(key, {'open': f, 'c2s': bytearray(), 's2c': bytearray(),
                                 'close': None, 'notes': []})
        elif kind == 'data':
            c = out.setdefault(key, {'open': {}, 'c2s': bytearray(), 's2c': bytearray(),
                                     'close': None, 'notes': []})
            c[f['dir']] += p
        elif kind == 'close' and key in out:
            out[key]['close'] = f
        elif kind == 'note' and key in out:
            out[key]['notes'].append((f, p))
    return out


def follow(pcap, n):
    args = ['tshark', '-r', pcap, '-q']
    for i in range(n):
        args += ['-z', 'follow,tcp,raw,%d' % i]
    txt = subprocess.run(args, check=True, capture_output=True).stdout.decode()
    streams = {}
    for block in txt.split('=' * 67):
        lines = block.strip('\n').split('\n')
        idx = None
        c2s, s2c = bytearray(), bytearray()
        for ln in lines:
            if ln.startswith('Filter: tcp.stream eq '):
                idx = int(ln.split()[-1])
            elif ln.startswith('\t') and all(ch in '0123456789abcdef' for ch in ln[1:]) and ln[1:]:
                s2c += bytes.fromhex(ln[1:])
            elif ln and all(ch in '0123456789abcdef' for ch in ln):
                c2s += bytes.fromhex(ln)
        if idx is not None:
            streams[idx] = (c2s, s2c)
    return streams


def count_streams(pcap):
    txt = subprocess.run(['tshark', '-r', pcap, '-T', 'fields', '-e', 'tcp.stream'],
                         check=True, capture_output=True).stdout.decode()
    return len(set(x for x in txt.split() if x))


def main():
    what = sys.argv[1]
    bad = 0
    if what == 'follow':
        cs = list(conns(sys.argv[2]).items())
        ns = count_streams(sys.argv[3])
        if ns != len(cs):
            print('%d connections, %d TCP streams' % (len(cs), ns))
            bad = 1
        streams = follow(sys.argv[3], len(cs))
        for i, (key, c) in enumerate(cs):
            got = streams.get(i, (b'', b''))
            for d, g in (('c2s', got[0]), ('s2c', got[1])):
                if bytes(c[d]) != bytes(g):
                    print('conn %s stream %d %s: %d bytes recorded, %d followed'
                          % (key[1], i, d, len(c[d]), len(g)))
                    bad = 1
        if not bad:
            print('%d connections followed' % len(cs))
    elif what == 'expert':
        txt = subprocess.run(['tshark', '-r', sys.argv[2], '-q', '-z', 'expert'],
                             check=True, capture_output=True).stdout.decode()
        for ln in txt.split('\n'):
            low = ln.lower()
            if any(w in low for w in BAD_EXPERT):
                print(ln)
                bad = 1
    elif what == 'same':
        relay = conns(sys.argv[2])
        byclient = {c['open'].get('client'): c for c in relay.values()}
        got = conns(sys.argv[3])
        seen = set()
        for key, c in got.items():
            cl = c['open'].get('client')
            r = byclient.get(cl)
            if r is None:
                print('pcap connection %s from %s: not in the relay\'s records' % (key[1], cl))
                bad = 1
                continue
            seen.add(cl)
            for d in ('c2s', 's2c'):
                if bytes(r[d]) != bytes(c[d]):
                    print('%s %s: relay %d bytes, pcap %d bytes' % (cl, d, len(r[d]), len(c[d])))
                    bad = 1
        for cl in byclient:
            if cl not in seen:
                print('relay connection from %s: not in the pcap' % cl)
                bad = 1
        if not bad:
            print('%d connections the same' % len(got))
    elif what == 'conns':
        for key, c in conns(sys.argv[2]).items():
            print(key[1], len(c['c2s']), len(c['s2c']),
                  (c['close'] or {}).get('reason', '-'))
    else:
        sys.exit('pcapcheck.py: unknown command ' + what)
    sys.exit(bad)


if __name__ == '__main__':
    main()
