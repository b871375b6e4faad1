"""MULTIAPPEND (RFC 3502; doc/imapd.md) end to end over raw IMAP: several messages with their
own flags and dates in one APPEND, with synchronising literals (a "+" for each) and LITERAL+,
one APPENDUID with the set of their UIDs, the selected session told of all of them; and all
or none: a message over APPENDLIMIT, a syntax error in the last message, the quota running
out part way and a missing mailbox leave the mailbox as it was."""
import re
from datetime import datetime, timezone

import pytest

from conftest import DOMAIN
from imap_session import Session
from test_imap import start


@pytest.fixture
def imap(instance):
    return start(instance, imapd_append_limit="2000")


def msg(i, size=0):
    return (f"Subject: m{i}\r\nMessage-ID: <m{i}@t>\r\n\r\n" + "x" * size + f"body {i}\r\n").encode()


def count(s, box):
    return int(re.search(rb"MESSAGES (\d+)", s.one(f"STATUS {box} (MESSAGES)", "STATUS")).group(1))


def lit(data):
    return b"{%d+}\r\n" % len(data) + data


def test_several_messages_in_one_append(imap):
    s = Session(imap)
    assert b"MULTIAPPEND" in s.one("CAPABILITY", "CAPABILITY").split()
    s.ok("CREATE Box")
    s.append("Box", msg(0))
    s.ok("SELECT Box")
    tagged = s.cmd(b"APPEND Box (\\Seen) \"01-Feb-2024 10:00:00 +0100\" " + lit(msg(1)) + b" " + lit(msg(2)) +
                   b" (\\Flagged $Label) " + lit(msg(3)))
    untagged, status = tagged
    m = re.match(rb"OK \[APPENDUID (\d+) 2:4\]", status)
    assert m, status
    assert b"4 EXISTS" in untagged, untagged
    fetched = s.ok("FETCH 2:4 (FLAGS INTERNALDATE ENVELOPE)")
    text = b"\n".join(fetched)
    dates = [datetime.strptime(d.decode(), "%d-%b-%Y %H:%M:%S %z")
             for d in re.findall(rb'INTERNALDATE "([^"]+)"', text)]
    assert dates[0] == datetime(2024, 2, 1, 9, 0, tzinfo=timezone.utc), dates  # the first's date
    assert re.search(rb"2 FETCH \(FLAGS \(\\Seen", text) and b"3 FETCH (FLAGS (\\Recent)" in text, text
    assert b"$Label" in fetched[-1] and b"\\Flagged" in fetched[-1], fetched
    assert [int(x) for x in re.findall(rb'ENVELOPE \(NIL "m(\d)"', text)] == [1, 2, 3], text
    s.close()


def test_synchronising_literals(imap):
    s = Session(imap)
    s.ok("CREATE Box")
    one, two = msg(1), msg(2)
    s.send(b"a APPEND Box {%d}\r\n" % len(one))
    assert s.line().startswith(b"+")
    s.send(one + b" (\\Draft) {%d}\r\n" % len(two))
    assert s.line().startswith(b"+")
    s.send(two + b"\r\n")
    assert re.match(rb"a OK \[APPENDUID \d+ 1:2\]", s.until("a")[-1])
    assert count(s, "Box") == 2
    s.close()


def test_all_or_none(instance):
    imap = start(instance, imapd_append_limit="2000")
    imap.add_user(f"carol@{DOMAIN}", quota=700)
    s = Session(imap)
    s.ok("CREATE Box")
    s.append("Box", msg(0))
    # the second is over APPENDLIMIT
    status = s.cmd(b"APPEND Box " + lit(msg(1)) + b" " + lit(msg(2, 2500)) + b" " + lit(msg(3)))[1]
    assert status.startswith(b"NO [TOOBIG]"), status
    assert count(s, "Box") == 1
    # the last one's flags are broken
    status = s.cmd(b"APPEND Box " + lit(msg(1)) + b" " + lit(msg(2)) + b" (\\Bogus " + lit(msg(3)))[1]
    assert status.startswith(b"BAD"), status
    status = s.cmd(b"APPEND Box " + lit(msg(1)) + b' "99-Foo-2024 10:00:00 +0000" ' + lit(msg(2)))[1]
    assert status.startswith(b"BAD"), status
    assert count(s, "Box") == 1
    # no such mailbox
    assert s.cmd(b"APPEND Nowhere " + lit(msg(1)) + b" " + lit(msg(2)))[1].startswith(b"NO [TRYCREATE]")
    s.close()
    # a quota of 700 bytes: 200 in use, then 3 x 300 does not fit (the third would start
    # at 800), 2 x 300 does
    c = Session(imap, f"carol@{DOMAIN}")
    c.append("INBOX", msg(0, 160))
    big = [msg(i, 260) for i in (1, 2, 3)]
    status = c.cmd(b"APPEND INBOX " + b" ".join(lit(m) for m in big))[1]
    assert status.startswith(b"NO [OVERQUOTA]"), status
    assert count(c, "INBOX") == 1
    status = c.cmd(b"APPEND INBOX " + b" ".join(lit(m) for m in big[:2]))[1]
    assert re.match(rb"OK \[APPENDUID \d+ 2:3\]", status), status
    assert count(c, "INBOX") == 3
    c.close()
