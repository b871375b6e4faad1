"""What real clients meet at the edges of IMAP (found by an outside review, doc/imapd.md):
COPY and MOVE of messages another session expunged meanwhile (COPYUID pairs only what was
copied, RFC 4315 sec 3; nothing left is NO [EXPUNGEISSUED]), APPEND dates before 1970 kept
(as the epoch's first second) and impossible dates refused, an APPEND literal over APPENDLIMIT refused before
the client uploads it (RFC 7889), no \\Recent in the FLAGS of an IMAP4rev2 session (RFC 9051
Appendix E), and ID's parameter list checked (RFC 2971 sec 4)."""
import re

from imap_session import Session
from test_imap import start

import pytest


@pytest.fixture
def imap(instance):
    return start(instance, imapd_append_limit="100000")


def msg(i):
    return f"Subject: e{i}\r\nMessage-ID: <e{i}@t>\r\n\r\nbody {i}\r\n"


def two_sessions(imap, n=3):
    a, b = Session(imap), Session(imap)
    a.ok("CREATE Src")
    a.ok("CREATE Dst")
    uids = [a.append("Src", msg(i)) for i in range(1, n + 1)]
    a.ok("SELECT Src")
    b.ok("SELECT Src")
    return a, b, uids


def expunge_first(b):
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")


def copyuid(text):
    m = re.search(rb"\[COPYUID \d+ ([\d:,]+) ([\d:,]+)\]", text)
    assert m, text
    return m.group(1), m.group(2)


def test_copy_of_messages_expunged_meanwhile(imap):
    a, b, uids = two_sessions(imap)
    expunge_first(b)
    untagged, tagged = a.cmd("COPY 1:2 Dst")  # a has not been told of the expunge
    assert tagged.startswith(b"OK"), tagged
    assert copyuid(tagged) == (str(uids[1]).encode(), b"1")  # never a 0
    assert any(u.startswith(b"NO [EXPUNGEISSUED]") for u in untagged), untagged
    untagged, tagged = a.cmd("COPY 1 Dst")  # only the expunged one
    assert tagged.startswith(b"NO [EXPUNGEISSUED]"), tagged
    assert a.one("STATUS Dst (MESSAGES)", "STATUS").endswith(b"(MESSAGES 1)")


def test_move_of_messages_expunged_meanwhile(imap):
    a, b, uids = two_sessions(imap)
    expunge_first(b)
    untagged, tagged = a.cmd("MOVE 1:3 Dst")
    assert tagged.startswith(b"OK"), tagged
    ok = [u for u in untagged if b"COPYUID" in u]
    assert len(ok) == 1 and copyuid(ok[0]) == (f"{uids[1]}:{uids[2]}".encode(), b"1:2"), untagged
    assert b.one("STATUS Dst (MESSAGES)", "STATUS").endswith(b"(MESSAGES 2)")
    a.ok("NOOP")
    assert a.one("STATUS Src (MESSAGES)", "STATUS").endswith(b"(MESSAGES 0)")


def append_dated(s, date):
    data = msg(9).encode()
    return s.cmd(f'APPEND INBOX "{date}" {{{len(data)}+}}\r\n'.encode() + data)[1]


def test_append_dates(imap):
    s = Session(imap)
    assert append_dated(s, "01-Jan-1900 00:00:00 +0000").startswith(b"OK [APPENDUID")
    assert append_dated(s, "01-Jan-1970 00:00:00 +0100").startswith(b"OK [APPENDUID")
    assert append_dated(s, " 5-Mar-2024 10:20:30 -0130").startswith(b"OK [APPENDUID")
    assert append_dated(s, "29-Feb-2024 00:00:00 +0000").startswith(b"OK [APPENDUID")
    for bad in ("31-Feb-2024 00:00:00 +0000", "29-Feb-2023 00:00:00 +0000",
                "01-Foo-2024 00:00:00 +0000", "01-Jan-24 00:00:00 +0000",
                "01-Jan-2024 24:00:00 +0000", "01-Jan-2024 00:00:00 0000", "", "1"):
        assert append_dated(s, bad).startswith(b"BAD"), bad
    s.ok("SELECT INBOX")
    dates = re.findall(rb'INTERNALDATE "([^"]+)"', b" ".join(s.ok("FETCH 1:4 (INTERNALDATE)")))
    assert dates[0] == dates[1] == b"01-Jan-1970 00:00:01 +0000", dates
    assert dates[2:] == [b"05-Mar-2024 11:50:30 +0000", b"29-Feb-2024 00:00:00 +0000"], dates


def test_appendlimit_is_refused_before_the_upload(imap):
    s = Session(imap)
    s.n += 1
    s.send(f"t{s.n} APPEND INBOX {{100001}}\r\n".encode())
    reply = s.line()  # no "+" continuation: the client need not send the 100001 bytes
    assert reply.startswith(f"t{s.n} NO [TOOBIG]".encode()), reply
    s.ok("NOOP")  # the session goes on
    s.n += 1
    s.send(f"t{s.n} APPEND INBOX {{100000}}\r\n".encode())
    assert s.line().startswith(b"+ ")
    s.send(b"x" * 100000 + b"\r\n")
    assert s.until(f"t{s.n}")[-1].startswith(f"t{s.n} OK".encode())


def test_no_recent_flag_for_imap4rev2(imap):
    old, new = Session(imap), Session(imap)
    new.ok("ENABLE IMAP4rev2")
    for s in (old, new):
        s.ok("CREATE R" + str(id(s) % 1000))
    for s in (old, new):
        box = "R" + str(id(s) % 1000)
        s.append(box, msg(1))
        s.ok("SELECT " + box)
    assert b"\\Recent" in b" ".join(old.ok("FETCH 1 FLAGS"))
    assert b"\\Recent" not in b" ".join(new.ok("FETCH 1 FLAGS"))


def test_id_parameter_list(imap):
    s = Session(imap)
    assert s.cmd('ID ("name" "x" "version" NIL)')[1].startswith(b"OK")
    assert s.cmd("ID NIL")[1].startswith(b"OK")
    for bad in ('ID ("a")', 'ID (name "x")', 'ID ("a" ("b"))', "ID x"):
        assert s.cmd(bad)[1].startswith(b"BAD"), bad
