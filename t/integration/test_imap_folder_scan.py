"""A folder's new/ and cur/ are read off the event loop (doc/imapd.md, "Processes";
imapd/mailbox/folder_scan.c): with the test hook POSTHORN_TEST_SCAN_DELAY_MS making every
read on the worker thread take 1.5 s, and one imapd-mailbox process holding every session,
a SELECT or EXAMINE of a folder waits for its read while another session's commands are
answered at once; the commands pipelined behind the SELECT are answered after it, in order;
a session that goes away during the wait leaves the process serving; a SELECT of a folder
another session here keeps watched needs no read and is answered at once; and a file put
into a selected folder by hand is taken in after a read on the thread too, while the
process goes on serving; many files copied into a folder (selected, or selected now) are
measured on the thread as well before their sync; and the first sync of many such files
takes them into the index in slices (imapd_sync_slice), serving other sessions between
them, as does the look at files copied into a folder that is selected; and DELETE answers
once the folder is out of the way, its files removed on a thread afterwards."""
import os
import re
import time

import pytest

from imap_session import Session, one_mailbox_process, timed
from test_imap import Raw, message, start
from test_imap_maildir import wait_line
from test_pop3 import ALICE

DELAY_MS = 1500


@pytest.fixture
def imap(instance, monkeypatch):
    if os.environ.get("POSTHORN_TEST_HOOKS") != "1":
        pytest.skip("daemons built without POSTHORN_TEST_HOOKS: no scan delay to test with")
    monkeypatch.setenv("POSTHORN_TEST_SCAN_DELAY_MS", str(DELAY_MS))
    one_mailbox_process(instance)
    return start(instance)


def copy_in(box, numbers, stamp, fill, letters="", extra=0):
    """Messages numbers written to box/tmp, then renamed into box/cur at once (one
    directory look) as another program would: {i: RFC822.SIZE} (CRLF counted)."""
    sizes = {}
    for i in numbers:
        data = message(i, body=fill * (i + extra)).replace(b"\r\n", b"\n")
        (box / "tmp" / f"{stamp}{i:03d}.M{i}P1.byhand").write_bytes(data)
        sizes[i] = len(data) + data.count(b"\n")
    for p in sorted((box / "tmp").glob("*.byhand")):
        p.rename(box / "cur" / f"{p.name}:2,{letters}")
    return sizes


def idle_in(inst, folder):
    """A raw session with folder selected, in IDLE (tag i)."""
    r = raw_login(inst)
    r.send(f"s0 SELECT {folder}\r\n")
    r.until("s0")
    r.send("i IDLE\r\n")
    assert r.line().startswith(b"+ ")
    return r


def raw_login(inst):
    r = Raw(inst)
    r.send(f"a LOGIN {ALICE} secret\r\n")
    assert r.until("a")[-1].startswith(b"a OK")
    return r


def test_select_waits_for_its_folder_and_others_are_served(imap):
    a, b = Session(imap), Session(imap)
    a.ok("CREATE Box")
    a.append("Box", message(1))
    a.append("Box", message(2))
    b.ok("SELECT INBOX")
    r = raw_login(imap)
    t0 = time.monotonic()
    r.send("s1 EXAMINE Box\r\ns2 FETCH 1:* (FLAGS)\r\ns3 SELECT Box\r\ns4 NOOP\r\n")
    _, t_noop = timed(b.ok, "NOOP")
    _, t_list = timed(b.ok, "LIST \"\" *")
    examine = r.until("s1")
    t_examine = time.monotonic() - t0
    fetch = r.until("s2")
    select = r.until("s3")
    noop = r.until("s4")
    assert b"* 2 EXISTS\r\n" in examine, examine
    assert examine[-1].startswith(b"s1 OK [READ-ONLY] EXAMINE completed"), examine
    assert t_examine >= DELAY_MS / 1000, t_examine
    assert [l.split(b" (")[0] for l in fetch if l.startswith(b"* ")] == [b"* 1 FETCH", b"* 2 FETCH"], fetch
    assert fetch[-1].startswith(b"s2 OK"), fetch
    assert select[0] == b"* OK [CLOSED] Previous mailbox closed.\r\n", select
    assert select[-1].startswith(b"s3 OK [READ-WRITE] SELECT completed"), select
    assert noop[-1].startswith(b"s4 OK"), noop
    for t in (t_noop, t_list):
        assert t < DELAY_MS / 1000 / 2, (t_noop, t_list)


def test_session_gone_during_the_wait_leaves_the_process_serving(imap):
    a = Session(imap)
    a.ok("CREATE Box")
    a.append("Box", message(1))
    r = raw_login(imap)
    r.send("s1 SELECT Box\r\n")
    time.sleep(0.2)
    r.close()
    time.sleep(DELAY_MS / 1000 + 0.3)  # the read comes back to a session that is gone
    b = Session(imap)
    assert b"1 EXISTS" in b.ok("SELECT Box")
    assert a.ok("NOOP") == []


def test_select_of_a_folder_watched_here_needs_no_read(imap):
    a, b = Session(imap), Session(imap)
    a.ok("CREATE Box")
    a.append("Box", message(1))
    _, t_first = timed(a.ok, "SELECT Box")
    assert t_first >= DELAY_MS / 1000, t_first
    untagged, t_second = timed(b.ok, "SELECT Box")  # a keeps Box watched: nothing to read
    assert "1 EXISTS".encode() in untagged, untagged
    assert t_second < DELAY_MS / 1000 / 2, t_second


def test_file_put_in_by_hand_is_read_off_the_loop(imap):
    a = Session(imap)
    a.ok("CREATE Box")
    a.append("Box", message(1))
    r = idle_in(imap, "Box")
    new = imap.maildir(ALICE) / ".Box" / "new"
    t0 = time.monotonic()
    (new / "1700000000.M1P1.byhand").write_bytes(message(2))
    time.sleep(0.5)  # the directory event has settled and the read is on the thread
    _, t_noop = timed(a.ok, "NOOP")
    assert t_noop < DELAY_MS / 1000 / 2, t_noop
    wait_line(r, rb"^\* 2 EXISTS", timeout=DELAY_MS / 1000 + 2)
    assert time.monotonic() - t0 >= DELAY_MS / 1000  # read on the thread, with its delay
    r.send("DONE\r\n")
    assert r.until("i")[-1].startswith(b"i OK")
    assert "Box: 1 changes made by another program taken into the index" in imap.log()


def test_files_copied_in_by_hand_are_measured_off_the_loop(imap):
    a, b = Session(imap), Session(imap)
    a.ok("CREATE Box")
    a.append("Box", message(0))
    # more than MEASURE_MIN (64) files without an index entry
    sizes = copy_in(imap.maildir(ALICE) / ".Box", range(1, 71), 1700000, "x", "S")
    r = raw_login(imap)
    t0 = time.monotonic()
    r.send("s1 SELECT Box\r\n")
    time.sleep(DELAY_MS / 1000 + 0.3)  # the read is done; the measuring runs now
    _, t_noop = timed(b.ok, "NOOP")
    select = r.until("s1")
    took = time.monotonic() - t0
    assert select[-1].startswith(b"s1 OK"), select
    assert b"* 71 EXISTS\r\n" in select, select
    assert took >= 2 * DELAY_MS / 1000, took  # read, then measured: two trips to the thread
    assert t_noop < DELAY_MS / 1000 / 2, t_noop
    r.send("s2 FETCH 2:71 (RFC822.SIZE FLAGS)\r\n")
    got = {}
    for line in r.until("s2")[:-1]:
        m = re.match(rb"\* (\d+) FETCH \(RFC822\.SIZE (\d+) FLAGS \(\\Seen \\Recent\)\)", line)
        assert m, line
        got[int(m.group(1)) - 1] = int(m.group(2))
    assert got == sizes


def test_files_copied_into_a_selected_folder_are_measured_off_the_loop(imap):
    a, b = Session(imap), Session(imap)
    a.ok("CREATE Box")
    a.append("Box", message(0))
    r = idle_in(imap, "Box")
    t0 = time.monotonic()
    # more than MEASURE_MIN (64) files without an index entry
    sizes = copy_in(imap.maildir(ALICE) / ".Box", range(1, 71), 1700001, "y")
    time.sleep(0.5 + DELAY_MS / 1000)  # the read is done; the measuring runs now
    _, t_noop = timed(b.ok, "NOOP")
    assert t_noop < DELAY_MS / 1000 / 2, t_noop
    wait_line(r, rb"^\* 71 EXISTS", timeout=2 * DELAY_MS / 1000 + 3)
    assert time.monotonic() - t0 >= 2 * DELAY_MS / 1000  # read, then measured: two trips
    r.send("DONE\r\n")
    assert r.until("i")[-1].startswith(b"i OK")
    r.send("s2 FETCH 2:71 (RFC822.SIZE)\r\n")
    got = {}
    for line in r.until("s2")[:-1]:
        m = re.match(rb"\* (\d+) FETCH \(RFC822\.SIZE (\d+)\)", line)
        assert m, line
        got[int(m.group(1)) - 1] = int(m.group(2))
    assert got == sizes


def test_a_big_first_sync_is_done_in_slices(instance, monkeypatch):
    if os.environ.get("POSTHORN_TEST_HOOKS") != "1":
        pytest.skip("daemons built without POSTHORN_TEST_HOOKS")
    monkeypatch.setenv("POSTHORN_TEST_SLICE_DELAY_MS", "400")
    one_mailbox_process(instance)
    imap = start(instance, imapd_sync_slice="16")
    a, b = Session(imap), Session(imap)
    a.ok("CREATE Box")
    sizes = copy_in(imap.maildir(ALICE) / ".Box", range(1, 71), 1700002, "z")  # five slices of 16
    r = raw_login(imap)
    r.send("s1 SELECT Box\r\n")
    time.sleep(0.6)  # after the first slice or two
    (status,), t_status = timed(b.ok, "STATUS Box (MESSAGES)")
    assert t_status < 0.3, t_status  # served between two slices
    partly = int(re.search(rb"MESSAGES (\d+)", status).group(1))
    assert 16 <= partly < 70, status  # the slices so far are in the index, as committed
    a.append("Box", message(99, body="w" * 500))  # between two slices: the next UID, before the files left
    select = r.until("s1")
    assert select[-1].startswith(b"s1 OK"), select
    assert b"* 71 EXISTS\r\n" in select, select
    r.send("s2 UID FETCH 1:* (RFC822.SIZE)\r\n")
    lines = r.until("s2")[:-1]
    got = [(re.search(rb"UID (\d+)", l), re.search(rb"RFC822\.SIZE (\d+)", l)) for l in lines]
    assert all(u and z for u, z in got), lines
    by_uid = sorted((int(u.group(1)), int(z.group(1))) for u, z in got)
    appended = [k for k, (uid, size) in enumerate(by_uid) if size not in sizes.values()]
    assert len(appended) == 1 and 16 <= appended[0] < 70, by_uid
    files = [size for uid, size in by_uid if size in sizes.values()]
    assert files == [sizes[i] for i in range(1, 71)], files  # in name order
    # The same in slices for files copied into the folder while it is selected.
    r.send("i IDLE\r\n")
    assert r.line().startswith(b"+ ")
    more = copy_in(imap.maildir(ALICE) / ".Box", range(71, 111), 1700003, "v", extra=600)
    wait_line(r, rb"^\* 111 EXISTS", timeout=15)
    r.send("DONE\r\n")
    assert r.until("i")[-1].startswith(b"i OK")
    r.send("s3 FETCH 72:111 (RFC822.SIZE)\r\n")
    got = [int(re.search(rb"RFC822\.SIZE (\d+)", l).group(1)) for l in r.until("s3")[:-1]]
    assert got == [more[i] for i in range(71, 111)], got
    assert "Box: 40 changes made by another program taken into the index" in imap.log()


def test_delete_answers_before_the_files_are_removed(instance, monkeypatch):
    if os.environ.get("POSTHORN_TEST_HOOKS") != "1":
        pytest.skip("daemons built without POSTHORN_TEST_HOOKS")
    monkeypatch.setenv("POSTHORN_TEST_TRASH_DELAY_MS", str(DELAY_MS))
    one_mailbox_process(instance)
    imap = start(instance)
    a, b = Session(imap), Session(imap)
    a.ok("CREATE Box")
    for i in range(3):
        a.append("Box", message(i))
    b.ok("SELECT INBOX")
    _, t_delete = timed(a.ok, "DELETE Box")
    assert t_delete < DELAY_MS / 1000 / 2, t_delete  # the unlinks are on the thread
    _, t_noop = timed(b.ok, "NOOP")
    assert t_noop < DELAY_MS / 1000 / 2, t_noop
    root = imap.maildir(ALICE)
    assert not (root / ".Box").exists()
    trash = list((root / "tmp").glob(".deleted.*"))
    assert len(trash) == 1, trash  # out of the way, not removed yet
    a.ok("CREATE Box")  # the name is free at once
    assert a.ok("STATUS Box (MESSAGES)") == [b'STATUS "Box" (MESSAGES 0)']
    deadline = time.monotonic() + DELAY_MS / 1000 + 5
    while trash[0].exists():
        assert time.monotonic() < deadline, "the deleted folder's files stay"
        time.sleep(0.1)


def test_folder_deleted_while_its_files_are_read_does_not_come_back(imap):
    a, b = Session(imap), Session(imap)
    a.ok("CREATE Box")
    a.append("Box", message(1))
    r = raw_login(imap)
    r.send("s1 SELECT Box\r\n")
    time.sleep(0.3)  # the read is on the thread
    b.ok("DELETE Box")
    select = r.until("s1")
    assert select[-1].startswith(b"s1 NO [NONEXISTENT]"), select
    assert not any(b"Box" in l for l in b.ok('LIST "" *')), "the folder came back"
    r.send("s2 SELECT Box\r\n")
    assert r.until("s2")[-1].startswith(b"s2 NO [NONEXISTENT]")
