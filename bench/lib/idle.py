"""idle.py: memory of a server holding many idle SMTP or IMAP sessions.

Measures the instance's memory (procmem.measure: the master pid, its descendants, and
processes under --exe-dir marked with --marker) once it is settled, opens CONNS connections
to 127.0.0.1:PORT (at most --inflight not yet idle at a time) and brings each to its idle
state, measures again once settled, checks that every session is still open, optionally
checks that every session still answers a NOOP (--noop), then closes them.
  smtp: the session is idle once its 220 greeting has arrived; anything the server sends
        after it (a 421) or a close counts as "not open".
  imap: greeting (* OK), LOGIN as --user (a template with %d, session k using user
        k mod --users) with --password, SELECT INBOX, IDLE; idle once the "+" continuation
        has arrived. Untagged data while idle (keepalives, EXISTS) is read and ignored; a
        close or * BYE counts as "not open". A session idle for --reidle seconds ends IDLE
        with DONE and starts it again, as RFC 2177 asks of clients (servers may log out a
        session idle for 30 minutes). The NOOP check sends DONE and NOOP and wants both OKs.
One thread, one selector (epoll): it holds tens of thousands of sessions.
"Settled": the sum of VmRSS and the process count unchanged (within max(128 KiB, 0.05%))
over three samples 0.5 s apart, at most --settle seconds; a freshly started server may still
be initialising (Posthorn's login processes compute a 64 MiB Argon2 hash at start and free
it), and a process-per-connection server is still forking when the last session is idle.
Prints one line:
  ready=R open=O answered=A|- conns=C rss_before=KiB rss_after=KiB pss_before=KiB
  pss_after=KiB procs_before=N procs_after=N settled=yes|no seconds=S reidles=N
and a second one naming the biggest processes after (procmem.top).
Exits 1 when not every session became idle within --timeout seconds, stayed open, or
(with --noop) answered.

usage: idle.py --port P --conns C --master-pid PID [--exe-dir DIR --marker TEXT]
               [--proto smtp|imap] [--user TEMPLATE --users N --password PW]
               [--inflight N] [--noop] [--reidle SECONDS] [--timeout SECONDS]
               [--settle SECONDS]
"""
import argparse
import errno
import os
import resource
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procmem  # noqa: E402


class Session:
    """One connection and the steps still to do: (bytes to send or None, line test).
    A line test returns True (step done), False (failed) or None (read on)."""

    def __init__(self, proto, port, user):
        self.proto, self.user = proto, user
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        rc = self.sock.connect_ex(("127.0.0.1", port))
        if rc not in (0, errno.EINPROGRESS):
            raise OSError(rc, os.strerror(rc))
        self.buf, self.steps, self.tagno = b"", [], 0
        self.ready = self.closed = False
        self.error = ""
        self.idle_tag, self.idle_since = None, 0.0

    def tag(self):
        self.tagno += 1
        return f"a{self.tagno}"

    def add_tagged(self, command):
        t = self.tag()
        self.steps.append((f"{t} {command}\r\n".encode(), tagged(t)))
        return t

    def add_idle(self):
        self.idle_tag = self.add_tagged("IDLE")
        self.steps[-1] = (self.steps[-1][0], continuation)

    def add_done(self):
        self.steps.append((b"DONE\r\n", tagged(self.idle_tag)))
        self.idle_tag = None


def tagged(t):
    prefix = (t + " ").encode()
    return lambda line: (line[len(prefix):].startswith(b"OK") if line.startswith(prefix)
                         else None)


def continuation(line):
    return True if line.startswith(b"+") else None


def greeting(proto):
    want = b"220" if proto == "smtp" else b"* OK"
    return lambda line: line.startswith(want)


class Driver:
    def __init__(self, a):
        self.a = a
        self.sel = selectors.DefaultSelector()
        self.sessions = []
        self.last_reidle = 0.0
        self.pending = set()  # sessions with steps to do
        self.reidles = 0

    def open_one(self, k):
        a = self.a
        user = a.user % (k % a.users) if a.proto == "imap" else None
        s = Session(a.proto, a.port, user)
        s.steps.append((None, greeting(a.proto)))
        if a.proto == "imap":
            s.add_tagged(f'LOGIN "{user}" "{a.password}"')
            s.add_tagged("SELECT INBOX")
            s.add_idle()
        self.sessions.append(s)
        self.pending.add(s)
        self.sel.register(s.sock, selectors.EVENT_READ, s)
        return s

    def close(self, s, why):
        if not s.closed:
            s.closed, s.error = True, s.error or why
            self.pending.discard(s)
            self.sel.unregister(s.sock)

    def on_line(self, s, line):
        if not s.steps:
            # Idle: SMTP says nothing more; IMAP may send untagged data, or BYE.
            if s.proto == "smtp" or line.startswith(b"* BYE"):
                self.close(s, line[:80].decode(errors="replace"))
            return
        r = s.steps[0][1](line)
        if r is None:
            return
        if r is False:
            self.close(s, line[:80].decode(errors="replace"))
            return
        s.steps.pop(0)
        if not s.steps:
            self.pending.discard(s)
            s.idle_since = time.monotonic()
        self.send_next(s)

    def send_next(self, s):
        if s.steps and s.steps[0][0] is not None:
            data = s.steps[0][0]
            s.steps[0] = (None, s.steps[0][1])
            try:
                s.sock.sendall(data)  # a few dozen bytes: fits any socket buffer
            except OSError as e:
                self.close(s, f"send: {e}")

    def on_readable(self, s):
        try:
            chunk = s.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.close(s, f"recv: {e}")
            return
        if not chunk:
            self.close(s, "closed by the server")
            return
        s.buf += chunk
        while not s.closed and b"\n" in s.buf:
            line, s.buf = s.buf.split(b"\n", 1)
            self.on_line(s, line.rstrip(b"\r"))

    def pump_once(self, timeout):
        for key, _ in self.sel.select(timeout=timeout):
            self.on_readable(key.data)
        now = time.monotonic()
        if now - self.last_reidle >= 1.0:
            self.last_reidle = now
            self.reidle(now)

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.pump_once(min(left, 0.2))

    def reidle(self, now):
        if self.a.proto != "imap" or not self.a.reidle:
            return
        for s in self.sessions:
            if not s.closed and not s.steps and s.idle_tag and now - s.idle_since > self.a.reidle:
                s.add_done()
                s.add_idle()
                self.pending.add(s)
                self.reidles += 1
                self.send_next(s)

    def open_all(self):
        a, k, busy = self.a, 0, 0
        deadline = time.monotonic() + a.timeout
        while time.monotonic() < deadline:
            while k < a.conns and busy < a.inflight:
                self.open_one(k)
                k, busy = k + 1, busy + 1
            self.pump_once(0.2)
            busy = len(self.pending)
            if k == a.conns and busy == 0:
                break
        for s in self.sessions:
            s.ready = not s.closed and not s.steps
        return k

    def noop_all(self, timeout):
        """DONE (IMAP) and NOOP on every open idle session; how many answered OK."""
        todo = [s for s in self.sessions if s.ready and not s.closed]
        for s in todo:
            if s.proto == "imap":
                s.add_done()
                s.add_tagged("NOOP")
            else:
                s.steps.append((b"NOOP\r\n", lambda line: line.startswith(b"250")))
            self.pending.add(s)
            self.send_next(s)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pending:
            self.pump(0.2)
        return sum(1 for s in todo if not s.closed and not s.steps)


def settled_measure(a, drv):
    """(rss, pss, procs, settled) once three samples 0.5 s apart agree, or at the limit.
    The sessions are served (read) between samples."""
    samples, deadline = [], time.monotonic() + a.settle
    while True:
        samples.append(procmem.measure(a.master_pid, a.exe_dir, a.marker))
        last = samples[-3:]
        if len(last) == 3:
            rss = [r for r, _, _ in last]
            tol = max(128, max(rss) // 2000)
            if max(rss) - min(rss) <= tol and len({n for _, _, n in last}) == 1:
                return (*last[-1], True)
        if time.monotonic() > deadline:
            return (*samples[-1], False)
        drv.pump(0.5)


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, required=True)
    ap.add_argument("--master-pid", type=int, required=True)
    ap.add_argument("--exe-dir")
    ap.add_argument("--marker")
    ap.add_argument("--proto", choices=("smtp", "imap"), default="smtp")
    ap.add_argument("--user", default="user%d")
    ap.add_argument("--users", type=int, default=1)
    ap.add_argument("--password", default="")
    ap.add_argument("--inflight", type=int, default=100)
    ap.add_argument("--noop", action="store_true")
    ap.add_argument("--reidle", type=float, default=1500.0)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--settle", type=float, default=30.0)
    return ap.parse_args()


def main():
    a = parse()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = a.conns + 64
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    drv = Driver(a)
    rss0, pss0, n0, ok0 = settled_measure(a, drv)
    start = time.monotonic()
    drv.open_all()
    secs = time.monotonic() - start
    rss1, pss1, n1, ok1 = settled_measure(a, drv)
    drv.pump_once(0)
    top = procmem.top(a.master_pid, a.exe_dir, a.marker)
    ready = sum(1 for s in drv.sessions if s.ready)
    still = sum(1 for s in drv.sessions if s.ready and not s.closed)
    answered = drv.noop_all(60 + a.conns / 100) if a.noop else None
    for s in drv.sessions:
        s.sock.close()
    print(f"ready={ready} open={still} answered={'-' if answered is None else answered} "
          f"conns={a.conns} rss_before={rss0} rss_after={rss1} pss_before={pss0} "
          f"pss_after={pss1} procs_before={n0} procs_after={n1} "
          f"settled={'yes' if ok0 and ok1 else 'no'} seconds={secs:.2f} reidles={drv.reidles}")
    print(f"top: {top}")
    bad = [s.error for s in drv.sessions if s.error][:3]
    if ready < a.conns:
        print(f"only {ready} of {a.conns} sessions became idle; e.g. {bad}", file=sys.stderr)
        return 1
    if still < a.conns:
        print(f"only {still} of {a.conns} sessions still open when measured; e.g. {bad}",
              file=sys.stderr)
        return 1
    if answered is not None and answered < still:
        print(f"only {answered} of {still} sessions answered NOOP; e.g. {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
