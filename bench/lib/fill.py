"""fill.py: put the same messages into many users' INBOXes of one side, over SMTP.

Sends --messages messages of about --size bytes of body over one SMTP session to
127.0.0.1:PORT, each to every user USERS[FROM..TO) of --domain (RCPT batches of at most
--batch recipients per transaction, under both sides' smtpd_recipient_limit of 1000), then
waits until each user's Maildir (BASE/USER/new + cur) holds --messages more files than
before. The message text is the same for both sides (Message-ID <fill.N@DOMAIN>), so both
servers hold the same content apart from each side's trace headers. Prints one line:
  users=U messages=M files=F seconds=S
Exits 1 (the reason on stderr) when SMTP refuses anything or delivery stalls.

usage: fill.py --port P --domain D --base DIR --user TEMPLATE --from N --to N
               --messages M [--size BYTES] [--batch N] [--stall SECONDS]
"""
import argparse
import os
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_load import maildir_count  # noqa: E402


def message(n, domain, size):
    line = "The quick brown fox jumps over the lazy dog, message %d.\r\n" % n
    body = (line * (size // len(line) + 1))[:size]
    return (f"From: Fill <fill@remote.test>\r\nTo: users@{domain}\r\n"
            f"Subject: bench message {n}\r\nMessage-ID: <fill.{n}@{domain}>\r\n"
            f"Date: Thu, 01 Jan 2026 00:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{body}\r\n")


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--domain", required=True)
    ap.add_argument("--base", required=True, help="directory holding the users' Maildirs")
    ap.add_argument("--user", required=True, help="local part template with %%d")
    ap.add_argument("--from", dest="first", type=int, required=True)
    ap.add_argument("--to", dest="last", type=int, required=True)
    ap.add_argument("--messages", type=int, required=True)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--stall", type=float, default=30.0)
    return ap.parse_args()


def main():
    a = parse()
    users = [a.user % k for k in range(a.first, a.last)]
    dirs = [os.path.join(a.base, u) for u in users]
    want = sum(maildir_count(d) for d in dirs) + len(users) * a.messages
    start = time.monotonic()
    with smtplib.SMTP("127.0.0.1", a.port, timeout=120) as s:
        s.ehlo("fill.remote.test")
        for n in range(a.messages):
            text = message(n, a.domain, a.size)
            for i in range(0, len(users), a.batch):
                rcpts = [f"{u}@{a.domain}" for u in users[i:i + a.batch]]
                refused = s.sendmail("fill@remote.test", rcpts, text)
                if refused:
                    print(f"refused: {refused}", file=sys.stderr)
                    return 1
    last, last_change = -1, time.monotonic()
    while True:
        have = sum(maildir_count(d) for d in dirs)
        if have >= want:
            break
        if have != last:
            last, last_change = have, time.monotonic()
        elif time.monotonic() - last_change > a.stall:
            print(f"delivery stalled at {have} of {want} files", file=sys.stderr)
            return 1
        time.sleep(0.1)
    print(f"users={len(users)} messages={a.messages} files={have} "
          f"seconds={time.monotonic() - start:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
