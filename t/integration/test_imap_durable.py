"""The syncs of STORE, EXPUNGE, COPY, MOVE and APPEND run off the event loop (doc/imapd.md, "Writes and durability";
imapd/mailbox/durable.c): with the test hook POSTHORN_TEST_SYNC_DELAY_MS making every batch
of syncs take 2 s, and one imapd-mailbox process holding both sessions, the STORE's
untagged FETCH and tagged OK come only after the syncs, while the other session's NOOP,
FETCH and SEARCH are answered at once; several sessions' STOREs share one batch (they all
finish within about one delay, not one after the other); an EXPUNGE's untagged EXPUNGE and
OK wait the same way and the message file is gone; a session that disconnects while its
syncs run leaves the process serving; and the flags are in the index and the file names
afterwards; an APPEND's tagged OK waits for its syncs the same way, in the authenticated
state too, and the message is in the mailbox once it came; a COPY's and a MOVE's tagged OK
(and the MOVE's EXPUNGE) wait the same way, the files are where the index says, and the
journal of their file operations is empty once they are done."""
import os
import threading
import time

import pytest

from imap_session import Session, one_mailbox_process, timed
from test_imap import start
from test_pop3 import ALICE

DELAY_MS = 2000


@pytest.fixture
def imap(instance, monkeypatch):
    if os.environ.get("POSTHORN_TEST_HOOKS") != "1":
        pytest.skip("daemons built without POSTHORN_TEST_HOOKS: no sync delay to test with")
    monkeypatch.setenv("POSTHORN_TEST_SYNC_DELAY_MS", str(DELAY_MS))
    one_mailbox_process(instance)
    return start(instance)


def fill(s, n):
    """n messages in one MULTIAPPEND (one batch of syncs: one delay), then SELECT."""
    cmd = b"APPEND INBOX"
    for i in range(n):
        data = f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode()
        cmd += b" {%d+}\r\n" % len(data) + data
    s.ok(cmd)
    s.ok("SELECT INBOX")


def start_waiting(session, command):
    """Send command from a thread and give it 0.3 s to commit and wait for its syncs; join
    the thread, then result["r"] is the reply (untagged, tagged) and result["t"] its time."""
    result = {}

    def run():
        result["r"], result["t"] = timed(session.cmd, command)
    th = threading.Thread(target=run)
    th.start()
    time.sleep(0.3)
    return th, result


def test_store_waits_for_its_syncs_and_others_are_served(imap):
    writer, reader = Session(imap), Session(imap)
    fill(writer, 3)
    reader.ok("SELECT INBOX")
    th, result = start_waiting(writer, "STORE 1:2 +FLAGS (\\Flagged)")
    _, t_noop = timed(reader.ok, "NOOP")
    _, t_fetch = timed(reader.ok, "FETCH 1:3 (FLAGS)")
    _, t_search = timed(reader.ok, "SEARCH FLAGGED")
    th.join()
    untagged, tagged = result["r"]
    assert tagged.startswith(b"OK"), tagged
    fetches = sorted(u for u in untagged if b"FETCH" in u)
    assert [f.split(b" ")[0] for f in fetches] == [b"1", b"2"], fetches
    assert all(b"\\Flagged" in f for f in fetches), fetches
    assert result["t"] >= DELAY_MS / 1000, result["t"]
    for t in (t_noop, t_fetch, t_search):
        assert t < DELAY_MS / 1000 / 2, (t_noop, t_fetch, t_search)
    # The index and the file names have the change.
    flags = reader.ok("FETCH 1:3 (FLAGS)")
    assert sum(b"\\Flagged" in f for f in flags) == 2, flags
    names = [p.name for p in (imap.maildir(ALICE) / "cur").iterdir()]
    assert sum("F" in n.split(":2,")[1] for n in names if ":2," in n) == 2, names


def test_stores_of_several_sessions_share_a_batch(imap):
    sessions = [Session(imap) for _ in range(4)]
    fill(sessions[0], 4)
    for s in sessions[1:]:
        s.ok("SELECT INBOX")
    times = [None] * len(sessions)

    def store(i):
        _, times[i] = timed(sessions[i].ok, f"STORE {i + 1} +FLAGS (\\Seen)")
    threads = [threading.Thread(target=store, args=(i,)) for i in range(len(sessions))]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    total = time.monotonic() - t0
    # One after the other would take 4 delays; batched, the first batch has one STORE and
    # the second the other three: about two delays.
    assert total < 3 * DELAY_MS / 1000, (total, times)
    flags = {f.split(b" ")[0]: f for f in sessions[0].ok("FETCH 1:4 (FLAGS)")}  # the last per message
    assert sorted(flags) == [b"1", b"2", b"3", b"4"] and all(b"\\Seen" in f for f in flags.values()), flags


def test_session_gone_while_syncing(imap):
    a, b = Session(imap), Session(imap)
    fill(a, 2)
    b.ok("SELECT INBOX")
    a.send("t99 STORE 1 +FLAGS (\\Deleted)\r\n")
    time.sleep(0.3)
    a.close()  # gone before its syncs end
    time.sleep(DELAY_MS / 1000 + 0.5)
    assert b.ok("NOOP") is not None
    flags = b.ok("FETCH 1 (FLAGS)")
    assert any(b"\\Deleted" in f for f in flags), flags


def test_expunge_waits_for_its_syncs(imap):
    writer, reader = Session(imap), Session(imap)
    fill(writer, 3)
    writer.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    reader.ok("SELECT INBOX")
    th, result = start_waiting(writer, "EXPUNGE")
    _, t_noop = timed(reader.ok, "NOOP")
    th.join()
    untagged, tagged = result["r"]
    assert tagged.startswith(b"OK") and b"2 EXPUNGE" in untagged, (tagged, untagged)
    assert result["t"] >= DELAY_MS / 1000 and t_noop < DELAY_MS / 1000 / 2, (result["t"], t_noop)
    files = list((imap.maildir(ALICE) / "cur").iterdir()) + list((imap.maildir(ALICE) / "new").iterdir())
    assert len(files) == 2, files


def test_append_waits_for_its_syncs(imap):
    writer, reader = Session(imap), Session(imap)
    fill(reader, 1)
    data = b"Subject: appended\r\n\r\nbody\r\n"
    # No mailbox selected by the writer: APPEND is deferred in the authenticated state too.
    th, result = start_waiting(writer, b"APPEND INBOX {%d+}\r\n" % len(data) + data)
    told, t_noop = timed(reader.ok, "NOOP")
    _, t_fetch = timed(reader.ok, "FETCH 1 (FLAGS)")
    th.join()
    untagged, tagged = result["r"]
    assert tagged.startswith(b"OK [APPENDUID "), tagged
    assert result["t"] >= DELAY_MS / 1000, result["t"]
    assert t_noop < DELAY_MS / 1000 / 2 and t_fetch < DELAY_MS / 1000 / 2, (t_noop, t_fetch)
    # (the commit is visible to other sessions before its syncs end, as a STORE's is)
    assert b"2 EXISTS" in told + reader.ok("NOOP"), "the reader is told of the new message"
    files = list((imap.maildir(ALICE) / "new").iterdir()) + list((imap.maildir(ALICE) / "cur").iterdir())
    assert len(files) == 2 and any(f.read_bytes() == data.replace(b"\r\n", b"\n") for f in files), files


@pytest.mark.parametrize("verb", ["COPY", "MOVE"])
def test_copy_and_move_wait_for_their_syncs(imap, verb):
    writer, reader = Session(imap), Session(imap)
    fill(writer, 3)
    writer.ok("CREATE Filed")
    reader.ok("SELECT INBOX")
    th, result = start_waiting(writer, f"UID {verb} 2:3 Filed")
    _, t_noop = timed(reader.ok, "NOOP")
    _, t_fetch = timed(reader.ok, "FETCH 1:* (FLAGS)")
    th.join()
    untagged, tagged = result["r"]
    assert tagged.startswith(b"OK"), tagged
    assert b"[COPYUID " in tagged + b"".join(untagged), (tagged, untagged)
    assert result["t"] >= DELAY_MS / 1000, result["t"]
    assert t_noop < DELAY_MS / 1000 / 2 and t_fetch < DELAY_MS / 1000 / 2, (t_noop, t_fetch)
    if verb == "MOVE":
        assert sum(u.endswith(b" EXPUNGE") for u in untagged) == 2, untagged
    left = 1 if verb == "MOVE" else 3
    box = imap.maildir(ALICE)
    inbox = list((box / "cur").iterdir()) + list((box / "new").iterdir())
    assert len(inbox) == left and len(list((box / ".Filed" / "cur").iterdir())) == 2
    assert reader.ok("STATUS Filed (MESSAGES)") == [b'STATUS "Filed" (MESSAGES 2)']
    journal = box / "posthorn-index.lmdb-journal"
    assert journal.exists() and journal.stat().st_size == 0
