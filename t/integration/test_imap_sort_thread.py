"""SORT, ESORT and THREAD (RFC 5256, RFC 5957, RFC 5267; doc/imapd.md) end to end over raw
IMAP: every sort key and REVERSE on messages with missing headers, RFC 2047 subjects with
Re:/Fwd:/[tag] prefixes and equal keys (mailbox order decides), UID SORT and UID THREAD,
search criteria, ESEARCH answers in sort order, the REFERENCES steps (References and
In-Reply-To, dummies, a reference loop, a duplicate Message-ID, subjects gathered) and
ORDEREDSUBJECT, an empty mailbox, errors, the header and key limits, and a mailbox big
enough to be read in several slices with a command pipelined behind."""
import re

import pytest

from imap_session import Session, numbers
from test_imap import start


@pytest.fixture
def imap(instance):
    return start(instance)


def msg(subject=None, frm=None, to=None, cc=None, date=None, mid=None, refs=None, irt=None, body="x"):
    h = []
    for name, v in [("Subject", subject), ("From", frm), ("To", to), ("Cc", cc), ("Date", date),
                    ("Message-ID", mid), ("References", refs), ("In-Reply-To", irt)]:
        if v is not None:
            h.append(f"{name}: {v}\r\n")
    return "".join(h) + "\r\n" + body + "\r\n"


# Sequence numbers 1..5; a first message appended and expunged makes every UID = seq + 1.
SORT_SET = [
    (msg("=?utf-8?q?Re:_[list]_Caf=C3=A9?=", "Aaron <zed@d.test>", "b@d.test", None,
         "Mon, 02 Jan 2023 10:00:00 +0000"), "05-Jan-2023 10:00:00 +0000"),
    (msg("Fwd: [other] caf\u00e9 (fwd)", "amy@d.test", "=?utf-8?q?=C3=89mile?= <e@d.test>", "carl@d.test",
         "Mon, 02 Jan 2023 12:00:00 +0200"), "04-Jan-2023 10:00:00 +0000"),
    (msg("[fwd: Apples]", "Bob <bob@d.test>", None, "group: x@d.test;"), "01-Jan-2023 10:00:00 +0000"),
    (msg(None, None, None, None, "not a date"), "03-Jan-2023 10:00:00 +0000"),
    (msg("Re: Re: apples", '"Carl, C." <c@d.test>', None, None, "Sun, 01 Jan 2023 23:00:00 -0500"),
     "02-Jan-2023 10:00:00 +0000"),
]


def fill(s, box, messages):
    s.ok(f"CREATE {box}")
    s.append(box, msg("placeholder"))
    for m, date in messages:
        s.append(box, m.encode(), date)
    s.ok(f"SELECT {box}")
    s.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    s.ok("EXPUNGE")


@pytest.mark.parametrize("criteria,want", [
    ("SUBJECT", [4, 3, 5, 1, 2]),
    ("REVERSE SUBJECT", [1, 2, 3, 5, 4]),
    ("ARRIVAL", [3, 5, 4, 2, 1]),
    ("REVERSE ARRIVAL", [1, 2, 4, 5, 3]),
    ("DATE", [3, 5, 1, 2, 4]),         # 1 and 2 were sent at the same instant; 4's Date: is junk
    ("FROM", [4, 2, 3, 5, 1]),         # addr-mailbox: "", amy, bob, c, zed
    ("DISPLAYFROM", [4, 1, 2, 3, 5]),  # "", Aaron, amy@d.test, Bob, "Carl, C."
    ("TO", [3, 4, 5, 1, 2]),
    ("DISPLAYTO", [3, 4, 5, 1, 2]),    # "", "", "", b@d.test, Emile (decoded)
    ("CC", [1, 4, 5, 2, 3]),           # a group counts by its name
    ("SUBJECT REVERSE DATE", [4, 5, 3, 1, 2]),
    ("REVERSE SUBJECT REVERSE ARRIVAL", [1, 2, 5, 3, 4]),
])
def test_sort_keys(imap, criteria, want):
    s = Session(imap)
    fill(s, "Sorted", SORT_SET)
    assert numbers(s.one(f"SORT ({criteria}) UTF-8 ALL", "SORT")) == want
    assert numbers(s.one(f"UID SORT ({criteria}) US-ASCII ALL", "SORT")) == [n + 1 for n in want]
    s.close()


def test_sort_size_search_criteria_and_esort(imap):
    s = Session(imap)
    fill(s, "Sorted", SORT_SET)
    sizes = {}
    for line in s.ok("FETCH 1:* RFC822.SIZE"):
        m = re.match(rb"(\d+) FETCH \(RFC822\.SIZE (\d+)\)", line)
        sizes[int(m.group(1))] = int(m.group(2))
    by_size = sorted(sizes, key=lambda n: (sizes[n], n))
    assert numbers(s.one("SORT (SIZE) UTF-8 ALL", "SORT")) == by_size
    assert numbers(s.one('SORT (SUBJECT) UTF-8 FROM "bob"', "SORT")) == [3]
    assert numbers(s.one("SORT (ARRIVAL) UTF-8 NOT SUBJECT apples 2:5", "SORT")) == [4, 2]
    assert s.one('SORT (ARRIVAL) UTF-8 SUBJECT "no such thing"', "SORT") == b""
    # ESORT: ESEARCH in sort order, MIN and MAX the first and last of it
    assert s.one("SORT RETURN (MIN MAX COUNT) (SUBJECT) UTF-8 ALL", "ESEARCH") == \
        b'(TAG "t%d") MIN 4 MAX 2 COUNT 5' % s.n
    assert s.one("SORT RETURN (ALL) (REVERSE ARRIVAL) UTF-8 ALL", "ESEARCH") == \
        b'(TAG "t%d") ALL 1:2,4:5,3' % s.n
    assert s.one("SORT RETURN () (ARRIVAL) UTF-8 ALL", "ESEARCH") == b'(TAG "t%d") ALL 3,5,4,2,1' % s.n
    assert s.one("UID SORT RETURN (MIN ALL) (DATE) UTF-8 ALL", "ESEARCH") == \
        b'(TAG "t%d") UID MIN 4 ALL 4,6,2:3,5' % s.n
    assert s.one('SORT RETURN (MIN MAX ALL COUNT) (ARRIVAL) UTF-8 SUBJECT "nothing"', "ESEARCH") == \
        b'(TAG "t%d") COUNT 0' % s.n
    s.close()


def test_sort_and_thread_errors_and_empty_mailbox(imap):
    s = Session(imap)
    assert s.cmd("SORT (ARRIVAL) UTF-8 ALL")[1].startswith(b"BAD")  # nothing selected
    s.ok("CREATE Empty")
    s.ok("SELECT Empty")
    assert s.ok("SORT (SUBJECT) UTF-8 ALL") == [b"SORT"]
    assert s.ok("THREAD REFERENCES UTF-8 ALL") == [b"THREAD"]
    assert s.ok("THREAD ORDEREDSUBJECT US-ASCII ALL") == [b"THREAD"]
    for bad in ["SORT () UTF-8 ALL", "SORT (REVERSE) UTF-8 ALL", "SORT (BOGUS) UTF-8 ALL",
                "SORT (ARRIVAL) UTF-8", "SORT ARRIVAL UTF-8 ALL", "SORT RETURN (BOGUS) (ARRIVAL) UTF-8 ALL",
                "SORT (ARRIVAL) UTF-8 NOSUCHKEY", "THREAD BOGUS UTF-8 ALL", "THREAD REFERENCES UTF-8",
                "SORT (REVERSE REVERSE DATE) UTF-8 ALL"]:
        assert s.cmd(bad)[1].startswith(b"BAD"), bad
    assert s.cmd("SORT (ARRIVAL) KOI8-R ALL")[1].startswith(b"NO [BADCHARSET (UTF-8 US-ASCII)]")
    assert s.cmd("THREAD REFERENCES ISO-8859-1 ALL")[1].startswith(b"NO [BADCHARSET")
    caps = s.one("CAPABILITY", "CAPABILITY").split()
    for c in [b"SORT", b"SORT=DISPLAY", b"ESORT", b"THREAD=ORDEREDSUBJECT", b"THREAD=REFERENCES"]:
        assert c in caps, caps
    s.close()


def day(n):
    return f"Mon, {n:02d} Jan 2024 10:00:00 +0000"


THREAD_SET = [
    msg("topic", mid="<a@t>", date=day(1)),
    msg("Re: topic", mid="<b@t>", refs="<a@t>", date=day(3)),
    msg("Re: Re: topic", mid="<c@t>", irt="<b@t> (Bob's message)", date=day(4)),
    msg("other", mid="<d@t>", refs="<zz@t>\r\n <y@t>", date=day(5)),
    msg("Re: other", mid="<e@t>", refs="<y@t>", date=day(6)),
    msg("loop", mid="<f@t>", refs="<g@t>", date=day(8)),
    msg("Re: loop", mid="<g@t>", refs="<f@t>", date=day(7)),
    msg("Re: topic", date=day(2)),                      # no Message-ID: joins "topic" by subject
    msg("unrelated", mid="<a@t>", refs="<b@t>", date=day(9)),  # a duplicate Message-ID
]


def test_thread_references_and_orderedsubject(imap):
    s = Session(imap)
    fill(s, "Threads", [(m, None) for m in THREAD_SET])
    # b and c below a, and the reply without references by subject, siblings by date; d and e
    # under the dummy zz/y; f and g reference each other: g, processed last, cannot take f's
    # place above it; the duplicate <a@t> is its own message, below b by its References.
    assert s.one("THREAD REFERENCES UTF-8 ALL", "THREAD") == b"(1 (8)(2 (3)(9)))((4)(5))(7 6)"
    assert s.one("UID THREAD REFERENCES UTF-8 ALL", "THREAD") == b"(2 (9)(3 (4)(10)))((5)(6))(8 7)"
    assert s.one("THREAD REFERENCES UTF-8 NOT SUBJECT loop 1:5", "THREAD") == b"(1 2 3)((4)(5))"
    assert s.one("THREAD ORDEREDSUBJECT UTF-8 ALL", "THREAD") == b"(1 (8)(2)(3))(4 5)(7 6)(9)"
    assert s.one("UID THREAD ORDEREDSUBJECT UTF-8 6:*", "THREAD") == b"(9)(8 7)(10)"
    s.close()


def test_limits_on_headers_and_keys(instance):
    long = "x" * 80
    imap = start(instance, imapd_sort_header_limit="1024", imapd_sort_key_limit="64")
    s = Session(imap)
    fill(s, "Limits", [
        (msg(f"{long} b"), None),
        (msg(f"{long} a"), None),  # the same as 1 in the first 64 bytes: mailbox order
        ("X-Filler: " + "y" * 2000 + "\r\n" + msg("zzz"), None),  # Subject past 1024 bytes
        (msg("mmm"), None),
    ])
    assert numbers(s.one("SORT (SUBJECT) UTF-8 ALL", "SORT")) == [3, 4, 1, 2]
    s.close()


def test_limits_defaults_compare_whole_keys(imap):
    long = "x" * 80
    s = Session(imap)
    fill(s, "Limits", [(msg(f"{long} b"), None), (msg(f"{long} a"), None),
                       ("X-Filler: " + "y" * 2000 + "\r\n" + msg("zzz"), None), (msg("mmm"), None)])
    assert numbers(s.one("SORT (SUBJECT) UTF-8 ALL", "SORT")) == [4, 2, 1, 3]
    s.close()


def test_big_mailbox_in_slices_keeps_command_order(imap):
    n = 600
    s = Session(imap)
    s.ok("CREATE Big")
    batch = b""
    for i in range(n):
        data = msg(f"Re: subject {(i * 7919) % n:05d}", date=day(1 + i % 28), body="b" * 200).encode()
        batch += b"a%d APPEND Big {%d+}\r\n%s\r\n" % (i, len(data), data)
    s.send(batch)
    s.until(f"a{n - 1}")
    s.ok("SELECT Big")
    s.send("x SORT (SUBJECT) UTF-8 ALL\r\ny NOOP\r\nz THREAD ORDEREDSUBJECT UTF-8 ALL\r\n")
    lines = s.until("z")
    tags = [l.split(b" ")[0] for l in lines if not l.startswith(b"*")]
    assert tags == [b"x", b"y", b"z"], tags
    sort = [l for l in lines if l.startswith(b"* SORT")][0]
    want = sorted(range(1, n + 1), key=lambda k: (((k - 1) * 7919) % n, k))
    assert numbers(sort[7:]) == want
    thread = [l for l in lines if l.startswith(b"* THREAD")][0]
    assert thread.count(b"(") == n and thread.startswith(b"* THREAD (1)(29)(57)"), thread[:40]
    s.close()


def test_big_search_in_slices_keeps_command_order(imap):
    """SEARCH runs over the mailbox in slices too (search.c on scan.c): a body search of a
    mailbox bigger than one slice answers right, and pipelined commands keep their order."""
    n = 400
    s = Session(imap)
    s.ok("CREATE Big")
    batch = b""
    for i in range(n):
        word = "needle" if i % 50 == 7 else "hay"
        data = msg(f"subject {i}", body=(word + " ") * 2000).encode()
        batch += b"a%d APPEND Big {%d+}\r\n%s\r\n" % (i, len(data), data)
    s.send(batch)
    s.until(f"a{n - 1}")
    s.ok("SELECT Big")
    s.send("x SEARCH BODY needle\r\ny NOOP\r\nz UID SEARCH RETURN (COUNT) TEXT needle\r\n")
    lines = s.until("z")
    tags = [l.split(b" ")[0] for l in lines if not l.startswith(b"*")]
    assert tags == [b"x", b"y", b"z"], tags
    found = [l for l in lines if l.startswith(b"* SEARCH")][0]
    assert numbers(found[9:]) == [i + 1 for i in range(n) if i % 50 == 7]
    assert any(b"COUNT 8" in l for l in lines if l.startswith(b"* ESEARCH")), lines
    s.close()
