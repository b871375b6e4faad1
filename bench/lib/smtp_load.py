"""smtp_load.py: one inbound SMTP load against one server, timed two ways.

Runs Postfix's smtp-source (one new connection per message, SESSIONS in parallel) at
127.0.0.1:PORT and watches the recipient's Maildir. Prints one line:
  accept_s=A e2e_s=E delivered=D sent=N
accept_s: from just before the first connection until smtp-source exits (every message got
its 250); e2e_s: from the same start until the Maildir (new/ + cur/) holds N more files than
before (polled every 5 ms once smtp-source has exited; not at all before). Exits 1 (with the reason on stderr) when smtp-source fails, the deadline passes, or delivery
stalls (no new file for --stall seconds after acceptance ended).

usage: smtp_load.py --port P --messages N --size BYTES --sessions S --to ADDR
                    --maildir DIR [--from ADDR] [--timeout SECONDS]
                    [--stall SECONDS]
"""
import argparse
import os
import subprocess
import sys
import time

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


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--messages", type=int, required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--sessions", type=int, required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--from", dest="sender", default="sender@remote.test")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--stall", type=float, default=30.0,
                    help="give up when delivery makes no progress for this long")
    return ap.parse_args()


def main():
    a = parse()
    base = maildir_count(a.maildir)
    want = base + a.messages
    cmd = [SMTP_SOURCE, "-m", str(a.messages), "-s", str(a.sessions),
           "-l", str(a.size), "-f", a.sender, "-t", a.to, f"127.0.0.1:{a.port}"]
    start = time.monotonic()
    deadline = start + a.timeout
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # No Maildir polling while smtp-source runs (the last delivery cannot precede the last
    # 250), so the watcher costs the server nothing during acceptance.
    try:
        _, err = proc.communicate(timeout=a.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        print(f"smtp-source still running after {a.timeout:.0f}s", file=sys.stderr)
        return 1
    accept = time.monotonic() - start
    if proc.returncode != 0:
        err = err.decode(errors="replace").strip()
        print(f"smtp-source failed ({proc.returncode}): {err}", file=sys.stderr)
        return 1
    e2e = None
    last_n, last_change = -1, time.monotonic()
    while True:
        n = maildir_count(a.maildir)
        t = time.monotonic()
        if n >= want:
            e2e = t - start
            break
        if n != last_n:
            last_n, last_change = n, t
        elif t - last_change > a.stall or t > deadline:
            break
        time.sleep(0.005)
    got = maildir_count(a.maildir) - base
    if e2e is None:
        took = time.monotonic() - start
        print(f"gave up: {got} of {a.messages} messages delivered after {took:.0f}s "
              f"(accepted in {accept:.1f}s)", file=sys.stderr)
        return 1
    print(f"accept_s={accept:.3f} e2e_s={e2e:.3f} delivered={got} "
          f"sent={a.messages}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
