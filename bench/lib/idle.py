"""idle.py: resident memory of a server holding many idle SMTP sessions.

Measures the instance's memory (procmem.measure: the master pid, its descendants, and
processes under --exe-dir marked with --marker) once it is settled, opens CONNS
connections to 127.0.0.1:PORT (at most 100 connects in flight), waits until every one has
received its 220 greeting, measures again once settled, checks that every session is still
open (the server neither closed it nor sent anything after the greeting), then closes them.
"Settled": the sum of VmRSS and the process count unchanged (within max(128 KiB, 0.05%))
over three samples 0.5 s apart, at most --settle seconds; a freshly started server may still
be initialising (Posthorn's login processes compute a 64 MiB Argon2 hash at start and free
it), and a process-per-connection server is still forking when the last greeting arrives.
Prints one line:
  greeted=G open=O conns=C rss_before=KiB rss_after=KiB pss_before=KiB pss_after=KiB
  procs_before=N procs_after=N settled=yes|no seconds=S
Exits 1 when not every session was greeted within --timeout seconds or stayed open.

usage: idle.py --port P --conns C --master-pid PID [--exe-dir DIR --marker TEXT]
               [--timeout SECONDS] [--settle SECONDS]
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
    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        rc = self.sock.connect_ex(("127.0.0.1", port))
        if rc not in (0, errno.EINPROGRESS):
            raise OSError(rc, os.strerror(rc))
        self.data = b""
        self.greeted = False


def open_all(port, conns, timeout):
    """Connect and read greetings; returns the sessions (greeted or not)."""
    sel = selectors.DefaultSelector()
    sessions, waiting = [], 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while len(sessions) < conns and waiting < 100:
            s = Session(port)
            sessions.append(s)
            sel.register(s.sock, selectors.EVENT_READ, s)
            waiting += 1
        if waiting == 0 and len(sessions) == conns:
            break
        for key, _ in sel.select(timeout=0.2):
            s = key.data
            try:
                chunk = s.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            s.data += chunk
            if not chunk or b"\n" in s.data:
                sel.unregister(s.sock)
                waiting -= 1
                s.greeted = chunk != b"" and s.data.startswith(b"220")
    sel.close()
    return sessions


def settled_measure(a):
    """(rss, pss, procs, settled) once three samples 0.5 s apart agree, or at the limit."""
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
        time.sleep(0.5)


def still_open(s):
    """The session is open and the server sent nothing after the greeting."""
    try:
        s.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        return False  # b"": closed by the server; bytes: e.g. a 421
    except (BlockingIOError, InterruptedError):
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, required=True)
    ap.add_argument("--master-pid", type=int, required=True)
    ap.add_argument("--exe-dir")
    ap.add_argument("--marker")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--settle", type=float, default=30.0)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = a.conns + 64
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))
    rss0, pss0, n0, ok0 = settled_measure(a)
    start = time.monotonic()
    sessions = open_all(a.port, a.conns, a.timeout)
    secs = time.monotonic() - start
    rss1, pss1, n1, ok1 = settled_measure(a)
    greeted = sum(1 for s in sessions if s.greeted)
    still = sum(1 for s in sessions if s.greeted and still_open(s))
    for s in sessions:
        s.sock.close()
    print(f"greeted={greeted} open={still} conns={a.conns} rss_before={rss0} "
          f"rss_after={rss1} pss_before={pss0} pss_after={pss1} procs_before={n0} "
          f"procs_after={n1} settled={'yes' if ok0 and ok1 else 'no'} seconds={secs:.2f}")
    if greeted < a.conns:
        bad = [s.data[:80] for s in sessions if not s.greeted][:3]
        print(f"only {greeted} of {a.conns} sessions greeted; e.g. {bad}", file=sys.stderr)
        return 1
    if still < a.conns:
        print(f"only {still} of {a.conns} sessions still open when measured",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
