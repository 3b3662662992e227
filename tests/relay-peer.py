#!/usr/bin/env python3
"""relay-peer.py - the peers the relay tests need that socat cannot play:
half-closes at chosen moments, resets, a server that never answers, a
viewer that stops reading, and a streaming checker of record payloads.

  relay-peer.py server MODE [HOST]   one connection; prints "listening on H:P"
      halfclose-wait   read to EOF, then answer "got N bytes" and close
      halfclose-first  send "hello from server", half-close, read to EOF
      reset            read one chunk, then reset the connection
      hold             read until EOF or reset; say which
      count            as hold, with the bytes read: "eof N" or "reset N"
      trickle          send 1 KiB every 10 ms, read what comes, until
                       EOF or reset: "eof" or "reset" (at most 30 s)
      blackhole        a full listen queue: connects to it hang
      sink             read to EOF with a 32 MiB receive buffer (the relay's
                       sends never wait), then say "server got N bytes"
  relay-peer.py client MODE PORT [HOST]
      halfclose-wait   send "request", half-close, print the answer
      halfclose-first  read to EOF, then send "late data", close
      reset            send "x", wait for the echo, then reset
      expect-reset     send "x" and read: print "reset" or what came
      idle             send "hi", read the echo, wait for EOF; print "eof"
      count, trickle   as the server's
      send-reset=N     send N bytes at once, then reset
  relay-peer.py burst PATH N PID   connect to unix:PATH, stop PID (the
      relay), queue N bytes and a FIN, continue PID: the relay then reads
      them all in one wakeup.  Prints "eof" once the relay passes the
      sink's close back, or "no eof" after 10 s.
  relay-peer.py viewer PATH OUT [GOFILE]  copy a tap stream to OUT; with
      GOFILE, stop reading until GOFILE exists
  relay-peer.py slowread GOFILE          stdin to stdout once GOFILE exists
  relay-peer.py digests FILE    "CONN DIR SHA256 LEN" per direction with data,
      and "note dropped-bytes N" per lossy note
"""
import hashlib
import os
import signal
import socket
import struct
import sys
import time

DEADLINE = 60


def say(*a):
    print(*a, flush=True)


def wait_file(path):
    end = time.time() + DEADLINE
    while not os.path.exists(path):
        if time.time() > end:
            sys.exit('relay-peer.py: gave up waiting for ' + path)
        time.sleep(0.02)


def read_all(s):
    out = b''
    while True:
        b = s.recv(65536)
        if not b:
            return out
        out += b


def outq(s):
    """Bytes the socket holds that its peer has not acknowledged."""
    import fcntl
    import termios
    return struct.unpack('i', fcntl.ioctl(s.fileno(), termios.TIOCOUTQ,
                                          b'\0' * 4))[0]


def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.close()


def count(s, who):
    n = 0
    try:
        while True:
            b = s.recv(65536)
            if not b:
                say('%s eof %d' % (who, n))
                return
            n += len(b)
    except ConnectionResetError:
        say('%s reset %d' % (who, n))


def trickle(s, who):
    """Sends and reads until the other side ends: how it ends (a FIN, or
    a reset) is what the relay's tests look at."""
    s.setblocking(False)
    end = time.time() + 30
    chunk = b'z' * 1024
    while time.time() < end:
        try:
            s.send(chunk)
            b = s.recv(65536)
            if not b:
                say(who + ' eof')
                return
        except (BlockingIOError, InterruptedError):
            pass
        except (ConnectionResetError, BrokenPipeError):
            say(who + ' reset')
            return
        time.sleep(0.01)
    say(who + ' timeout')


def bigbuf(s, force, opt):
    # 32 MiB: the ...FORCE option needs CAP_NET_ADMIN; without it the
    # kernel's maximum (net.core.[rw]mem_max) is what we get.
    try:
        s.setsockopt(socket.SOL_SOCKET, force, 32 << 20)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, opt, 32 << 20)


def burst(path, n, pid):
    s = socket.socket(socket.AF_UNIX)
    # A Unix socket queues what its send buffer holds, whatever the
    # receiver does: all N bytes wait for the relay at once.
    bigbuf(s, 32, socket.SO_SNDBUF)   # SO_SNDBUFFORCE
    s.connect(path)
    os.kill(pid, signal.SIGSTOP)
    try:
        # Never wait on the stopped relay: with a smaller buffer than
        # asked for, the test is weaker, not hung.
        s.settimeout(5)
        s.sendall(b'x' * n)
        s.shutdown(socket.SHUT_WR)
    finally:
        os.kill(pid, signal.SIGCONT)
    s.settimeout(10)
    try:
        got = read_all(s)
        say('eof' if not got else 'unexpected %d bytes' % len(got))
    except socket.timeout:
        say('no eof')


def server(mode, host):
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    l = socket.socket(fam)
    l.bind((host, 0))
    port = l.getsockname()[1]
    if mode == 'blackhole':
        # Backlog 0 holds one connection; the SYNs after the queue is
        # full are dropped, so a connect hangs until its timeout.
        l.listen(0)
        fill = []
        for _ in range(3):
            c = socket.socket(fam)
            c.setblocking(False)
            try:
                c.connect((host, port))
            except BlockingIOError:
                pass
            fill.append(c)
        time.sleep(0.2)
        say('listening on %s:%d' % (host, port))
        time.sleep(DEADLINE)
        return
    if mode == 'sink':
        # Set before listen, so that the window is scaled for it.
        bigbuf(l, 33, socket.SO_RCVBUF)   # SO_RCVBUFFORCE
    l.listen(8)
    l.settimeout(DEADLINE)
    say('listening on %s:%d' % (host, port))
    c, _ = l.accept()
    c.settimeout(DEADLINE)
    if mode == 'halfclose-wait':
        got = read_all(c)
        c.sendall(b'got %d bytes' % len(got))
        c.close()
        say('server got: ' + got.decode())
    elif mode == 'halfclose-first':
        c.sendall(b'hello from server')
        c.shutdown(socket.SHUT_WR)
        got = read_all(c)
        c.close()
        say('server got: ' + got.decode())
    elif mode == 'reset':
        c.recv(65536)
        rst(c)
        say('server reset')
    elif mode == 'sink':
        say('server got %d bytes' % len(read_all(c)))
        c.close()
    elif mode == 'hold':
        try:
            got = read_all(c)
            say('server saw eof after %d bytes' % len(got))
        except ConnectionResetError:
            say('server saw reset')
    elif mode == 'count':
        count(c, 'server')
    elif mode == 'trickle':
        trickle(c, 'server')
    else:
        sys.exit('relay-peer.py: unknown server mode ' + mode)


def client(mode, port, host):
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = socket.socket(fam)
    s.settimeout(DEADLINE)
    try:
        s.connect((host, int(port)))
    except ConnectionResetError:
        # The relay accepted, then reset before connect(2) returned.
        if mode != 'expect-reset':
            raise
        say('reset')
        return
    if mode == 'halfclose-wait':
        s.sendall(b'request')
        s.shutdown(socket.SHUT_WR)
        say('client got: ' + read_all(s).decode())
    elif mode == 'halfclose-first':
        got = read_all(s)
        s.sendall(b'late data')
        s.close()
        say('client got: ' + got.decode())
    elif mode == 'reset':
        s.sendall(b'x')
        s.recv(10)
        rst(s)
        say('client reset')
    elif mode == 'expect-reset':
        try:
            s.sendall(b'x')
            got = read_all(s)
            say('got %d bytes and eof' % len(got))
        except (ConnectionResetError, BrokenPipeError):
            # A reset that arrives before the send shows as EPIPE.
            say('reset')
    elif mode == 'idle':
        s.sendall(b'hi')
        s.recv(10)
        t = time.time()
        read_all(s)
        say('eof after %.1fs' % (time.time() - t))
    elif mode == 'count':
        count(s, 'client')
    elif mode == 'trickle':
        trickle(s, 'client')
    elif mode.startswith('send-reset='):
        s.sendall(b'r' * int(mode.split('=', 1)[1]))
        # A reset throws away what the socket has not sent: wait until
        # the peer (the relay) has it all, as on a wire.
        end = time.time() + DEADLINE
        while outq(s) > 0 and time.time() < end:
            time.sleep(0.01)
        rst(s)
        say('client reset')
    else:
        sys.exit('relay-peer.py: unknown client mode ' + mode)


def viewer(path, out, gofile):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(DEADLINE)
    s.connect(path)
    say('attached')
    if gofile:
        wait_file(gofile)
    with open(out, 'wb') as f:
        while True:
            b = s.recv(65536)
            if not b:
                break
            f.write(b)
            f.flush()
    say('viewer done')


def slowread(gofile):
    wait_file(gofile)
    i, o = sys.stdin.buffer, sys.stdout.buffer
    while True:
        b = i.read1(1 << 20)
        if not b:
            return
        o.write(b)


def digests(path):
    f = open(path, 'rb')
    h = {}
    while True:
        line = f.readline()
        if not line:
            break
        toks = line.rstrip(b'\n').decode('ascii').split(' ')
        assert toks[0] == 'TCPMON/1', toks
        fields = dict(t.split('=', 1) for t in toks[2:])
        n = int(fields['len'])
        left = n
        key = (fields.get('conn'), fields.get('dir'))
        if toks[1] == 'data':
            st = h.setdefault(key, [hashlib.sha256(), 0])
        while left > 0:
            b = f.read(min(left, 1 << 20))
            assert b, 'truncated payload'
            if toks[1] == 'data':
                st[0].update(b)
                st[1] += len(b)
            left -= len(b)
        assert f.read(1) == b'\n', 'no newline after payload'
        if toks[1] == 'note' and 'dropped-bytes' in fields:
            say('note dropped-bytes', fields['dropped-bytes'])
    for (conn, d), (sha, n) in sorted(h.items(), key=lambda x: (int(x[0][0]), x[0][1])):
        say(conn, d, sha.hexdigest(), n)


def main():
    a = sys.argv[1:]
    if a[0] == 'server':
        server(a[1], a[2] if len(a) > 2 else '127.0.0.1')
    elif a[0] == 'client':
        client(a[1], a[2], a[3] if len(a) > 3 else '127.0.0.1')
    elif a[0] == 'burst':
        burst(a[1], int(a[2]), int(a[3]))
    elif a[0] == 'viewer':
        viewer(a[1], a[2], a[3] if len(a) > 3 else None)
    elif a[0] == 'slowread':
        slowread(a[1])
    elif a[0] == 'digests':
        digests(a[1])
    else:
        sys.exit('relay-peer.py: unknown command ' + a[0])


main()
