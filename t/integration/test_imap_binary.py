"""BINARY (RFC 3516, RFC 9051 sec 6.4.5; doc/imapd.md) end to end over raw IMAP: the
capability is announced to IMAP4rev1 sessions too; an attachment appended as a literal8
with NULs, bare CRs, bare LFs and 8-bit octets comes back octet for octet from
BINARY[part] (as a literal8) with the right BINARY.SIZE, while BODY[part], POP3 and the
Maildir file see it in base64 (no NUL stored); the text part beside it is untouched; a big
literal8 that goes to the spool file is rewritten the same way; a literal8 with nothing
binary in it is stored as it came."""
import poplib
import re

import pytest

from imap_session import Session
from test_imap import start
from test_pop3 import ALICE

ATTACHMENT = bytes(range(256)) + b"\0\r\rx\n\ny\r\n\0"


def message(attachment):
    return (b"From: a@example.test\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
            b"--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
            b"--b1\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\n" + attachment + b"\r\n--b1--\r\n")


@pytest.fixture
def imap(instance):
    return start(instance, imapd_literal_memory_limit="65536")


def append8(s, box, data):
    tagged = s.cmd(b"APPEND " + box.encode() + b" ~{%d+}\r\n" % len(data) + data)[1]
    m = re.match(rb"OK \[APPENDUID \d+ (\d+)\]", tagged)
    assert m, tagged
    return int(m.group(1))


def fetch_literal(s, uid, item):
    """The bytes of ITEM of UID (a literal or literal8) and how it came ("{" or "~{")."""
    s.n += 1
    tag = f"t{s.n}"
    s.send(f"{tag} UID FETCH {uid} ({item})\r\n")
    head = s.line()
    m = re.search(rb"(~?\{)(\d+)\}\r\n$", head)
    assert m, head
    data = s.f.read(int(m.group(2)))
    rest = s.until(tag)
    assert rest[-1].startswith(tag.encode() + b" OK"), rest
    return data, m.group(1).decode()


def test_binary_announced_and_round_trip(imap):
    s = Session(imap)
    assert b"BINARY" in s.one("CAPABILITY", "CAPABILITY").split()
    uid = append8(s, "INBOX", message(ATTACHMENT))
    s.ok("SELECT INBOX")
    data, how = fetch_literal(s, uid, "BINARY.PEEK[2]")
    assert (data, how) == (ATTACHMENT, "~{")
    size = s.one(f"UID FETCH {uid} (BINARY.SIZE[2])", "1")
    assert b"BINARY.SIZE[2] %d" % len(ATTACHMENT) in size
    text, how = fetch_literal(s, uid, "BINARY.PEEK[1]")
    assert text == b"see attached"
    encoded, _ = fetch_literal(s, uid, "BODY.PEEK[2]")
    assert b"\0" not in encoded and re.fullmatch(rb"[A-Za-z0-9+/=\r\n]+", encoded)
    mime, _ = fetch_literal(s, uid, "BODY.PEEK[2.MIME]")
    assert b"Content-Transfer-Encoding: base64\r\n" in mime
    whole, _ = fetch_literal(s, uid, "BODY.PEEK[]")
    assert b"\0" not in whole

    files = list((imap.maildir(ALICE) / "cur").iterdir()) + list((imap.maildir(ALICE) / "new").iterdir())
    assert len(files) == 1 and b"\0" not in files[0].read_bytes()
    p = poplib.POP3("127.0.0.1", imap.ports["pop3"], timeout=30)
    p.user(ALICE)
    p.pass_("secret")
    assert b"\r\n".join(p.retr(1)[1]) + b"\r\n" == whole
    p.quit()


def test_spooled_literal8_is_rewritten_too(imap):
    s = Session(imap)
    big = ATTACHMENT * 2000  # about 540 KB: past imapd_literal_memory_limit, spooled
    uid = append8(s, "INBOX", message(big))
    s.ok("SELECT INBOX")
    assert fetch_literal(s, uid, "BINARY.PEEK[2]") == (big, "~{")
    assert b"BINARY.SIZE[2] %d" % len(big) in s.one(f"UID FETCH {uid} (BINARY.SIZE[2])", "1")


def test_literal8_without_binary_parts_is_kept(imap):
    s = Session(imap)
    plain = b"Subject: plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\n"
    uid = append8(s, "INBOX", plain)
    s.ok("SELECT INBOX")
    assert fetch_literal(s, uid, "BODY.PEEK[]")[0] == plain
    assert fetch_literal(s, uid, "BINARY.PEEK[1]") == (b"caf\xc3\xa9\r\n", "{")
