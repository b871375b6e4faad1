"""SEARCHRES (RFC 5182; doc/imapd.md) end to end over raw IMAP: SEARCH, UID SEARCH, SORT
RETURN (SAVE) without an answer of their own (or with the ESEARCH the other options ask
for), "$" in FETCH, STORE, COPY, MOVE, UID EXPUNGE, SEARCH, SORT and THREAD, only MIN and/or
MAX saved when asked alone, and the invalidation rules: empty before any SAVE, after a
failed SAVE (NO or BAD), after SELECT, EXAMINE, UNSELECT and CLOSE; expunged messages
leave it, new ones do not join it."""
import re

import pytest

from imap_session import Session, numbers
from test_imap import start


@pytest.fixture
def imap(instance):
    return start(instance)


def msg(i):
    return f"Subject: s{i}\r\nMessage-ID: <{i}@t>\r\n\r\nbody {i}\r\n"


def fill_box(s, n=5, box="Res"):
    s.ok(f"CREATE {box}")
    for i in range(1, n + 1):
        s.append(box, msg(i), f"0{i}-Jan-2024 10:00:00 +0000")
    s.ok(f"SELECT {box}")


def fetched(s, cmd):
    """Sequence numbers (and UIDs) a FETCH answered."""
    out = []
    for line in s.ok(cmd):
        m = re.match(rb"(\d+) FETCH \(.*UID (\d+)", line)
        if m:
            out.append((int(m.group(1)), int(m.group(2))))
    return out


def test_save_and_use_everywhere(imap):
    s = Session(imap)
    assert b"SEARCHRES" in s.one("CAPABILITY", "CAPABILITY").split()
    fill_box(s)
    assert fetched(s, "FETCH $ (UID)") == []  # nothing saved yet
    untagged, tagged = s.cmd("SEARCH RETURN (SAVE) OR SUBJECT s2 SUBJECT s4")
    assert tagged.startswith(b"OK") and untagged == [], untagged  # no SEARCH or ESEARCH answer
    assert fetched(s, "FETCH $ (UID)") == [(2, 2), (4, 4)]
    assert fetched(s, "UID FETCH $ (FLAGS)") == [(2, 2), (4, 4)]
    assert numbers(s.one("SEARCH $", "SEARCH")) == [2, 4]
    assert numbers(s.one("UID SEARCH UID $", "SEARCH")) == [2, 4]
    assert numbers(s.one("SEARCH NOT $", "SEARCH")) == [1, 3, 5]
    assert numbers(s.one("SEARCH OR $ 5", "SEARCH")) == [2, 4, 5]
    s.ok("STORE $ +FLAGS.SILENT (\\Flagged)")
    assert numbers(s.one("SEARCH FLAGGED", "SEARCH")) == [2, 4]
    s.ok("CREATE Copies")
    assert re.match(rb"OK \[COPYUID \d+ 2,4 1:2\]", s.cmd("COPY $ Copies")[1])
    assert s.one("SORT (REVERSE ARRIVAL) UTF-8 $", "SORT") == b"4 2"
    assert s.one("THREAD ORDEREDSUBJECT UTF-8 $", "THREAD") == b"(2)(4)"
    # MIN and MAX alone save only those; with COUNT (or ALL) everything
    assert s.one("SEARCH RETURN (SAVE MIN) ALL", "ESEARCH").endswith(b" MIN 1")
    assert numbers(s.one("SEARCH $", "SEARCH")) == [1]
    s.ok("SEARCH RETURN (MAX SAVE MIN) 2:4")
    assert numbers(s.one("SEARCH $", "SEARCH")) == [2, 4]
    assert s.one("SEARCH RETURN (SAVE MIN COUNT) 2:4", "ESEARCH").endswith(b" MIN 2 COUNT 3")
    assert numbers(s.one("SEARCH $", "SEARCH")) == [2, 3, 4]
    # UID SEARCH saves the same messages; SORT saves in sort order, MIN its first
    assert s.cmd("UID SEARCH RETURN (SAVE) UID 3:5")[0] == []
    assert fetched(s, "FETCH $ (UID)") == [(3, 3), (4, 4), (5, 5)]
    assert s.cmd("SORT RETURN (SAVE MIN) (REVERSE ARRIVAL) UTF-8 1:3")[0][0].endswith(b" MIN 3")
    assert fetched(s, "FETCH $ (UID)") == [(3, 3)]
    s.ok("SORT RETURN (SAVE) (ARRIVAL) UTF-8 1:2")
    assert fetched(s, "FETCH $ (UID)") == [(1, 1), (2, 2)]
    # MOVE $ and UID EXPUNGE $
    assert re.match(rb"OK", s.cmd("MOVE $ Copies")[1])
    assert numbers(s.one("SEARCH ALL", "SEARCH")) == [1, 2, 3]
    s.ok("SEARCH RETURN (SAVE) 1")
    s.ok("STORE 1:* +FLAGS.SILENT (\\Deleted)")
    untagged = s.ok("UID EXPUNGE $")
    assert untagged == [b"1 EXPUNGE"], untagged
    assert fetched(s, "FETCH 1:* (UID)") == [(1, 4), (2, 5)]
    assert s.cmd("FETCH $,1 (UID)")[1].startswith(b"BAD")
    s.close()


def test_expunged_leave_and_new_do_not_join(imap):
    s = Session(imap)
    fill_box(s)
    s.ok("SEARCH RETURN (SAVE) 2:4")
    s.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
    s.ok("EXPUNGE")
    assert fetched(s, "FETCH $ (UID)") == [(2, 2), (3, 4)]
    other = Session(imap)  # another session expunges 4 (now sequence 3)
    other.ok("SELECT Res")
    other.ok("UID STORE 4 +FLAGS.SILENT (\\Deleted)")
    other.ok("EXPUNGE")
    s.append("Res", msg(6))
    s.ok("NOOP")
    assert fetched(s, "FETCH $ (UID)") == [(2, 2)]
    assert numbers(s.one("UID SEARCH $", "SEARCH")) == [2]
    other.close()
    s.close()


@pytest.mark.parametrize("reset", [
    "SELECT Res", "EXAMINE Res", "UNSELECT", "CLOSE", "SELECT Nonexistent",
    "SEARCH RETURN (SAVE) CHARSET KOI8-R ALL",   # NO [BADCHARSET]
    "SEARCH RETURN (SAVE) BOGUSKEY",             # BAD
    "SEARCH RETURN (SAVE BOGUS) ALL",            # BAD in the options themselves
    "UID SEARCH RETURN (SAVE) UID",              # BAD: a key without its argument
    "SORT RETURN (SAVE) (ARRIVAL) KOI8-R ALL",   # NO
    "SORT RETURN (SAVE) (BOGUS) UTF-8 ALL",      # BAD
])
def test_reset(imap, reset):
    s = Session(imap)
    fill_box(s)
    s.ok("SEARCH RETURN (SAVE) 1:3")
    s.cmd(reset)
    if not reset.startswith(("SEARCH", "UID", "SORT")):
        s.ok("SELECT Res")
    assert fetched(s, "FETCH $ (UID)") == []
    assert s.one("SEARCH $", "SEARCH") == b""
    s.close()


def test_failed_search_without_save_keeps_it(imap):
    s = Session(imap)
    fill_box(s)
    s.ok("SEARCH RETURN (SAVE) 1:3")
    assert s.cmd("SEARCH BOGUSKEY")[1].startswith(b"BAD")
    assert s.cmd("SEARCH RETURN (MIN) CHARSET KOI8-R ALL")[1].startswith(b"NO")
    s.ok("SEARCH 4")
    assert numbers(s.one("SEARCH $", "SEARCH")) == [1, 2, 3]
    s.close()


def test_imap4rev2_session(imap):
    s = Session(imap)
    fill_box(s)
    s.ok("ENABLE IMAP4rev2")
    assert s.cmd("SEARCH RETURN (SAVE) 2:3")[0] == []
    assert s.one("SEARCH $", "ESEARCH") == b'(TAG "t%d") ALL 2:3' % s.n
    s.close()
