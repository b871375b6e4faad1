"""CONDSTORE and QRESYNC (RFC 7162) in imapd (doc/imapd.md) over raw IMAP: MODSEQ in SELECT,
FETCH, STORE and SEARCH, CHANGEDSINCE and UNCHANGEDSINCE with [MODIFIED], STATUS HIGHESTMODSEQ,
the implicit enabling of CONDSTORE, SELECT QRESYNC with VANISHED (EARLIER) and the changed
flags, VANISHED instead of EXPUNGE, UID FETCH (CHANGEDSINCE n VANISHED), the HIGHESTMODSEQ a
QRESYNC client is told (lower while an expunge is held back), and the BAD replies to
malformed parameters."""
import re

import pytest

from test_imap import Raw, message, start
from test_pop3 import ALICE


@pytest.fixture
def imap(instance):
    return start(instance)


class Client(Raw):
    """A logged-in raw session: cmd() returns (untagged lines, tagged status and text)."""

    def __init__(self, inst, user=ALICE):
        super().__init__(inst)
        self.n = 0
        self.ok(f"LOGIN {user} secret")

    def cmd(self, text):
        self.n += 1
        tag = f"c{self.n}"
        self.send(f"{tag} {text}\r\n")
        lines = [l.decode().rstrip("\r\n") for l in self.until(tag)]
        return lines[:-1], lines[-1][len(tag) + 1:]

    def ok(self, text):
        untagged, tagged = self.cmd(text)
        assert tagged.startswith("OK"), (text, untagged, tagged)
        return untagged

    def bad(self, text):
        untagged, tagged = self.cmd(text)
        assert tagged.startswith("BAD"), (text, untagged, tagged)
        return untagged

    def append(self, n, mailbox="INBOX"):
        for i in range(n):
            m = message(i + 1)
            self.ok(f"APPEND {mailbox} {{{len(m)}+}}\r\n{m.decode()}")


def code(lines, name):
    """The value of response code [name value] in the lines, or None."""
    for l in lines:
        m = re.search(r"\[" + name + r" ([^\]]*)\]", l)
        if m:
            return m.group(1)
    return None


def fetches(lines):
    """{seq: items text} of the untagged FETCH responses."""
    return {int(m.group(1)): m.group(2) for m in (re.match(r"\* (\d+) FETCH \((.*)\)$", l) for l in lines) if m}


def modseq_of(items):
    return int(re.search(r"MODSEQ \((\d+)\)", items).group(1))


def test_capability_enable_and_select(imap):
    c = Client(imap)
    caps = c.ok("CAPABILITY")[0]
    assert " CONDSTORE" in caps and " QRESYNC" in caps
    c.append(2)
    lines = c.ok("SELECT INBOX")
    h = int(code(lines, "HIGHESTMODSEQ"))
    assert h >= 2  # two appends, each its own MODSEQ
    # ENABLE CONDSTORE with a mailbox selected announces its HIGHESTMODSEQ (RFC 7162 sec 3.1)
    lines = c.ok("ENABLE CONDSTORE")
    assert "* ENABLED CONDSTORE" in lines and int(code(lines, "HIGHESTMODSEQ")) == h
    assert "* ENABLED" in c.ok("ENABLE CONDSTORE")  # nothing new
    assert "* ENABLED QRESYNC" in c.ok("ENABLE QRESYNC")
    lines = c.ok("EXAMINE INBOX (CONDSTORE)")
    assert lines[0] == "* OK [CLOSED] Previous mailbox closed."
    assert int(code(lines, "HIGHESTMODSEQ")) == h
    c.bad("SELECT INBOX (FOO)")
    c.bad("SELECT INBOX (CONDSTORE CONDSTORE)")
    c.bad("SELECT INBOX CONDSTORE")
    c.ok("LOGOUT")


def test_fetch_modseq_changedsince_and_implicit_enable(imap):
    c = Client(imap)
    c.append(3)
    h = int(code(c.ok("SELECT INBOX"), "HIGHESTMODSEQ"))
    # FETCH MODSEQ enables CONDSTORE: the mailbox's HIGHESTMODSEQ is announced first
    lines = c.ok("FETCH 1:* (MODSEQ)")
    assert int(code(lines, "HIGHESTMODSEQ")) == h
    got = {seq: modseq_of(items) for seq, items in fetches(lines).items()}
    assert sorted(got) == [1, 2, 3] and got[1] < got[2] < got[3] == h
    # STORE now answers with UID and MODSEQ (sec 3.1), FLAGS.SILENT too (sec 3.1.3)
    f = fetches(c.ok("STORE 2 +FLAGS (\\Seen)"))
    assert re.fullmatch(r"FLAGS \(\\Seen \\Recent\) UID 2 MODSEQ \((\d+)\)", f[2]) and modseq_of(f[2]) > h
    m2 = modseq_of(f[2])
    f = fetches(c.ok("STORE 3 +FLAGS.SILENT (\\Answered)"))
    assert re.fullmatch(r"UID 3 MODSEQ \(\d+\)", f[3]) and modseq_of(f[3]) > m2
    assert fetches(c.ok("STORE 3 +FLAGS.SILENT (\\Answered)")) == {}  # no change, no MODSEQ
    # CHANGEDSINCE: only what changed after h, with MODSEQ although not asked for
    f = fetches(c.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {h})"))
    assert sorted(f) == [2, 3] and modseq_of(f[2]) == m2
    f = fetches(c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {m2})"))
    assert list(f) == [3] and "UID 3" in f[3]
    assert fetches(c.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {h + 100})")) == {}
    # a body fetch that sets \Seen reports the new MODSEQ with UID and FLAGS
    text = " ".join(c.ok("FETCH 1 (BODY[TEXT])"))  # a literal: lines joined
    assert "UID 1" in text and "\\Seen" in text and modseq_of(text) > m2
    # another session's change reaches this one with MODSEQ
    other = Client(imap)
    other.ok("ENABLE CONDSTORE")
    other.ok("SELECT INBOX")
    mo = modseq_of(fetches(other.ok("STORE 1 +FLAGS (\\Flagged)"))[1])
    f = fetches(c.ok("NOOP"))
    assert "\\Flagged" in f[1] and modseq_of(f[1]) == mo and "UID 1" in f[1]
    for bad in ("FETCH 1 (FLAGS) (CHANGEDSINCE x)", "FETCH 1 (FLAGS) (CHANGEDSINCE)",
                "FETCH 1 (FLAGS) (FOO 1)", "FETCH 1 (FLAGS) (CHANGEDSINCE 1 CHANGEDSINCE 2)",
                "FETCH 1 (FLAGS) (CHANGEDSINCE 99999999999999999999)",
                "FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)",       # not UID FETCH
                "UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)",   # QRESYNC not enabled
                "FETCH 1 (FLAGS) ()"):
        c.bad(bad)
    c.ok("LOGOUT")


def test_store_unchangedsince_and_modified(imap):
    c = Client(imap)
    c.append(3)
    c.ok("SELECT INBOX")
    f = fetches(c.ok("FETCH 1:3 (MODSEQ)"))
    base = max(modseq_of(v) for v in f.values())
    m2 = modseq_of(fetches(c.ok("STORE 2 +FLAGS (\\Seen)"))[2])
    # messages 1 and 3 are unchanged since base, message 2 is not
    lines, tagged = c.cmd(f"STORE 1:3 (UNCHANGEDSINCE {base}) +FLAGS (\\Flagged)")
    assert tagged.startswith("OK [MODIFIED 2]"), tagged
    f = fetches(lines)
    assert sorted(f) == [1, 3] and all("\\Flagged" in v for v in f.values())
    assert "\\Flagged" not in fetches(c.ok("FETCH 2 (FLAGS)"))[2]
    # equal MODSEQ passes; UID STORE reports UIDs; UNCHANGEDSINCE 0 always fails
    lines, tagged = c.cmd(f"UID STORE 2 (UNCHANGEDSINCE {m2}) +FLAGS (\\Draft)")
    assert tagged.startswith("OK") and "MODIFIED" not in tagged
    lines, tagged = c.cmd("UID STORE 1:* (UNCHANGEDSINCE 0) -FLAGS (\\Flagged)")
    assert tagged.startswith("OK [MODIFIED 1:3]") and fetches(lines) == {}
    # a conditional STORE by a session that never enabled CONDSTORE enables it
    other = Client(imap)
    lines = other.ok("SELECT INBOX")
    h = int(code(lines, "HIGHESTMODSEQ"))
    lines, tagged = other.cmd(f"STORE 1 (UNCHANGEDSINCE {h}) FLAGS.SILENT (\\Deleted)")
    assert int(code(lines, "HIGHESTMODSEQ")) == h and tagged.startswith("OK")
    assert re.fullmatch(r"UID 1 MODSEQ \(\d+\)", fetches(lines)[1])
    for bad in ("STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)", "STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)",
                "STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) +FLAGS (\\Seen)",
                "STORE 1 (FOO 1) +FLAGS (\\Seen)", "STORE 1 () +FLAGS (\\Seen)"):
        c.bad(bad)
    c.ok("EXAMINE INBOX")
    untagged, tagged = c.cmd(f"STORE 1 (UNCHANGEDSINCE {h + 10}) +FLAGS (\\Seen)")
    assert tagged.startswith("NO [READ-ONLY]")
    c.ok("LOGOUT")


def test_search_modseq(imap):
    c = Client(imap)
    c.append(4)
    c.ok("ENABLE CONDSTORE")
    c.ok("SELECT INBOX")
    mods = {}
    for seq in (1, 3, 2):  # MODSEQs 1 < 3 < 2 in this order
        mods[seq] = modseq_of(fetches(c.ok(f"STORE {seq} +FLAGS (\\Seen)"))[seq])
    assert f"* SEARCH 1 2 3 (MODSEQ {mods[2]})" in c.ok(f"SEARCH MODSEQ {mods[1]}")
    assert f"* SEARCH 2 3 (MODSEQ {mods[2]})" in c.ok(f'SEARCH MODSEQ "/flags/\\\\Seen" all {mods[3]}')
    assert f"* SEARCH 2 (MODSEQ {mods[2]})" in c.ok(f"UID SEARCH MODSEQ {mods[2]} SEEN")
    assert "* SEARCH" in c.ok(f"SEARCH MODSEQ {mods[2] + 1}")  # nothing: no MODSEQ either
    assert "* SEARCH 1 2 3 4" in c.ok("SEARCH ALL")  # MODSEQ only when the key was used
    lines = c.ok(f"SEARCH RETURN (MIN) MODSEQ {mods[1]}")
    assert any(l.endswith(f"MIN 1 MODSEQ {mods[1]}") for l in lines), lines
    lines = c.ok(f"SEARCH RETURN (MIN MAX) 2:3 MODSEQ {mods[1]}")
    assert any(l.endswith(f"MIN 2 MAX 3 MODSEQ {mods[2]}") for l in lines), lines
    lines = c.ok(f"SEARCH RETURN (COUNT) MODSEQ {mods[1]}")
    assert any(l.endswith(f"COUNT 3 MODSEQ {mods[2]}") for l in lines), lines
    for bad in ("SEARCH MODSEQ", "SEARCH MODSEQ x", 'SEARCH MODSEQ "/flags/\\\\Seen" 5',
                'SEARCH MODSEQ "/flags/\\\\Seen" mine 5', 'SEARCH MODSEQ "/other/x" all 5'):
        c.bad(bad)
    c.ok("LOGOUT")


def test_status_highestmodseq(imap):
    c = Client(imap)
    c.append(1)
    lines = c.ok("STATUS INBOX (MESSAGES HIGHESTMODSEQ)")
    h = int(re.search(r"HIGHESTMODSEQ (\d+)", lines[0]).group(1))
    assert "MESSAGES 1 " in lines[0]
    c.append(1)
    lines = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
    assert int(re.search(r"HIGHESTMODSEQ (\d+)", lines[0]).group(1)) > h
    c.ok("LOGOUT")


def test_qresync_select_reports_vanished_and_changes(imap):
    c = Client(imap)
    c.append(6)
    c.ok("ENABLE QRESYNC")
    lines = c.ok("SELECT INBOX")
    uv, h0 = int(code(lines, "UIDVALIDITY")), int(code(lines, "HIGHESTMODSEQ"))
    # changes after h0: flags of UIDs 2 and 5, UIDs 3 and 4 expunged
    c.ok("UID STORE 2,5 +FLAGS.SILENT (\\Flagged)")
    c.ok("UID STORE 3:4 +FLAGS.SILENT (\\Deleted)")
    lines, tagged = c.cmd("EXPUNGE")
    assert "* VANISHED 3:4" in lines and not any("EXPUNGE" in l for l in lines)
    h1 = int(re.match(r"OK \[HIGHESTMODSEQ (\d+)\]", tagged).group(1))  # sec 3.2.7
    lines = c.ok(f"SELECT INBOX (QRESYNC ({uv} {h0}))")
    assert lines[0] == "* OK [CLOSED] Previous mailbox closed."
    vanished = [l for l in lines if l.startswith("* VANISHED")]
    assert vanished == ["* VANISHED (EARLIER) 3:4"]
    assert lines.index(vanished[0]) < min(i for i, l in enumerate(lines) if " FETCH " in l)
    f = fetches(lines)
    # sequence numbers after the expunges: UID 2 is 2, UID 5 is 3
    assert sorted(f) == [2, 3] and "UID 5" in f[3] and "\\Flagged" in f[3] and modseq_of(f[3]) <= h1
    # known-uids limits both answers
    lines = c.ok(f"EXAMINE INBOX (QRESYNC ({uv} {h0} 4:6))")
    assert "* VANISHED (EARLIER) 4" in lines and sorted(fetches(lines)) == [3]
    # nothing since h1; another UIDVALIDITY gets no resync at all
    lines = c.ok(f"SELECT INBOX (QRESYNC ({uv} {h1}))")
    assert not [l for l in lines if "VANISHED" in l or " FETCH " in l]
    lines = c.ok(f"SELECT INBOX (QRESYNC ({uv + 1} {h0}))")
    assert not [l for l in lines if "VANISHED" in l or " FETCH " in l]
    # seq-match-data is accepted (the expunge log is complete, so it is not needed)
    lines = c.ok(f"SELECT INBOX (QRESYNC ({uv} {h0} 1:6 (1,3 1,5)))")
    assert "* VANISHED (EARLIER) 3:4" in lines
    for bad in (f"SELECT INBOX (QRESYNC ({uv}))", f"SELECT INBOX (QRESYNC (0 {h0}))",
                f"SELECT INBOX (QRESYNC ({uv} x))", "SELECT INBOX (QRESYNC)",
                f"SELECT INBOX (QRESYNC ({uv} {h0} 1:x))", f"SELECT INBOX (QRESYNC ({uv} {h0} 1:6 (1,2 5)))",
                f"SELECT INBOX (QRESYNC ({uv} {h0} 1:6 (1:* 1:2)))", f"SELECT INBOX (QRESYNC {uv} {h0})",
                f"SELECT INBOX (QRESYNC ({uv} {h0} 1:6 (1 1) extra))"):
        c.bad(bad)
    # without ENABLE QRESYNC the parameter is refused (sec 3.2.5)
    d = Client(imap)
    d.bad(f"SELECT INBOX (QRESYNC ({uv} {h0}))")
    c.ok("LOGOUT")


def test_vanished_replaces_expunge_and_uid_fetch_vanished(imap):
    c = Client(imap)
    c.append(5)
    c.ok("ENABLE QRESYNC")
    h0 = int(code(c.ok("SELECT INBOX"), "HIGHESTMODSEQ"))
    other = Client(imap)
    other.ok("SELECT INBOX")
    other.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    other.ok("EXPUNGE")
    # the QRESYNC session is told with VANISHED and the new HIGHESTMODSEQ, never EXPUNGE
    lines = c.ok("NOOP")
    assert "* VANISHED 2,4" in lines and not any("EXPUNGE" in l for l in lines)
    h1 = int(code(lines, "HIGHESTMODSEQ"))
    assert h1 > h0
    other.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
    assert "\\Seen" in fetches(c.ok("NOOP"))[1]
    lines = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h0} VANISHED)")
    assert lines[0] == "* VANISHED (EARLIER) 2,4"
    assert sorted(fetches(lines)) == [1]
    lines = c.ok(f"UID FETCH 3:* (FLAGS) (CHANGEDSINCE {h0} VANISHED)")
    assert lines[0] == "* VANISHED (EARLIER) 4"
    lines = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h1} VANISHED)")
    assert not [l for l in lines if "VANISHED" in l]
    # An expunge this session has not been told of yet: reported once, by the sync's own
    # VANISHED, not a second time in (EARLIER); both before the FETCHes.
    other.ok("UID STORE 5 +FLAGS.SILENT (\\Deleted)")
    other.ok("EXPUNGE")
    lines = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h0} VANISHED)")
    vanished = [l for l in lines if "VANISHED" in l]
    assert sorted(vanished) == ["* VANISHED (EARLIER) 2,4", "* VANISHED 5"], lines
    assert max(lines.index(l) for l in vanished) < min(
        i for i, l in enumerate(lines) if " FETCH " in l), lines
    c.ok("LOGOUT")


def test_held_back_expunge_lowers_highestmodseq(imap):
    """RFC 7162 sec 3.2 (RFC 5162 erratum 1810): MODSEQs sent while an expunge waits must not
    let the client skip that expunge when it resynchronises."""
    c = Client(imap)
    c.append(2)
    c.ok("ENABLE QRESYNC")
    h0 = int(code(c.ok("SELECT INBOX"), "HIGHESTMODSEQ"))
    other = Client(imap)
    other.ok("SELECT INBOX")
    other.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    other.ok("EXPUNGE")
    # a STORE by sequence number may not report the expunge: its MODSEQ is above it
    lines = c.ok("STORE 2 +FLAGS (\\Seen)")
    assert not any("VANISHED" in l for l in lines)
    m = modseq_of(fetches(lines)[2])
    told = int(code(lines, "HIGHESTMODSEQ"))
    assert told < m and told == h0
    lines = c.ok("NOOP")
    assert "* VANISHED 1" in lines and int(code(lines, "HIGHESTMODSEQ")) >= m
    c.ok("LOGOUT")


def test_idle_tells_a_qresync_client_vanished_and_highestmodseq(imap):
    c = Client(imap)
    c.append(2)
    c.ok("ENABLE QRESYNC")
    h0 = int(code(c.ok("SELECT INBOX"), "HIGHESTMODSEQ"))
    c.send("i1 IDLE\r\n")
    assert c.line().startswith(b"+ ")
    other = Client(imap)
    other.ok("SELECT INBOX")
    other.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    other.ok("EXPUNGE")
    seen = []
    while not any("HIGHESTMODSEQ" in l for l in seen):
        seen.append(c.line().decode().rstrip("\r\n"))
    assert "* VANISHED 2" in seen and int(code(seen, "HIGHESTMODSEQ")) > h0
    c.send("DONE\r\n")
    assert c.until("i1")[-1].startswith(b"i1 OK")
    c.ok("LOGOUT")
