"""Helpers of the aliases(5) tests (test_alias_*.py): writing and compiling the aliases
file, a directory and scripts the commands (run as default_privs, "nobody") can use, and
the delivery lines of the log as dictionaries."""
import os
import re
import smtplib
import stat
import time
from pathlib import Path

LINE = re.compile(r" (?P<prog>[\w.-]+/[\w-]+)\[(?P<pid>\d+)\]: (?P<id>\w+): to=<(?P<to>[^>]*)>, "
                  r"(?:orig_to=<(?P<orig>[^>]*)>, )?relay=(?P<relay>[^,]+), delay=[^,]+, "
                  r"delays=[^,]+, dsn=(?P<dsn>[\d.]+), status=(?P<status>\w+) \((?P<reason>.*)\)$")


def write_aliases(inst, text, newaliases=True):
    """Write etc/aliases (0644, as root writes it) and compile it with newaliases."""
    path = inst.etc / "aliases"
    path.write_text(text)
    os.chmod(path, 0o644)
    if newaliases:
        inst.posthorn("newaliases")
    return path


def work_dir(inst, name="work"):
    """A directory under the instance that default_privs (nobody) can write."""
    d = inst.root / name
    d.mkdir(exist_ok=True)
    os.chmod(d, 0o1777)
    return d


def script(inst, name, body):
    """An executable /bin/sh script under the instance (root-owned, 0755)."""
    d = inst.root / "bin"
    d.mkdir(exist_ok=True)
    os.chmod(d, 0o755)
    p = d / name
    p.write_text("#!/bin/sh\n" + body)
    os.chmod(p, 0o755)
    return p


def delivery_lines(log, prog=None):
    """Every delivery line of the log (posthorn/local and qmgr), as dicts."""
    out = []
    for line in log.splitlines():
        m = LINE.search(line)
        if m and (prog is None or m.group("prog").endswith("/" + prog)):
            out.append(m.groupdict())
    return out


def wait_lines(inst, pred, count=1, timeout=30):
    """Wait until at least COUNT delivery lines satisfy PRED; returns them."""
    deadline = time.time() + timeout
    while True:
        found = [l for l in delivery_lines(inst.log()) if pred(l)]
        if len(found) >= count or time.time() > deadline:
            assert len(found) >= count, f"{len(found)} lines, wanted {count}\n{inst.log()[-5000:]}"
            return found
        time.sleep(0.1)


def send(inst, rcpts, body=b"Subject: test\r\n\r\nhello\r\n", sender="alice@example.test"):
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as c:
        assert c.sendmail(sender, rcpts, body) == {}


def owner_mode(path):
    st = Path(path).stat()
    return st.st_uid, stat.S_IMODE(st.st_mode)
