"""CONTEXT=SEARCH (RFC 5267 sec 4; doc/imapd.md) over raw IMAP: RETURN (PARTIAL lo:hi) for
SEARCH, UID SEARCH and SORT, CONTEXT as a hint, and RETURN (UPDATE): the result follows the
session's own STORE and APPEND, another session's STORE (also into IDLE) and EXPUNGE (the
REMOVEFROM before the EXPUNGE, in the numbers the client knew), until CANCELUPDATE,
UNSELECT or another SELECT; NOUPDATE past ten kept searches; bad ranges are BAD."""
import pytest

from imap_session import Session
from test_imap import start


@pytest.fixture
def imap(instance):
    return start(instance)


def fill_box(s, n=5, box="Ctx"):
    s.ok(f"CREATE {box}")
    for i in range(1, n + 1):
        s.append(box, f"Subject: s{i}\r\nMessage-ID: <{i}@t>\r\n\r\nbody {i}\r\n",
                 f"0{i}-Jan-2024 10:00:00 +0000")
    s.ok(f"SELECT {box}")


def esearch(untagged):
    return [u for u in untagged if u.startswith(b"ESEARCH ")]


def test_partial_ranges(imap):
    s = Session(imap)
    assert b"CONTEXT=SEARCH" in s.one("CAPABILITY", "CAPABILITY").split()
    fill_box(s)
    tag = f"t{s.n + 1}".encode()
    assert s.one("SEARCH RETURN (PARTIAL 2:4) ALL", "ESEARCH") == b'(TAG "%s") PARTIAL (2:4 2:4)' % tag
    assert s.one("SEARCH RETURN (PARTIAL 4:2) ALL", "ESEARCH").endswith(b"PARTIAL (2:4 2:4)")
    assert s.one("SEARCH RETURN (PARTIAL 1:6) ALL", "ESEARCH").endswith(b"PARTIAL (1:6 1:5)")
    assert s.one("SEARCH RETURN (PARTIAL 6:6) ALL", "ESEARCH").endswith(b"PARTIAL (6:6 NIL)")
    assert s.one("SEARCH RETURN (PARTIAL 2:3) 1:2,4:5", "ESEARCH").endswith(b"PARTIAL (2:3 2,4)")
    assert s.one("SEARCH RETURN (COUNT PARTIAL 1:2) 2:5", "ESEARCH").endswith(b"COUNT 4 PARTIAL (1:2 2:3)")
    assert s.one("UID SEARCH RETURN (PARTIAL 5:5) ALL", "ESEARCH").endswith(b"UID PARTIAL (5:5 5)")
    assert s.one("SORT RETURN (PARTIAL 2:4) (REVERSE ARRIVAL) UTF-8 ALL",
                 "ESEARCH").endswith(b"PARTIAL (2:4 4,3,2)")
    assert s.one("SEARCH RETURN (CONTEXT COUNT) ALL", "ESEARCH").endswith(b"COUNT 5")  # a hint
    for bad in ("PARTIAL 1", "PARTIAL 1:*", "PARTIAL 0:2", "PARTIAL 2:4 ALL", "PARTIAL x:y",
                "PARTIAL 1:2 PARTIAL 3:4"):
        assert s.cmd(f"SEARCH RETURN ({bad}) ALL")[1].startswith(b"BAD"), bad
    assert s.cmd("SORT RETURN (PARTIAL 1:*) (ARRIVAL) UTF-8 ALL")[1].startswith(b"BAD")
    s.close()


def test_update_follows_every_change(imap):
    a, b = Session(imap), Session(imap)
    fill_box(a)
    b.ok("SELECT Ctx")
    untagged = a.ok("SEARCH RETURN (UPDATE) SEEN")
    tag = f"t{a.n}".encode()
    assert esearch(untagged) == [b'ESEARCH (TAG "%s")' % tag]  # UPDATE alone: no ALL
    # the session's own STORE
    assert esearch(a.ok("STORE 1,2,4 +FLAGS (\\Seen)")) == [b'ESEARCH (TAG "%s") ADDTO (0 1:2,4)' % tag]
    assert esearch(a.ok("STORE 1,2 -FLAGS.SILENT (\\Seen)")) == [b'ESEARCH (TAG "%s") REMOVEFROM (0 1:2)' % tag]
    assert esearch(a.ok("STORE 3 +FLAGS (\\Flagged)")) == []  # no change of the result
    # another session's STORE, seen at the next command
    b.ok("STORE 5 +FLAGS.SILENT (\\Seen)")
    assert esearch(a.ok("NOOP")) == [b'ESEARCH (TAG "%s") ADDTO (0 5)' % tag]
    # an APPEND of a seen message
    data = b"Subject: s6\r\n\r\nbody 6\r\n"
    untagged, tagged = a.cmd(b"APPEND Ctx (\\Seen) {%d+}\r\n" % len(data) + data)
    assert tagged.startswith(b"OK") and b"6 EXISTS" in untagged, (tagged, untagged)
    assert esearch(untagged) == [b'ESEARCH (TAG "%s") ADDTO (0 6)' % tag]
    # EXPUNGE: out of the result first, under the number the client knew
    a.ok("STORE 4 +FLAGS.SILENT (\\Deleted)")
    untagged = a.ok("EXPUNGE")
    assert untagged.index(b'ESEARCH (TAG "%s") REMOVEFROM (0 4)' % tag) < untagged.index(b"4 EXPUNGE"), untagged
    # UID SEARCH keeps UIDs; two kept searches each get their own update
    untagged = a.ok("UID SEARCH RETURN (UPDATE ALL) UNSEEN")
    utag = f"t{a.n}".encode()
    assert esearch(untagged) == [b'ESEARCH (TAG "%s") UID ALL 1:3' % utag]
    untagged = a.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
    assert sorted(esearch(untagged)) == sorted([b'ESEARCH (TAG "%s") ADDTO (0 1)' % tag,
                                                b'ESEARCH (TAG "%s") UID REMOVEFROM (0 1)' % utag])
    # CANCELUPDATE ends one; an unknown tag is NO
    a.ok(f'CANCELUPDATE "{tag.decode()}"')
    assert esearch(a.ok("STORE 2 +FLAGS.SILENT (\\Seen)")) == [b'ESEARCH (TAG "%s") UID REMOVEFROM (0 2)' % utag]
    assert a.cmd(f'CANCELUPDATE "{tag.decode()}"')[1].startswith(b"NO")
    assert a.cmd("CANCELUPDATE")[1].startswith(b"BAD")
    # UNSELECT ends the rest
    a.ok("UNSELECT")
    a.ok("SELECT Ctx")
    assert esearch(a.ok("STORE 3 -FLAGS.SILENT (\\Seen)")) == []
    a.close()
    b.close()


def test_update_reaches_idle(imap):
    a, b = Session(imap), Session(imap)
    fill_box(a)
    b.ok("SELECT Ctx")
    a.ok("SEARCH RETURN (UPDATE) FLAGGED")
    tag = f"t{a.n}".encode()
    a.send(b"i IDLE\r\n")
    assert a.line().startswith(b"+ ")
    b.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
    seen = []
    while not seen or not seen[-1].startswith(b"* ESEARCH"):
        seen.append(a.line())
        assert seen[-1], seen
    assert seen[-1] == b'* ESEARCH (TAG "%s") ADDTO (0 2)\r\n' % tag, seen
    a.send(b"DONE\r\n")
    assert a.until("i")[-1].startswith(b"i OK")
    a.close()
    b.close()


def test_duplicate_tags_and_noupdate(imap):
    s = Session(imap)
    fill_box(s)
    s.send(b"same SEARCH RETURN (UPDATE) ALL\r\n")
    assert s.until("same")[-1].startswith(b"same OK")
    s.send(b"same SEARCH RETURN (UPDATE) ALL\r\n")
    assert s.until("same")[-1].startswith(b"same BAD")  # the tag names a kept search
    for _ in range(9):  # ten kept in all
        assert not [u for u in s.ok("SEARCH RETURN (UPDATE COUNT) ALL") if b"NOUPDATE" in u]
    untagged = s.ok("SEARCH RETURN (UPDATE COUNT) ALL")
    assert any(u.startswith(b'NO [NOUPDATE "t%d"]' % s.n) for u in untagged), untagged
    assert any(u.endswith(b"COUNT 5") for u in untagged)  # the answer itself still comes
    # SORT results are not kept: NOUPDATE, with the answer
    untagged = s.ok("SORT RETURN (UPDATE ALL) (ARRIVAL) UTF-8 ALL")
    assert any(u.startswith(b"NO [NOUPDATE") for u in untagged) and esearch(untagged), untagged
    s.close()
