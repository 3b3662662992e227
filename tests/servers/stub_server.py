#!/usr/bin/python3
"""stub_server.py MODE - misbehaving HTTP servers for the tcpmon-send tests.
It binds 127.0.0.1 on a free port and prints "listening on 127.0.0.1:PORT"
on stderr once it accepts connections.  Each connection is served by MODE:

  early    reads the request head, sends half of a 100-byte answer, closes
  silent   reads the request and never answers (the connection stays open)
  nothttp  reads the request head, answers with bytes that are not HTTP
  empty    reads the request head and closes without a byte
  escapes  answers 403 with terminal escapes (OSC 52, a title, CSI, C1 in
           both forms) in its status line, a header and its body; as an
           HTTP proxy, refuses CONNECT with that status line
"""
import socket
import sys
import threading


def read_head(c):
    data = b''
    while b'\r\n\r\n' not in data:
        got = c.recv(65536)
        if not got:
            break
        data += got
    return data


def serve(c, mode):
    try:
        answer(c, mode)
    except OSError:
        pass    # the client gave up (a reset): nothing to report
    finally:
        c.close()


def answer(c, mode):
    read_head(c)
    if mode == 'early':
        c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly half')
    elif mode == 'silent':
        while c.recv(65536):
            pass
    elif mode == 'nothttp':
        c.sendall(b'SSH-2.0-OpenSSH_9.2\r\n')
    elif mode == 'escapes':
        evil = (b'\x1b]52;c;b3duZWQ=\x07\x1b]0;owned\x07\x1b[2J'
                b'\xc2\x9b31m\x9b31m\x7f')
        body = b'body ' + evil + b'\r\nline two\r\n'
        c.sendall(b'HTTP/1.1 403 Forbidden ' + evil + b'\r\nX-Evil: ' +
                  evil + b'\r\nContent-Type: text/plain\r\n'
                  b'Content-Length: %d\r\n\r\n' % len(body) + body)
    # Read what is left before closing, so the kernel sends a FIN and not
    # a reset that could hide the bytes sent.
    c.shutdown(socket.SHUT_WR)
    c.settimeout(2)
    while c.recv(65536):
        pass


def main():
    mode = sys.argv[1]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', 0))
    s.listen(16)
    print('listening on 127.0.0.1:%d' % s.getsockname()[1], file=sys.stderr,
          flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, mode), daemon=True).start()


main()
