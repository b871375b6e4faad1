"""APPEND's big literals go to a file, not to memory (doc/imapd.md, imapd/mailbox/spool.c):
while an 8 MB message is half sent, imapd-mailbox holds an unlinked file in the user's
Maildir tmp/ and its memory has not grown by the message; the message comes back
byte-identical, also where CRLF pairs straddle the 64 KiB copy chunks and with bare CRs;
MULTIAPPEND of two spooled messages works as before; below imapd_literal_memory_limit
nothing is spooled."""
import os
import re
import time
from pathlib import Path

from test_imap import Raw, start
from test_pop3 import ALICE


def mailbox_pids(inst):
    return inst.status_pids().get("imap-mailbox", [])


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def spool_fds(pid, tmpdir):
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(tmpdir)):
            out.append(target)
    return out


def login(inst):
    r = Raw(inst, tls=True)
    r.send(f"a LOGIN {ALICE} secret\r\n")
    assert r.until("a")[-1].startswith(b"a OK")
    return r


def fetch_body(r, tag, uid, mailbox=None):
    if mailbox:
        r.send(f"{tag}s SELECT {mailbox}\r\n")
        assert r.until(f"{tag}s")[-1].startswith(f"{tag}s OK".encode())
    r.send(f"{tag} UID FETCH {uid} (BODY.PEEK[])\r\n")
    lines = r.until(tag)
    data = b"".join(lines)
    m = re.search(rb"BODY\[\] \{(\d+)\}\r\n", data)
    assert m, data[:300]
    start_ = m.end()
    return data[start_:start_ + int(m.group(1))]


def message(size):
    """CRLF lines of varied length so pairs straddle every chunk border, and bare CRs inside
    lines (a bare CR right before a line end cannot survive the LF store, with or without a
    spool; RFC 5322 sec 2.3 allows neither)."""
    head = b"From: big@remote.test\r\nSubject: big\r\n\r\n"
    body, i = bytearray(), 0
    while len(body) < size:
        body += b"x" * (i % 97) + (b"\ry" if i % 13 == 0 else b"") + b"\r\n"
        i += 1
    return head + bytes(body)


def test_big_append_is_spooled_and_comes_back_intact(instance):
    inst = start(instance)
    r = login(inst)
    msg = message(8 * 1024 * 1024)
    r.send(f"b APPEND INBOX {{{len(msg)}}}\r\n")
    assert r.line().startswith(b"+")
    half = len(msg) // 2
    r.send(msg[:half])
    tmpdir = inst.maildir(ALICE) / "tmp"
    deadline = time.monotonic() + 10
    pids = mailbox_pids(inst)
    before = {pid: rss_kib(pid) for pid in pids}
    while not any(spool_fds(pid, tmpdir) for pid in pids):
        assert time.monotonic() < deadline, "no spool file in the Maildir's tmp/"
        time.sleep(0.05)
    time.sleep(0.5)  # let the half arrive
    grown = max(rss_kib(pid) - before[pid] for pid in pids)
    assert grown < 2048, f"imapd-mailbox grew by {grown} KiB while receiving 4 MB"
    r.send(msg[half:] + b"\r\n")
    reply = r.until("b")[-1]
    assert reply.startswith(b"b OK"), reply
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", reply).group(1))
    assert fetch_body(r, "c", uid, "INBOX") == msg
    assert not any(spool_fds(pid, tmpdir) for pid in pids), "spool file left open"
    r.close()


def test_multiappend_of_spooled_messages(instance):
    inst = start(instance)
    r = login(inst)
    one, two = message(300 * 1024), message(200 * 1024).replace(b"x", b"z")
    r.send(f"b APPEND Drafts {{{len(one)}+}}\r\n".encode() + one +
           f" (\\Seen) {{{len(two)}+}}\r\n".encode() + two + b"\r\n")
    reply = r.until("b")[-1]
    assert reply.startswith(b"b OK"), reply
    uids = re.search(rb"APPENDUID \d+ (\d+):(\d+)", reply)
    assert uids, reply
    r.send("c SELECT Drafts\r\n")
    r.until("c")
    assert fetch_body(r, "d", int(uids.group(1))) == one
    assert fetch_body(r, "e", int(uids.group(2))) == two
    r.close()


def test_small_append_stays_in_memory(instance):
    """Below imapd_literal_memory_limit nothing is spooled (and the path still works)."""
    inst = start(instance, imapd_literal_memory_limit="1m")
    r = login(inst)
    msg = message(512 * 1024)
    r.send(f"b APPEND INBOX {{{len(msg)}}}\r\n")
    assert r.line().startswith(b"+")
    r.send(msg[:1000])
    time.sleep(0.3)
    tmpdir = inst.maildir(ALICE) / "tmp"
    assert not any(spool_fds(pid, tmpdir) for pid in mailbox_pids(inst))
    r.send(msg[1000:] + b"\r\n")
    reply = r.until("b")[-1]
    assert reply.startswith(b"b OK"), reply
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", reply).group(1))
    assert fetch_body(r, "c", uid, "INBOX") == msg
    r.close()
