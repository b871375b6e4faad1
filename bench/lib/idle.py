"""idle.py: resident memory of a server holding many idle SMTP sessions.

Measures the instance's memory (procmem.measure on the master pid and its descendants),
opens CONNS connections to 127.0.0.1:PORT (at most 100 connects in flight), waits until every
one has received its 220 greeting, lets the server settle for a second, measures again, then
closes every connection. Prints one line:
  greeted=G conns=C rss_before=KiB rss_after=KiB pss_before=KiB pss_after=KiB
  procs_before=N procs_after=N seconds=S
Exits 1 when not every session was greeted within --timeout seconds.

usage: idle.py --port P --conns C --master-pid PID [--timeout SECONDS]
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, required=True)
    ap.add_argument("--master-pid", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=120.0)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = a.conns + 64
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))
    rss0, pss0, n0 = procmem.measure(a.master_pid)
    start = time.monotonic()
    sessions = open_all(a.port, a.conns, a.timeout)
    secs = time.monotonic() - start
    time.sleep(1.0)
    rss1, pss1, n1 = procmem.measure(a.master_pid)
    greeted = sum(1 for s in sessions if s.greeted)
    for s in sessions:
        s.sock.close()
    print(f"greeted={greeted} conns={a.conns} rss_before={rss0} rss_after={rss1} "
          f"pss_before={pss0} pss_after={pss1} procs_before={n0} procs_after={n1} "
          f"seconds={secs:.2f}")
    if greeted < a.conns:
        bad = [s.data[:80] for s in sessions if not s.greeted][:3]
        print(f"only {greeted} of {a.conns} sessions greeted; e.g. {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
