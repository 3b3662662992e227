#!/usr/bin/env python3
"""pcaps.py - crafted captures for tcpmon-pcap -r (tests/80-pcap.bats), written
with struct: classic pcap, one TCP conversation or a few, each case a trap of
TCP reassembly.  Usage: pcaps.py CASE OUT [LINK]

CASE: plain, ooo, retrans, overlap, midstream, reuse, gap, gapend, flood, cut,
      v6
LINK: eth (default), raw, sll, sll2, null, loop; pcapng writes the same
      frames (Ethernet) as a pcapng file.
"""
import struct
import sys

LINKS = {'eth': 1, 'raw': 101, 'sll': 113, 'sll2': 276, 'null': 0, 'loop': 108}


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


class Cap:
    def __init__(self, link):
        self.link = link
        self.frames = []
        self.t = 1764756000000000  # microseconds

    def tcp(self, src, dst, sport, dport, seq, ack, flags, data=b''):
        v6 = ':' in src
        hdr = struct.pack('!HHIIBBHHH', sport, dport, seq & 0xffffffff,
                          ack & 0xffffffff, 5 << 4, flags, 65535, 0, 0)
        seg = hdr + data
        if v6:
            import socket
            s, d = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
            ph = s + d + struct.pack('!IxxxB', len(seg), 6)
        else:
            s, d = bytes(map(int, src.split('.'))), bytes(map(int, dst.split('.')))
            ph = s + d + struct.pack('!xBH', 6, len(seg))
        c = csum(ph + seg)
        seg = seg[:16] + struct.pack('!H', c) + seg[18:]
        if v6:
            ip = struct.pack('!IHBB', 6 << 28, len(seg), 6, 64) + s + d
            etype, fam = 0x86dd, 10
        else:
            ip = struct.pack('!BBHHHBBH', 0x45, 0, 20 + len(seg), 1, 0x4000, 64, 6, 0) + s + d
            ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
            etype, fam = 0x0800, 2
        pkt = ip + seg
        if self.link in ('eth', 'pcapng'):
            pkt = b'\x02\0\0\0\0\x01' + b'\x02\0\0\0\0\x02' + struct.pack('!H', etype) + pkt
        elif self.link == 'sll':
            pkt = struct.pack('!HHH8sH', 0, 772, 6, b'\0' * 8, etype) + pkt
        elif self.link == 'sll2':
            pkt = struct.pack('!HHIHBB8s', etype, 0, 1, 772, 0, 6, b'\0' * 8) + pkt
        elif self.link == 'null':
            pkt = struct.pack('<I', fam) + pkt
        elif self.link == 'loop':
            pkt = struct.pack('!I', fam) + pkt
        self.t += 1000
        self.frames.append((self.t, pkt))

    def write(self, path, cut=False):
        out = open(path, 'wb')
        if self.link == 'pcapng':
            shb = struct.pack('<IIIHHq', 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack('<I', 28)
            idb = struct.pack('<IIHHI', 1, 20, 1, 0, 0) + struct.pack('<I', 20)
            out.write(shb + idb)
            for t, p in self.frames:
                us = t
                pad = (4 - len(p) % 4) % 4
                n = 32 + len(p) + pad
                out.write(struct.pack('<IIIIIII', 6, n, 0, us >> 32, us & 0xffffffff,
                                      len(p), len(p)) + p + b'\0' * pad + struct.pack('<I', n))
            return
        out.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144, LINKS[self.link]))
        for i, (t, p) in enumerate(self.frames):
            rec = struct.pack('<IIII', t // 1000000, t % 1000000, len(p), len(p)) + p
            if cut and i == len(self.frames) - 1:
                rec = rec[:16 + len(p) // 2]
            out.write(rec)


SYN, FIN, RST, PSH, ACK = 2, 1, 4, 8, 16
C, S = '10.0.0.1', '10.0.0.2'
CP, SP = 40000, 8080


class Conv:
    """One conversation: seqs kept for each side."""

    def __init__(self, cap, c=C, s=S, cp=CP, sp=SP, cisn=1000, sisn=5000):
        self.cap, self.a, self.cp, self.sp = cap, (c, s), cp, sp
        self.isn = [cisn, sisn]
        self.nxt = [cisn + 1, sisn + 1]

    def pkt(self, side, seq, flags, data=b'', ack=None):
        src, dst = (self.a[0], self.a[1]) if side == 0 else (self.a[1], self.a[0])
        sp, dp = (self.cp, self.sp) if side == 0 else (self.sp, self.cp)
        self.cap.tcp(src, dst, sp, dp, seq, self.nxt[1 - side] if ack is None else ack,
                     flags, data)

    def open(self):
        self.pkt(0, self.isn[0], SYN, ack=0)
        self.pkt(1, self.isn[1], SYN | ACK)
        self.pkt(0, self.nxt[0], ACK)

    def send(self, side, data, off=0, acked=True):
        """data at offset off from the next byte; acked: the other side ACKs all."""
        self.pkt(side, self.nxt[side] + off, PSH | ACK, data)

    def move(self, side, n):
        self.nxt[side] += n

    def ack(self, side):
        self.pkt(1 - side, self.nxt[1 - side], ACK)

    def fin(self, side):
        self.pkt(side, self.nxt[side], FIN | ACK)
        self.nxt[side] += 1
        self.ack(side)


def main():
    case, path = sys.argv[1], sys.argv[2]
    link = sys.argv[3] if len(sys.argv) > 3 else 'eth'
    cap = Cap(link)
    req, resp = b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'
    if case in ('plain', 'cut', 'v6'):
        k = Conv(cap) if case != 'v6' else Conv(cap, '2001:db8::1', '2001:db8::2')
        k.open()
        k.send(0, req); k.move(0, len(req)); k.ack(0)
        k.send(1, resp); k.move(1, len(resp)); k.ack(1)
        k.fin(0); k.fin(1)
    elif case == 'ooo':
        # Three client segments, the last first: c2s is A B C.
        k = Conv(cap); k.open()
        k.send(0, b'CCCCCCCCCC', 20)
        k.send(0, b'AAAAAAAAAA', 0)
        k.send(0, b'BBBBBBBBBB', 10)
        k.move(0, 30); k.ack(0)
        k.send(1, resp); k.move(1, len(resp)); k.ack(1)
        k.fin(0); k.fin(1)
    elif case == 'retrans':
        # The same segment twice, the second copy different: the first wins.
        k = Conv(cap); k.open()
        k.send(0, b'first-copy')
        k.send(0, b'SECOND-CPY')
        k.move(0, 10); k.ack(0)
        k.send(0, b'first-copy', -10)  # after the ACK too
        k.send(1, resp); k.move(1, len(resp)); k.ack(1)
        k.send(1, resp, -len(resp))
        k.fin(0); k.fin(1)
    elif case == 'overlap':
        # In order, then an overlap; early, then an overlap from before.
        k = Conv(cap); k.open()
        k.send(0, b'AAAAAAAAAA', 0)
        k.send(0, b'bbbbbbbbbb', 5)          # bytes 5-9 already written: 10-14 new
        k.move(0, 15)
        k.send(0, b'CCCCCCCCCC', 10)         # early: 25-34
        k.send(0, b'dddddddddddddddd', 0)    # 15-30: 25-30 lose to C
        k.move(0, 20); k.ack(0)
        k.fin(0); k.fin(1)
    elif case == 'midstream':
        # No handshake: the client is the end with the higher port.
        k = Conv(cap, cp=50123, sp=80)
        k.send(1, b'tail-of-an-answer')
        k.move(1, 17); k.ack(1)
        k.send(0, req); k.move(0, len(req)); k.ack(0)
        k.send(1, resp); k.move(1, len(resp)); k.ack(1)
        k.fin(0); k.fin(1)
    elif case == 'reuse':
        # One 4-tuple, two connections; the last ACK of the first before
        # the second's SYN.
        k = Conv(cap); k.open()
        k.send(0, b'one'); k.move(0, 3); k.ack(0)
        k.fin(0); k.fin(1)
        k = Conv(cap, cisn=900000, sisn=77777); k.open()
        k.send(0, b'two'); k.move(0, 3); k.ack(0)
        k.send(1, b'2'); k.move(1, 1); k.ack(1)
        k.fin(1); k.fin(0)
    elif case == 'gap':
        # Bytes 10-19 never captured, yet acknowledged.
        k = Conv(cap); k.open()
        k.send(0, b'0123456789', 0)
        k.send(0, b'abcdefghij', 20)
        k.move(0, 30); k.ack(0)
        k.send(1, resp); k.move(1, len(resp)); k.ack(1)
        k.fin(0); k.fin(1)
    elif case == 'flood':
        # The first 100 bytes never come, then 8 MiB early, never
        # acknowledged: held up to the buffer, then given up as a gap.
        k = Conv(cap); k.open()
        chunk = bytes(range(256)) * 64
        for i in range(8 * 1024 * 1024 // len(chunk)):
            k.send(0, chunk, 100 + i * len(chunk))
    elif case == 'gapend':
        # A hole the capture ends with, never acknowledged, connection open.
        k = Conv(cap); k.open()
        k.send(0, b'0123456789', 0)
        k.send(0, b'abcdefghij', 15)
    else:
        sys.exit('pcaps.py: unknown case ' + case)
    cap.write(path, cut=(case == 'cut'))


if __name__ == '__main__':
    main()
