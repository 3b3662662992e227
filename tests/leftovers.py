#!/usr/bin/env python3
"""leftovers.py - the processes a test run left behind, for tests/run.

  leftovers.py subreaper CMD...   become a child subreaper, then exec CMD
  leftovers.py check RUNPID MARK  print "PID CMD" for each live process that
                                  descends from RUNPID or carries MARK in
                                  its environment; none of this script's
                                  own ancestors is counted.
  leftovers.py watchdog SECS MARK FLAG
                                  after SECS, write FLAG and end (TERM,
                                  then KILL) every process that carries
                                  MARK (NAME=VALUE) in its environment:
                                  what a hung test started, so that bats,
                                  which waits for a `run` command's
                                  output to end, gets on with the run.

Two nets, because each alone has holes.  tests/run is a child subreaper
(prctl(2) PR_SET_CHILD_SUBREAPER, kept across execve), so whatever a suite
orphans (socat's SYSTEM: children, double-forked daemons) is re-parented
to it rather than to init: everything a run started and left is still
below RUNPID.  The environment marker catches the rest where the
subreaper could not be had; a process that overwrites its environment for
its title (nginx) is caught by the first net only.
"""
import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def stat(pid):
    """(ppid, state) of pid, or None when it is gone."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            s = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start
    # after the last ')'.
    f = s[s.rindex(b')') + 2:].split()
    return int(f[1]), f[0].decode()


def cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            c = f.read().replace(b'\0', b' ').strip()
    except OSError:
        return '?'
    return c.decode('utf-8', 'replace')[:200] or '?'


def has_mark(pid, mark):
    try:
        with open('/proc/%d/environ' % pid, 'rb') as f:
            return mark in f.read().split(b'\0')
    except OSError:
        return False


def check(runpid, mark):
    mark = b'TCPMON_TEST_RUN=' + mark.encode()
    procs = {}
    for d in os.listdir('/proc'):
        if d.isdigit():
            st = stat(int(d))
            if st is not None:
                procs[int(d)] = st
    # This script and the shells between it and RUNPID are not leftovers.
    mine = set()
    p = os.getpid()
    while p in procs and p not in mine:
        mine.add(p)
        p = procs[p][0]
    for pid in sorted(procs):
        ppid, state = procs[pid]
        if pid in mine or pid == runpid or state == 'Z':
            continue	# a zombie is gone, only not yet reaped
        below, p, seen = False, ppid, set()
        while p > 1 and p in procs and p not in seen:
            if p == runpid:
                below = True
                break
            seen.add(p)
            p = procs[p][0]
        if below or has_mark(pid, mark):
            print(pid, cmdline(pid))


def marked(mark):
    """Live processes with mark in their environment, but none of ours."""
    mine, p = set(), os.getpid()
    while p > 1 and p not in mine:
        mine.add(p)
        st = stat(p)
        p = st[0] if st else 0
    return [int(d) for d in os.listdir('/proc')
            if d.isdigit() and int(d) not in mine and has_mark(int(d), mark)]


def watchdog(secs, mark, flag):
    """bats' own BATS_TEST_TIMEOUT cannot end a test that waits in `run`
    (bash runs the trap only once the command substitution ends), so a
    hung tool would hold the whole run: this ends it instead."""
    time.sleep(secs)
    with open(flag, 'w') as f:
        f.write('timed out after %d s\n' % secs)
    mark = mark.encode()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in marked(mark):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        time.sleep(2)


def main():
    a = sys.argv[1:]
    if a and a[0] == 'subreaper':
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            print('leftovers.py: prctl: %s' % os.strerror(ctypes.get_errno()),
                  file=sys.stderr)
        os.execvp(a[1], a[1:])
    elif len(a) == 3 and a[0] == 'check':
        check(int(a[1]), a[2])
    elif len(a) == 4 and a[0] == 'watchdog':
        watchdog(int(a[1]), a[2], a[3])
    else:
        sys.exit('usage: leftovers.py subreaper CMD... | check RUNPID MARK'
                 ' | watchdog SECS MARK FLAG')


main()
