"""LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), the SPECIAL-USE selection and return
options (RFC 6154) and STATUS=SIZE (RFC 8438) end to end over raw IMAP (doc/imapd.md):
several patterns, SUBSCRIBED with \\Subscribed and \\NonExistent, RECURSIVEMATCH with
CHILDINFO only where a child is not listed itself, CHILDREN, levels of a hierarchy that do
not exist ("%" shows them, "*" does not), STATUS after each existing mailbox's LIST
response, the BAD replies, and LSUB left as it was."""
import re

import pytest

from imap_session import Session
from test_imap import start


@pytest.fixture
def imap(instance):
    return start(instance)


def listing(untagged):
    """{name: (set of lower-cased attributes, extended data or None)} of LIST responses."""
    out = {}
    for line in untagged:
        m = re.match(rb'LIST \(([^)]*)\) "\." "?([^" ]*)"?(?: (.*))?$', line)
        if m:
            attrs = {a.decode().lower() for a in m.group(1).split()}
            out[m.group(2).decode()] = (attrs, m.group(3))
    return out


def statuses(untagged):
    out = {}
    for line in untagged:
        m = re.match(rb'STATUS "?([^" ]*)"? \((.*)\)$', line)
        if m:
            v = m.group(2).split()
            out[m.group(1).decode()] = {v[i].decode(): int(v[i + 1]) for i in range(0, len(v), 2)}
    return out


def hierarchy(s):
    """h, h.a, h.b, h.b.c exist; h.d.e and h.d.f (h.d does not); h.x.y and h.x.z; subscribed:
    h.a, h.b.c, h.s (deleted), h.x.y, h.x.z."""
    for name in ["h.", "h.a", "h.b.", "h.b.c", "h.d.e", "h.d.f", "h.s", "h.x.y", "h.x.z"]:
        s.ok(f"CREATE {name}")
    for name in ["h.a", "h.b.c", "h.s", "h.x.y", "h.x.z"]:
        s.ok(f"SUBSCRIBE {name}")
    s.ok("DELETE h.s")


def test_patterns_and_hierarchy_levels(imap):
    s = Session(imap)
    caps = s.one("CAPABILITY", "CAPABILITY").split()
    for c in [b"LIST-EXTENDED", b"LIST-STATUS", b"STATUS=SIZE", b"SPECIAL-USE"]:
        assert c in caps, caps
    hierarchy(s)
    got = listing(s.ok('LIST "" (h.*a h.b "h.d.%")'))
    assert set(got) == {"h.a", "h.b", "h.d.e", "h.d.f"}, got
    got = listing(s.ok('LIST "h." (*a b)'))  # the reference goes before each pattern
    assert set(got) == {"h.a", "h.b"}, got
    # "%" shows the missing level h.d (basic syntax: \Noselect), "*" does not need it
    got = listing(s.ok('LIST "" h.%'))
    assert set(got) == {"h.a", "h.b", "h.d", "h.x"}, got
    assert got["h.d"][0] == {"\\noselect", "\\haschildren"}, got
    assert got["h.b"][0] == {"\\haschildren"} and got["h.a"][0] == {"\\hasnochildren"}, got
    got = listing(s.ok('LIST "" h.*'))
    assert "h.d" not in got and "h.d.e" in got and "h.s" not in got, got
    # extended syntax: \NonExistent, children only on request
    got = listing(s.ok('LIST () "" h.% RETURN (CHILDREN SUBSCRIBED)'))
    assert got["h.d"][0] == {"\\nonexistent", "\\haschildren"}, got
    assert got["h.a"][0] == {"\\hasnochildren", "\\subscribed"}, got
    assert got["h.b"][0] == {"\\haschildren"}, got
    got = listing(s.ok('LIST "" (h.%)'))
    assert got["h.b"][0] == set() and got["h.d"][0] == {"\\nonexistent"}, got
    # the root query of the basic syntax
    assert s.ok('LIST "" ""') == [b'LIST (\\Noselect) "." ""']
    s.close()


def test_subscribed_and_recursivematch(imap):
    s = Session(imap)
    hierarchy(s)
    got = listing(s.ok('LIST (SUBSCRIBED) "" h.*'))
    assert set(got) == {"h.a", "h.b.c", "h.s", "h.x.y", "h.x.z"}, got
    assert got["h.s"][0] == {"\\subscribed", "\\nonexistent"}, got
    assert got["h.a"][0] == {"\\subscribed"} and got["h.a"][1] is None, got
    # h.b is not subscribed, h.b.c is, and "h.%" does not reach it: CHILDINFO
    got = listing(s.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" h.% RETURN (CHILDREN)'))
    assert set(got) == {"h.a", "h.b", "h.s", "h.x"}, got
    assert got["h.b"] == ({"\\haschildren"}, b'("CHILDINFO" ("SUBSCRIBED"))'), got
    assert got["h.x"] == ({"\\nonexistent", "\\haschildren"}, b'("CHILDINFO" ("SUBSCRIBED"))'), got
    assert got["h.a"][1] is None, got
    # a child the patterns list anyway makes CHILDINFO redundant (RFC 5258 sec 3.5)
    got = listing(s.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" (h.b h.b.c)'))
    assert set(got) == {"h.b.c"}, got
    got = listing(s.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" (h.x h.x.y)'))
    assert set(got) == {"h.x", "h.x.y"} and got["h.x"][1] == b'("CHILDINFO" ("SUBSCRIBED"))', got
    # without RECURSIVEMATCH, no parents
    assert set(listing(s.ok('LIST (SUBSCRIBED) "" h.%'))) == {"h.a", "h.s"}
    s.close()


def test_list_status_and_special_use(imap):
    s = Session(imap)
    hierarchy(s)
    s.append("h.a", "Subject: one\r\n\r\nbody one\r\n", flags="\\Seen")
    s.append("h.a", "Subject: two\r\n\r\nbody two, longer\r\n")
    untagged = s.ok('LIST "" h.% RETURN (STATUS (MESSAGES UNSEEN SIZE UIDNEXT))')
    st = statuses(untagged)
    assert set(st) == {"h.a", "h.b"}, st  # none for the missing h.d and h.x
    s.ok("SELECT h.a")
    size = sum(int(x) for x in re.findall(rb"RFC822\.SIZE (\d+)", b" ".join(s.ok("FETCH 1:* RFC822.SIZE"))))
    assert st["h.a"] == {"MESSAGES": 2, "UNSEEN": 1, "SIZE": size, "UIDNEXT": 3}, st
    assert st["h.b"] == {"MESSAGES": 0, "UNSEEN": 0, "SIZE": 0, "UIDNEXT": 1}, st
    # each STATUS right after its mailbox's LIST response
    names = [re.sub(rb'^(LIST \([^)]*\) "\." |STATUS )"?([^" ]*)"?.*$', rb"\2", l) for l in untagged]
    assert names == [b"h.a", b"h.a", b"h.b", b"h.b", b"h.d", b"h.x"], untagged
    assert s.one("STATUS h.a (SIZE MESSAGES)", "STATUS") == b'"h.a" (SIZE %d MESSAGES 2)' % size
    # SPECIAL-USE (RFC 6154): selection and return options
    got = listing(s.ok('LIST (SPECIAL-USE) "" * RETURN (SPECIAL-USE)'))
    assert got == {"Archive": ({"\\archive"}, None), "Drafts": ({"\\drafts"}, None),
                   "Junk": ({"\\junk"}, None), "Sent": ({"\\sent"}, None),
                   "Trash": ({"\\trash"}, None)}, got
    got = listing(s.ok('LIST "" % RETURN (SPECIAL-USE STATUS (MESSAGES))'))
    assert "\\sent" in got["Sent"][0] and "INBOX" in got, got
    s.close()


@pytest.mark.parametrize("bad", [
    'LIST (BOGUS) "" *', 'LIST (RECURSIVEMATCH) "" *', 'LIST (RECURSIVEMATCH REMOTE) "" *',
    'LIST "" * RETURN (BOGUS)', 'LIST "" * RETURN (STATUS (BOGUS))', 'LIST "" * RETURN (STATUS ())',
    'LIST "" * RETURN (STATUS)', 'LIST "" ()', 'LIST "" * RETURN', 'LIST "" * (CHILDREN)',
    'LIST "" * RETURN (CHILDREN) extra', 'STATUS INBOX (BOGUS)',
])
def test_errors(imap, bad):
    s = Session(imap)
    assert s.cmd(bad)[1].startswith(b"BAD"), bad
    s.close()


def test_remote_and_lsub_unchanged(imap):
    s = Session(imap)
    hierarchy(s)
    assert set(listing(s.ok('LIST (REMOTE) "" h.%'))) == {"h.a", "h.b", "h.d", "h.x"}
    lsub = s.ok('LSUB "" h.*')
    assert b'LSUB (\\HasNoChildren \\Noselect) "." "h.s"' in lsub, lsub
    assert b'LSUB (\\HasNoChildren) "." "h.a"' in lsub, lsub
    # RFC 3501 sec 6.3.9: "*" reaches h.b.c itself, so its unsubscribed parent is not shown
    # (the RFC's own example: LSUB "#news." "comp.mail.*"); "%" stops at h.b and shows it.
    names = {line.rsplit(b" ", 1)[-1].strip(b'"') for line in lsub}
    assert b"h.b.c" in names and b"h.b" not in names, lsub
    lsub = s.ok('LSUB "" h.%')
    assert b'LSUB (\\Noselect) "." "h.b"' in lsub, lsub
    assert not any(line.endswith(b'"h.b.c"') for line in lsub), lsub
    s.close()
