#!/usr/bin/env python3
"""sendrecv.py PORT BYTES: connects to 127.0.0.1:PORT, sends BYTES (Python
escapes such as \\r\\n are taken), half-closes, reads to the server's end,
and prints two lines: the milliseconds from the send to the end, and the
repr of what came back."""
import socket
import sys
import time

data = sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
t0 = time.monotonic()
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    got += d
print(int((time.monotonic() - t0) * 1000))
print(repr(got))
