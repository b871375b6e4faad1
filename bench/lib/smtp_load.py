"""smtp_load.py: one SMTP load against one server, timed two ways.

Two clients:
  - Postfix's smtp-source (the default): one new plaintext connection per message,
    SESSIONS in parallel;
  - with --tls and --auth, submit_client.py: SESSIONS worker threads running sessions of
    --per-session messages each (TLS 1.3, STARTTLS or implicit, AUTH PLAIN as user k of
    the --auth template, worker k using user k mod --users, the sender being that user)
    until --messages messages are sent; --barrier starts the clock once every session has
    logged in (one session per worker).
It then watches where the messages end up: the recipient's Maildir (--maildir, new/ +
cur/), or the counter of Postfix's smtp-sink (--sink-log: the file its -c output goes to,
"sess=N quit=N mesg=N" records ended by CR). Prints one line:
  accept_s=A e2e_s=E delivered=D sent=N client_cpu_s=C [sessions=S tls=V cipher=C]
  [max_conns=M]
accept_s: from just before the first connection (or the barrier) until the client is done
(every message got its 250, every session its QUIT); e2e_s: from the same start until the
Maildir or the sink holds N more messages than before (polled every 5 ms once the client
is done; not at all before); client_cpu_s: the CPU time (user + system) the client (this
process's threads, or smtp-source) used until it was done: the load generator shares the
machine with the server. With --sink-port, the most ESTABLISHED connections to that
port seen at once (sampled from /proc/net/tcp every 100 ms from the start: the delivery
concurrency the relay used, cached idle connections included). Exits 1 (with the
reason on stderr) when the client fails, the deadline passes, or delivery stalls (no
progress for --stall seconds after the client ended).

usage: smtp_load.py --port P --messages N --size BYTES --sessions S --to ADDR
                    (--maildir DIR | --sink-log FILE [--sink-port P])
                    [--from ADDR] [--timeout SECONDS] [--stall SECONDS]
                    [--tls starttls|implicit --auth TEMPLATE --password PW [--users N]
                     [--per-session M] [--barrier] [--cafile PEM]]
"""
import argparse
import os
import re
import resource
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import submit_client  # noqa: E402

SMTP_SOURCE = "/usr/sbin/smtp-source"


def maildir_count(path):
    n = 0
    for sub in ("new", "cur"):
        try:
            with os.scandir(os.path.join(path, sub)) as it:
                n += sum(1 for _ in it)
        except FileNotFoundError:
            pass
    return n


SINK_RECORD = re.compile(rb"mesg=(\d+)\r")


def sink_count(path):
    """Messages received, from the last record of smtp-sink's -c output."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 256))
            records = SINK_RECORD.findall(f.read())
    except FileNotFoundError:
        return 0
    return int(records[-1]) if records else 0


class ConnSampler(threading.Thread):
    """The most ESTABLISHED TCP connections with local port PORT seen at once."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = f":{port:04X}"
        self.most = 0
        self.done = threading.Event()

    def count(self):
        n = 0
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()   # sl local_address rem_address st ...
                n += fields[3] == "01" and fields[1].endswith(self.port)
        return n

    def run(self):
        while not self.done.wait(0.1):   # each read of /proc/net/tcp costs ~2 ms of CPU
            self.most = max(self.most, self.count())


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--messages", type=int, required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--sessions", type=int, required=True)
    ap.add_argument("--to", required=True)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--maildir")
    where.add_argument("--sink-log")
    ap.add_argument("--sink-port", type=int)
    ap.add_argument("--from", dest="sender", default="sender@remote.test")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--stall", type=float, default=30.0,
                    help="give up when delivery makes no progress for this long")
    ap.add_argument("--tls", choices=("starttls", "implicit"))
    ap.add_argument("--auth", help="login name template with %%d (user k of --users)")
    ap.add_argument("--password")
    ap.add_argument("--users", type=int, default=1)
    ap.add_argument("--per-session", type=int, default=1)
    ap.add_argument("--barrier", action="store_true")
    ap.add_argument("--cafile")
    a = ap.parse_args()
    if bool(a.tls) != bool(a.auth) or (a.auth and a.password is None):
        ap.error("--tls, --auth and --password go together")
    return a


def run_smtp_source(a, deadline):
    """smtp-source's run: (start, end, "") or (None, None, why)."""
    cmd = [SMTP_SOURCE, "-m", str(a.messages), "-s", str(a.sessions),
           "-l", str(a.size), "-f", a.sender, "-t", a.to, f"127.0.0.1:{a.port}"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # No Maildir polling while smtp-source runs (the last delivery cannot precede the last
    # 250), so the watcher costs the server nothing during acceptance.
    try:
        _, err = proc.communicate(timeout=max(1.0, deadline - start))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None, None, f"smtp-source still running after {a.timeout:.0f}s"
    if proc.returncode != 0:
        err = err.decode(errors="replace").strip()
        return None, None, f"smtp-source failed ({proc.returncode}): {err}"
    return start, time.monotonic(), ""


def run_submit_client(a, deadline, info):
    """submit_client's run: (start, end, "") or (None, None, why), the start being the
    first connection or the barrier; adds what it saw to info."""
    per = max(1, a.per_session)
    plan = [per] * (a.messages // per) + ([a.messages % per] if a.messages % per else [])
    users = [a.auth % k if "%d" in a.auth else a.auth for k in range(a.users)]
    try:
        load = submit_client.Load(a.port, plan, a.sessions, users, a.password, a.to,
                                  a.size, a.tls, a.cafile, barrier=a.barrier)
    except (OSError, ValueError) as e:   # ssl.SSLError is an OSError
        return None, None, f"client set-up: {type(e).__name__}: {e}"
    end = load.run(deadline)
    info.append(f"sessions={len(plan)} tls={load.tls_seen[0]} cipher={load.tls_seen[1]}")
    return (load.started, end, "") if end is not None else (None, None, load.error)


def cpu_seconds():
    """User + system CPU time of this process and its waited-for children so far."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def wait_delivered(count, want, deadline, stall):
    """Poll count() until it reaches want: the time it did, or None."""
    last_n, last_change = -1, time.monotonic()
    while True:
        n = count()
        t = time.monotonic()
        if n >= want:
            return t
        if n != last_n:
            last_n, last_change = n, t
        elif t - last_change > stall or t > deadline:
            return None
        time.sleep(0.005)


def main():
    a = parse()
    if a.maildir:
        def count():
            return maildir_count(a.maildir)
    else:
        def count():
            return sink_count(a.sink_log)
    base = count()
    sampler = ConnSampler(a.sink_port) if a.sink_port and a.sink_log else None
    info = []
    deadline = time.monotonic() + a.timeout
    if sampler:
        sampler.start()
    cpu = cpu_seconds()
    run = run_submit_client if a.tls else run_smtp_source
    start, end, why = run(a, deadline, info) if a.tls else run(a, deadline)
    cpu = cpu_seconds() - cpu
    if start is None:
        print(why, file=sys.stderr)
        return 1
    accept = end - start
    done = wait_delivered(count, base + a.messages, deadline, a.stall)
    if sampler:
        sampler.done.set()
        info.append(f"max_conns={sampler.most}")
    got = count() - base
    if done is None:
        took = time.monotonic() - start
        print(f"gave up: {got} of {a.messages} messages delivered after {took:.0f}s "
              f"(accepted in {accept:.1f}s)", file=sys.stderr)
        return 1
    print(" ".join([f"accept_s={accept:.3f} e2e_s={done - start:.3f} delivered={got} "
                    f"sent={a.messages} client_cpu_s={cpu:.2f}"] + info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
