#!/usr/bin/env python3
"""tests/soapd-hold.py PORT: a keep-alive client that asks GET / once, reads
the whole answer, prints "held" and then holds its connection open, idle,
until killed (at most 30 s)."""
import socket
import sys
import time

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
head, _, body = buf.partition(b"\r\n\r\n")
length = int([l.split(b":", 1)[1] for l in head.split(b"\r\n")
              if l.lower().startswith(b"content-length:")][0])
while len(body) < length:
    body += s.recv(4096)
print("held", flush=True)
time.sleep(30)
