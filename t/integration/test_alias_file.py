"""aliases(5) "/file" targets (doc/operator.md, "Aliases"): the message is appended in mbox
format (From_ line, Return-Path/Delivered-To, ">From " quoting as mboxrd, an empty line)
as default_privs, in a file created 0600; the writer waits for a lock another mbox program
holds (fcntl and flock) and concurrent deliveries never interleave; /dev/null takes mail
without writing; a target with a second name (a hard link) bounces 5.2.0."""
import fcntl
import mailbox
import os
import pwd
import threading
import time

from alias_util import delivery_lines, owner_mode, send, wait_lines, work_dir, write_aliases
from conftest import DOMAIN

ALICE = "alice@" + DOMAIN
NOBODY = pwd.getpwnam("nobody")
QUOTED_BODY = b"From the start of a line\r\n>From already quoted\r\nnot From here\r\n"


def big_message(n, lines=20000):
    """About 1.2 MB: long enough that two unlocked writers would interleave."""
    body = b"".join(b"message %d line %06d of its body, padded to a decent length....\r\n" % (n, i)
                    for i in range(lines))
    return b"Subject: copy %d\r\n\r\n" % n + QUOTED_BODY + body


def check_mbox(path, count):
    """The file parses as COUNT mbox messages, each whole, with mboxrd quoting."""
    raw = path.read_bytes()
    assert raw.startswith(b"From alice@example.test ") and raw.endswith(b"\n\n"), raw[-200:]
    box = mailbox.mbox(str(path), create=False)
    msgs = list(box)
    assert len(msgs) == count, len(msgs)
    seen = set()
    for m in msgs:
        n = int(m["Subject"].split()[1])
        seen.add(n)
        assert m["Return-Path"] == "<alice@example.test>" and m["Delivered-To"] == f"archive@{DOMAIN}"
        body = m.get_payload(decode=False).encode()
        assert body.startswith(b">From the start of a line\n>>From already quoted\nnot From here\n"), body[:200]
        lines = body.rstrip(b"\n").splitlines()[3:]
        assert lines == [b"message %d line %06d of its body, padded to a decent length...." % (n, i)
                         for i in range(len(lines))] and len(lines) in (20000, 10), (n, len(lines))
    return seen


def test_concurrent_appends_are_whole_and_quoted(instance):
    instance.add_user(ALICE)
    out = work_dir(instance)
    mbox = out / "archive.mbox"
    write_aliases(instance, f"archive@{DOMAIN}: {mbox}\n")
    instance.start()
    threads = [threading.Thread(target=send, args=(instance, [f"archive@{DOMAIN}"], big_message(n)))
               for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = wait_lines(instance, lambda l: l["to"] == f"archive@{DOMAIN}", 4, timeout=60)
    assert all(l["prog"] == "posthorn/local" and l["status"] == "sent" and
               l["reason"] == f"delivered to file: {mbox}" for l in lines), lines
    # the copies were written by different local-mda processes at the same time
    assert len({l["pid"] for l in lines}) >= 2, lines
    assert check_mbox(mbox, 4) == {0, 1, 2, 3}
    assert owner_mode(mbox) == (NOBODY.pw_uid, 0o600)


def test_waits_for_a_lock_another_program_holds(instance):
    instance.add_user(ALICE)
    out = work_dir(instance)
    mbox = out / "archive.mbox"
    mbox.touch()
    os.chown(mbox, NOBODY.pw_uid, NOBODY.pw_gid)
    write_aliases(instance, f"archive@{DOMAIN}: {mbox}\n")
    instance.start()
    with open(mbox, "rb+") as held:
        fcntl.lockf(held, fcntl.LOCK_EX)  # what mutt or procmail hold while they write
        send(instance, [f"archive@{DOMAIN}"], big_message(7, lines=10))
        time.sleep(3)
        assert mbox.stat().st_size == 0
        assert not [l for l in delivery_lines(instance.log()) if l["to"] == f"archive@{DOMAIN}"]
    wait_lines(instance, lambda l: l["to"] == f"archive@{DOMAIN}" and l["status"] == "sent")
    assert check_mbox(mbox, 1) == {7}


def test_dev_null_and_linked_targets(instance):
    instance.add_user(ALICE)
    out = work_dir(instance)
    (out / "a").touch()
    os.chown(out / "a", NOBODY.pw_uid, NOBODY.pw_gid)
    os.link(out / "a", out / "b")  # a second name: writing it would change another file
    write_aliases(instance, f"devnull@{DOMAIN}: /dev/null\nlinked@{DOMAIN}: {out}/b\n")
    instance.start()
    send(instance, [f"devnull@{DOMAIN}", f"linked@{DOMAIN}"])
    want = (f"devnull@{DOMAIN}", f"linked@{DOMAIN}")
    lines = {l["to"]: l for l in wait_lines(instance, lambda l: l["to"] in want, 2)}
    assert lines[f"devnull@{DOMAIN}"]["reason"] == "delivered to file: /dev/null"
    assert (lines[f"linked@{DOMAIN}"]["status"], lines[f"linked@{DOMAIN}"]["dsn"]) == ("bounced", "5.2.0")
    assert "more than one link" in lines[f"linked@{DOMAIN}"]["reason"]
    assert (out / "a").stat().st_size == 0
