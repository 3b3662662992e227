#!/usr/bin/env python3
"""soak.py - a bounded soak test of tcpmon-relay under mixed load.

The relay runs in front of an echo server, with a viewer attached to its
--tap socket and, when given, a data-path stage (--through).  Worker threads
make connections of five kinds for SOAK_SECONDS: bulk transfers, keep-alive
chatter, half-closes, resets, and clients that vanish.  Midway the target is
stopped and started again on the same port.  At the end it checks:

  - every completed exchange came back byte for byte (SHA-256);
  - every connection in the capture has its open and its close record;
  - the relay holds as many descriptors as before the load;
  - its resident memory is back near where it started.

With --stall-reader SECS the records go through a pipe to a reader (a
thread here) that stops reading for SECS a quarter of the way in: the
traffic must wait for it (lossless) without the relay spinning, and every
exchange must still complete.

With --rotate-size SIZE the capture is cut into files as the relay goes,
and with --sighup N it is moved away N times under load and the relay
told with SIGHUP (logrotate's create mode): the files, each a stream of
its own, put in the order of their first records, must then be one whole
capture, each connection's data adding up to the byte counts of its close.

Usage: soak.py BINDIR SECONDS [--through CMD] [--workers N] [--wrap CMD]
               [--stall-reader SECS] [--rotate-size SIZE] [--sighup N]
(--wrap runs the relay under CMD, e.g. valgrind; its exit status counts.)
Exit status 0 when every check passed.  Only 127.0.0.1 is used.
"""
import argparse
import hashlib
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time


class Echo:
    """A threaded echo server that can be stopped and started again on the
    same port (the target that restarts midway)."""

    def __init__(self):
        self.port = 0
        self.sock = None
        self.stopping = False
        self.start()

    def start(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(512)
        self.port = s.getsockname()[1]
        self.sock = s
        self.stopping = False
        threading.Thread(target=self.accept, args=(s,), daemon=True).start()

    def stop(self):
        self.stopping = True
        self.sock.close()

    def accept(self, s):
        while not self.stopping:
            try:
                c, _ = s.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    @staticmethod
    def serve(c):
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                c.sendall(b)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            c.close()


def recv_all(s, limit):
    out = bytearray()
    while len(out) < limit:
        b = s.recv(min(1 << 20, limit - len(out)))
        if not b:
            break
        out += b
    return bytes(out)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = {}
        self.bytes = 0
        self.corrupt = []

    def add(self, kind, nbytes=0):
        with self.lock:
            self.n[kind] = self.n.get(kind, 0) + 1
            self.bytes += nbytes


def bulk(port, st, rnd):
    data = rnd.randbytes(rnd.randint(1 << 20, 4 << 20))
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    got = bytearray()

    def reader():
        try:
            got.extend(recv_all(s, len(data) + 1))
        except OSError:
            pass

    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    t.join(60)
    s.close()
    if len(got) == 0:
        st.add("bulk-refused")
        return
    if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
        st.corrupt.append("bulk of %d bytes came back as %d" % (len(data), len(got)))
    st.add("bulk", 2 * len(data))


def chatter(port, st, rnd):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    for _ in range(20):
        m = rnd.randbytes(rnd.randint(1, 300))
        s.sendall(m)
        back = recv_all(s, len(m))
        if len(back) == 0:
            st.add("chatter-cut")
            s.close()
            return
        if back != m:
            st.corrupt.append("chatter message changed")
    s.close()
    st.add("chatter", 40 * 150)


def halfclose(port, st, rnd):
    m = rnd.randbytes(rnd.randint(1, 100000))
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(m)
    s.shutdown(socket.SHUT_WR)
    back = recv_all(s, len(m) + 1)
    s.close()
    if back and back != m:
        st.corrupt.append("half-closed exchange changed")
    st.add("halfclose" if back else "halfclose-refused", 2 * len(m))


def reset(port, st, rnd):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(rnd.randbytes(rnd.randint(1, 50000)))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    st.add("reset")


def vanish(port, st, rnd):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(rnd.randbytes(rnd.randint(1, 200000)))
    s.close()
    st.add("vanish")


KINDS = [bulk, chatter, chatter, halfclose, halfclose, reset, vanish]


def worker(port, deadline, st, seed):
    rnd = random.Random(seed)
    while time.monotonic() < deadline:
        k = rnd.choice(KINDS)
        try:
            k(port, st, rnd)
        except (ConnectionError, socket.timeout, OSError):
            st.add(k.__name__ + "-failed")


def cpu_s(pid):
    """User plus system time of a process, in seconds."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


class Reader:
    """Copies the relay's records from a pipe to the capture file, and
    stops reading for a while when asked: a reader of the records that is
    stopped (as by SIGSTOP)."""

    def __init__(self, pipe, path):
        self.pipe, self.out = pipe, open(path, "wb")
        self.go = threading.Event()
        self.go.set()
        self.t = threading.Thread(target=self.run)
        self.t.start()

    def run(self):
        while True:
            self.go.wait()
            b = os.read(self.pipe.fileno(), 1 << 20)
            if not b:
                break
            self.out.write(b)
        self.out.close()


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_line(path, pattern, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            m = re.search(pattern, open(path).read())
            if m:
                return m
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit("soak: timed out waiting for /%s/ in %s" % (pattern, path))


def check_capture(path):
    """Every connection has its open and exactly one close; with a stage,
    so do the delivered copies (at=delivered) of the connections the stage
    saw, apart from the copies as sent."""
    opened, closed = set(), {}
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        toks = data[pos:nl].split(b" ")
        fields = dict(t.split(b"=", 1) for t in toks[2:])
        kind, conn = toks[1], (fields.get(b"conn", b"0"), fields.get(b"at"))
        if kind == b"open":
            opened.add(conn)
        elif kind == b"close":
            closed[conn] = closed.get(conn, 0) + 1
        pos = nl + 2 + int(fields[b"len"])
    bad = [c for c in opened if closed.get(c) != 1]
    return len([c for c in opened if c[1] != b"delivered"]), bad


def records(data):
    """(kind, fields, payload) of each record of a stream."""
    pos = 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        toks = data[pos:nl].split(b" ")
        fields = dict(t.split(b"=", 1) for t in toks[2:])
        n = int(fields[b"len"])
        yield toks[1], fields, data[nl + 1:nl + 1 + n]
        pos = nl + 2 + n


def join_files(cap, out):
    """Puts the files the capture was cut into (rotated, moved for SIGHUP,
    and the last) in the order of their first records into out; returns
    the problems found: a file that is not a stream of its own, data that
    does not add up to the close's counts."""
    d = os.path.dirname(cap)
    files, bad = [], []
    for name in os.listdir(d):
        path = os.path.join(d, name)
        if not name.startswith(os.path.basename(cap)):
            continue
        data = open(path, "rb").read()
        try:
            recs = list(records(data))
        except (ValueError, KeyError, IndexError):
            bad.append("%s: not a whole stream" % name)
            continue
        if not recs or recs[0][0] != b"stream":
            bad.append("%s: does not begin with a stream record" % name)
            continue
        files.append((recs[0][1][b"time"], name, data))
    files.sort()
    sums, closes = {}, {}
    with open(out, "wb") as f:
        for _, _, data in files:
            f.write(data)
            for kind, fl, payload in records(data):
                key = (fl.get(b"conn"), fl.get(b"at"))
                if kind == b"data":
                    k = key + (fl[b"dir"],)
                    sums[k] = sums.get(k, 0) + len(payload)
                elif kind == b"close":
                    closes[key] = fl
    for key, fl in closes.items():
        for d in (b"c2s", b"s2c"):
            if d in fl and int(fl[d]) != sums.get(key + (d,), 0):
                bad.append("conn %s%s: %s %d bytes recorded, the close says %s" %
                           (key[0].decode(), " at=" + key[1].decode() if key[1] else "",
                            d.decode(), sums.get(key + (d,), 0), fl[d].decode()))
    return len(files), bad[:10]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bindir")
    ap.add_argument("seconds", type=int)
    ap.add_argument("--through")
    ap.add_argument("--workers", type=int, default=12)
    ap.add_argument("--wrap", default="")
    ap.add_argument("--stall-reader", type=float, default=0)
    ap.add_argument("--rotate-size")
    ap.add_argument("--sighup", type=int, default=0)
    a = ap.parse_args()
    if a.stall_reader and (a.rotate_size or a.sighup):
        sys.exit("soak: --stall-reader reads a pipe: no -o file to rotate")
    # The stall fits between the start and the target's restart midway.
    a.stall_reader = min(a.stall_reader, a.seconds / 4)

    tmp = tempfile.mkdtemp(prefix="tms.")
    cap, sock, err = tmp + "/cap.tcpmon", tmp + "/tap.sock", tmp + "/relay.err"
    echo = Echo()
    cmd = a.wrap.split() + [a.bindir + "/tcpmon-relay", "-l", "0", "-t", "127.0.0.1:%d" % echo.port,
           "--tap", sock]
    if not a.stall_reader:
        cmd += ["-o", cap]
    if a.through:
        cmd += ["--through", a.through]
    if a.rotate_size:
        cmd += ["--rotate-size", a.rotate_size]
    # A stage such as tcpmon-throttle is found with the relay.
    env = dict(os.environ, PATH=os.path.abspath(a.bindir) + ":" + os.environ.get("PATH", ""))
    relay = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=open(err, "w"), env=env,
                             stdout=subprocess.PIPE if a.stall_reader else None)
    reader = Reader(relay.stdout, cap) if a.stall_reader else None
    m = wait_line(err, r"tcpmon-relay: listening on 127\.0\.0\.1:(\d+)", 60)
    port = int(m.group(1))
    viewer = subprocess.Popen([a.bindir + "/tcpmon-tap", "--list", "--attach", sock],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=open(tmp + "/viewer.err", "w"))

    # A short warm-up, so the numbers before are of a relay that has run.
    st0 = Stats()
    worker(port, time.monotonic() + 2, st0, 1)
    time.sleep(0.5)
    fd0, rss0 = fds(relay.pid), rss_kib(relay.pid)

    st = Stats()
    start = time.monotonic()
    deadline = start + a.seconds
    threads = [threading.Thread(target=worker, args=(port, deadline, st, 100 + i))
               for i in range(a.workers)]
    for t in threads:
        t.start()
    stall_cpu = None
    if reader:
        # The reader stops a quarter of the way in; once the relay's
        # output is full, waiting must cost it nothing.
        time.sleep(a.seconds / 4)
        reader.go.clear()
        time.sleep(min(2, a.stall_reader / 2))
        c0, t0 = cpu_s(relay.pid), time.monotonic()
        time.sleep(max(0, a.stall_reader - min(2, a.stall_reader / 2)))
        stall_cpu = (cpu_s(relay.pid) - c0, time.monotonic() - t0)
        reader.go.set()
        time.sleep(max(0, a.seconds / 2 - a.seconds / 4 - a.stall_reader))
    elif a.sighup:
        # logrotate's create mode: the file moved, then SIGHUP.
        for i in range(a.sighup):
            time.sleep(a.seconds / 2 / (a.sighup + 1))
            os.rename(cap, "%s.hup%03d" % (cap, i))
            relay.send_signal(signal.SIGHUP)
        time.sleep(a.seconds / 2 / (a.sighup + 1))
    else:
        time.sleep(a.seconds / 2)
    echo.stop()                      # the target restarts midway
    time.sleep(0.5)
    echo.start()
    for t in threads:
        t.join(a.seconds + 120)
    elapsed = time.monotonic() - start

    # Connections end on their own: give the relay a moment to see the
    # last closes, then compare.
    end = time.monotonic() + 20
    while time.monotonic() < end and fds(relay.pid) > fd0:
        time.sleep(0.2)
    fd1, rss1 = fds(relay.pid), rss_kib(relay.pid)
    # A viewer that cannot keep up is cut off by design (and noted): that
    # is not a failure, a relay that died is.
    alive = relay.poll() is None
    cut = viewer.poll() is not None
    relay.send_signal(signal.SIGTERM)
    rc = relay.wait(120)
    viewer.wait(30)
    if reader:
        reader.t.join(60)
    nfiles, badfiles = 0, []
    if a.rotate_size or a.sighup:
        nfiles, badfiles = join_files(cap, tmp + "/joined")
        cap = tmp + "/joined"
    nconn, unclosed = check_capture(cap)

    print("soak: %d s, %d workers%s" % (a.seconds, a.workers,
          ", through '%s'" % a.through if a.through else ""))
    print("soak: exchanges %s" % ", ".join("%s %d" % kv for kv in sorted(st.n.items())))
    print("soak: %.1f MiB echoed, %.1f MiB/s; %d connections recorded" %
          (st.bytes / 1048576, st.bytes / 1048576 / elapsed, nconn))
    if nfiles:
        print("soak: the capture came in %d files (%s)" % (nfiles, ", ".join(
            x for x in ("--rotate-size %s" % a.rotate_size if a.rotate_size else "",
                        "%d SIGHUPs" % a.sighup if a.sighup else "") if x)))
    if cut:
        print("soak: the viewer was cut off (it could not keep up)")
    print("soak: relay fds %d before, %d after; RSS %d KiB before, %d KiB after" %
          (fd0, fd1, rss0, rss1))
    ok = True
    for why in badfiles:
        print("soak: FAIL: " + why)
        ok = False
    if stall_cpu is not None:
        print("soak: reader stopped for %.0f s: the relay used %.2f s of CPU in %.1f s of it" %
              (a.stall_reader, stall_cpu[0], stall_cpu[1]))
        # Waiting is free; under valgrind, its own timer work is not.
        if stall_cpu[0] > 0.1 * stall_cpu[1] and not a.wrap:
            print("soak: FAIL: the relay was busy while its reader was stopped")
            ok = False
    for why in st.corrupt[:10]:
        print("soak: FAIL: " + why)
        ok = False
    if unclosed:
        print("soak: FAIL: %d connections without exactly one close, e.g. %s" %
              (len(unclosed), unclosed[:5]))
        ok = False
    if fd1 > fd0:
        print("soak: FAIL: %d descriptors leaked" % (fd1 - fd0))
        ok = False
    if rss1 > rss0 + 64 * 1024 and not a.wrap:
        print("soak: FAIL: RSS grew by %d KiB" % (rss1 - rss0))
        ok = False
    if not alive or rc != 0:
        print("soak: FAIL: the relay died or failed (exit %s)" % rc)
        ok = False
    if st.n.get("bulk", 0) == 0 or st.n.get("chatter", 0) == 0:
        print("soak: FAIL: no completed exchanges")
        ok = False
    print("soak: %s" % ("passed" if ok else "FAILED"))
    if ok:
        subprocess.run(["rm", "-rf", tmp])
    else:
        print("soak: files kept in " + tmp)
    sys.exit(0 if ok else 1)


main()
