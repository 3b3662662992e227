#!/usr/bin/env python3
"""proxychaos.py PROXY_PORT TARGET_PORT SECONDS - clients of a proxy-mode
relay that misbehave, one after another for SECONDS (at most 5000 of
them): half a request head and gone; a request and gone before the
answer; a CONNECT tunnel that reads part of an answer and goes; an answer
reset in its middle; and, between them, well-behaved keep-alive clients
whose two answers must come whole (TARGET serves /big and /kib, read from
the files of argv 4 and 5 to compare).  Prints "good N chaos M"; exit 1
when a good client's answer was wrong.  Only 127.0.0.1 is used."""
import random
import socket
import struct
import sys
import time


def read_answer(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        got = s.recv(65536)
        if not got:
            raise ValueError("closed before the head")
        buf += got
    head, body = buf.split(b"\r\n\r\n", 1)
    length = [int(l.split(b":", 1)[1]) for l in head.split(b"\r\n")
              if l.lower().startswith(b"content-length:")]
    if not head.startswith(b"HTTP/1.1 200") or not length:
        raise ValueError("not a 200 with a length: %r" % head[:60])
    while len(body) < length[0]:
        got = s.recv(65536)
        if not got:
            raise ValueError("answer cut")
        body += got
    return body


def main():
    px, tgt, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    big, kib = open(sys.argv[4], "rb").read(), open(sys.argv[5], "rb").read()
    rnd = random.Random(20261204)
    get = b"GET http://127.0.0.1:%d/%%s HTTP/1.1\r\nHost: t\r\n\r\n" % tgt
    end = time.monotonic() + secs
    good = chaos = 0
    for i in range(5000):
        if time.monotonic() >= end:
            break
        k = rnd.randrange(6)
        s = socket.create_connection(("127.0.0.1", px), timeout=10)
        try:
            if k == 0:
                s.sendall((get % b"big")[:30])
            elif k == 1:
                s.sendall(get % b"big")
            elif k == 2:
                s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: t\r\n\r\n"
                          % tgt)
                s.recv(100)
                s.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
                s.recv(5000)
            elif k == 3:
                s.sendall(get % b"big")
                s.recv(3000)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
            else:
                for path, want in ((b"kib", kib), (b"big", big)):
                    s.sendall(get % path)
                    if read_answer(s) != want:
                        print("good client %d: %s differs" % (i, path))
                        return 1
                good += 1
                continue
            chaos += 1
        except (OSError, ValueError) as e:
            if k >= 4:
                print("good client %d: %s" % (i, e))
                return 1
            chaos += 1
        finally:
            s.close()
    print("good %d chaos %d" % (good, chaos))
    return 0


if __name__ == "__main__":
    sys.exit(main())
