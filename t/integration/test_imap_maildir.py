"""The Maildir stays a Maildir that other programs may touch (doc/imapd.md, doc/mailstore.md):
a message file copied into new/ by hand, one removed by hand, and flag letters changed by hand
in a cur/ name reach a session in IDLE within about a second, as EXISTS, EXPUNGE and FETCH
FLAGS, with no command from the client; a SELECT right after such a change sees it, also in
a process that skips the directory scan for a folder it already watches."""
import os
import re
import time

from imap_session import one_mailbox_process
from test_imap import Raw, message, start
from test_pop3 import ALICE, deliver


def idle(inst):
    r = Raw(inst, tls=True)
    r.send(f"a LOGIN {ALICE} secret\r\n")
    r.until("a")
    r.send("b SELECT INBOX\r\n")
    r.until("b")
    r.send("c IDLE\r\n")
    assert r.line().startswith(b"+ ")
    return r


def wait_line(r, pattern, timeout=2.5):
    """The first line matching pattern that arrives within timeout (IDLE, no command)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        r.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            line = r.line()
        except TimeoutError:  # the file object is unusable after this: the test ends
            break
        if not line:
            break
        seen.append(line)
        if re.search(pattern, line):
            return line
    raise AssertionError(f"no {pattern!r} within {timeout}s; got {seen}")


def test_files_changed_by_hand_reach_an_idle_session(instance, tmp_path):
    inst = start(instance)
    deliver(inst, ALICE, [message(1)])
    r = idle(inst)
    new = inst.maildir(ALICE) / "new"
    cur = inst.maildir(ALICE) / "cur"

    # cp into new/: the file is written in place (IN_CLOSE_WRITE), as a person would do it.
    start_t = time.monotonic()
    (new / "1700000000.M1P1.backup").write_bytes(message(2).replace(b"\r\n", b"\n"))
    wait_line(r, rb"^\* 2 EXISTS")
    took = time.monotonic() - start_t

    # Flag letters changed by hand on the delivered message.
    files = [p for p in list(new.iterdir()) + list(cur.iterdir()) if b"m1@remote" in p.read_bytes()]
    assert len(files) == 1
    base = files[0].name.split(":2,")[0]
    os.rename(files[0], cur / f"{base}:2,FS")
    wait_line(r, rb"^\* 1 FETCH \(.*FLAGS \((\\Flagged \\Seen|\\Seen \\Flagged)")

    # rm by hand.
    (cur / f"{base}:2,FS").unlink()
    wait_line(r, rb"^\* 1 EXPUNGE")
    r.sock.settimeout(30)
    r.send("DONE\r\n")
    assert r.until("c")[-1].startswith(b"c OK")
    r.send("d FETCH 1 (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])\r\n")
    assert b"<m2@remote.test>" in b"".join(r.until("d"))
    r.close()
    assert "changes made by another program taken into the index" in inst.log()
    print(f"\nhand-copied file seen in IDLE after {took:.2f}s")
    assert took < 2.5


def test_a_store_writer_does_not_cause_a_resync(instance):
    """Deliveries reach IDLE through the index alone: the store's own renames in new/ are
    recognised as already indexed, so nothing is synced for them."""
    inst = start(instance)
    r = idle(inst)
    deliver(inst, ALICE, [message(3)])
    wait_line(r, rb"^\* 1 EXISTS")
    time.sleep(0.6)  # past the directory settle time
    r.send("DONE\r\n")
    r.sock.settimeout(30)
    assert r.until("c")[-1].startswith(b"c OK")
    r.close()
    assert "by another program" not in inst.log()


def test_structure_is_cached_in_the_index(instance):
    """ENVELOPE, BODYSTRUCTURE and BODY are computed once and then read from the index: with
    the file emptied behind the server's back, a second FETCH still answers them as before,
    while BODY[] shows that the file really is empty."""
    inst = start(instance)
    deliver(inst, ALICE, [message(5, "cached body")])
    r = Raw(inst, tls=True)
    r.send(f"a LOGIN {ALICE} secret\r\nb SELECT INBOX\r\n")
    r.until("b")
    items = "(ENVELOPE BODYSTRUCTURE BODY)"
    r.send(f"c FETCH 1 {items}\r\n")
    first = r.until("c")
    assert first[-1].startswith(b"c OK") and b'"message 5"' in first[0], first
    files = [p for sub in ("new", "cur") for p in (inst.maildir(ALICE) / sub).iterdir()]
    assert len(files) == 1
    os.truncate(files[0], 0)
    r.send(f"d FETCH 1 {items}\r\n")
    second = r.until("d")
    assert second[0].replace(b"* 1 FETCH", b"") == first[0].replace(b"* 1 FETCH", b""), second
    r.send("e FETCH 1 (BODY.PEEK[TEXT])\r\n")
    text = b"".join(r.until("e"))
    assert b"cached body" not in text and (b"BODY[TEXT] {0}" in text or b'BODY[TEXT] ""' in text), text
    r.close()


def exists_after_select(r, tag):
    r.send(f"{tag} SELECT INBOX\r\n")
    lines = r.until(tag)
    assert lines[-1].startswith(f"{tag} OK".encode()), lines
    return [int(l.split()[1]) for l in lines if l.endswith(b" EXISTS\r\n")][0]


def test_select_sees_changes_made_by_hand_at_once(instance):
    """Session a keeps INBOX selected (its new/ and cur/ watched); files added and removed by
    hand are seen by the very next SELECT of session b in the same process, before the
    watch's settle time: the pending events are read first and force the scan."""
    one_mailbox_process(instance)
    inst = start(instance)
    deliver(inst, ALICE, [message(1)])
    a, b = Raw(inst), Raw(inst)
    for r in (a, b):
        r.send(f"l LOGIN {ALICE} secret\r\n")
        r.until("l")
    assert exists_after_select(a, "s") == 1
    time.sleep(0.6)  # past the settle time of the new watches: the folder counts as current
    assert exists_after_select(b, "t1") == 1
    new = inst.maildir(ALICE) / "new"
    (new / "1700000000.M1P1.byhand").write_bytes(message(2).replace(b"\r\n", b"\n"))
    assert exists_after_select(b, "t2") == 2
    time.sleep(0.6)
    assert exists_after_select(b, "t3") == 2  # nothing changed: the same answer
    [hand] = [p for sub in ("new", "cur") for p in (inst.maildir(ALICE) / sub).glob("*.byhand*")]
    hand.unlink()
    assert exists_after_select(b, "t4") == 1
    for r in (a, b):
        r.close()


def test_fetch_of_a_message_expunged_meanwhile(instance):
    """RFC 5530 sec 3, RFC 2180 sec 4.1: a FETCH that names a message another session has
    expunged (the session still sees it: no EXPUNGE during FETCH, RFC 9051 sec 7.5.1) answers
    the others and succeeds with OK [EXPUNGEISSUED], as Dovecot does; the next NOOP reports
    the EXPUNGE."""
    from imap_session import Session
    inst = start(instance)
    deliver(inst, ALICE, [message(i) for i in range(1, 4)])
    a, b = Session(inst), Session(inst)
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    untagged, tagged = a.cmd("FETCH 1:3 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert tagged.startswith(b"OK [EXPUNGEISSUED]"), (tagged, untagged)
    fetched = [u.split(b" ")[0] for u in untagged if b" FETCH " in u]
    assert fetched == [b"1", b"3"], untagged
    assert not any(b"EXPUNGE" in u for u in untagged)
    assert b"2 EXPUNGE" in a.ok("NOOP")
