# idle.py PORT URL N: N keep-alive clients of a proxy, each asks for URL
# once and reads the whole answer, then all stay open, idle, until stdin
# closes; "ready" on stdout once they are.  bench/proxy.sh reads the
# proxy's memory meanwhile.
import socket
import sys

port, url, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
held = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % url).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        got = s.recv(65536)
        if not got:
            sys.exit("idle.py: the proxy closed before an answer")
        buf += got
    head, body = buf.split(b"\r\n\r\n", 1)
    length = [int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
              if line.lower().startswith(b"content-length:")]
    if not head.startswith(b"HTTP/1.1 200") or not length:
        sys.exit("idle.py: not a 200 with a length: %r" % head[:80])
    while len(body) < length[0]:
        got = s.recv(65536)
        if not got:
            sys.exit("idle.py: the answer was cut")
        body += got
    held.append(s)
print("ready", flush=True)
sys.stdin.read()
