"""Nothing an IMAP client was told is done gets lost when the mailbox part dies (doc/imapd.md,
doc/mailstore.md): while three clients APPEND, UID MOVE and STORE, imapd-mailbox is killed with
SIGKILL again and again. Afterwards every APPEND that got its tagged OK is there, every message
is in exactly one folder (a MOVE never duplicates, whatever moment it was killed at), every
acknowledged MOVE has landed, every acknowledged STORE's flags are set, and each folder's index
agrees with its files: the same messages, and the flags in the file names are the flags IMAP
reports."""
import imaplib
import random
import re
import threading
import time

from test_imap import message, start
from test_pop3 import ALICE, deliver, tls_context

DELIVERED = 30
STORED_IN_DRAFTS = 8
RUN_SECONDS = 12
# The system flags Maildir keeps in file names (keywords and \Recent live in the index only).
LETTERS = {"S": "\\Seen", "F": "\\Flagged", "R": "\\Answered", "T": "\\Deleted", "D": "\\Draft"}


def connect(inst, deadline):
    """A logged-in session, retried while the mailbox part restarts."""
    while True:
        try:
            m = imaplib.IMAP4_SSL("127.0.0.1", inst.ports["imaps"], ssl_context=tls_context(),
                                  timeout=20)
            m.login(ALICE, "secret")
            return m
        except (imaplib.IMAP4.error, OSError):
            assert time.monotonic() < deadline, "could not log in again after a kill"
            time.sleep(0.1)


def mid(i, kind):
    return f"<{kind}{i}@crash.test>"


def note(i, kind):
    return (f"From: {ALICE}\r\nMessage-ID: {mid(i, kind)}\r\nSubject: {kind} {i}\r\n\r\n"
            f"{kind} body {i}\r\n").encode()


class Worker(threading.Thread):
    """Runs step(m, i) for i = 0, 1, ... until stopped; a broken session is replaced and the
    interrupted step counts as neither done nor failed (its outcome is unknown)."""

    def __init__(self, inst, stop, step, folder):
        super().__init__()
        self.inst, self.stop, self.step, self.folder = inst, stop, step, folder
        self.acked, self.unknown, self.errors = [], [], []

    def run(self):
        m, i = None, 0
        deadline = time.monotonic() + RUN_SECONDS + 60
        while not self.stop.is_set():
            try:
                if m is None:
                    m = connect(self.inst, deadline)
                    if self.folder:
                        assert m.select(self.folder)[0] == "OK"
                result = self.step(m, i)
                if result is not None:
                    self.acked.append(result)
            except imaplib.IMAP4.abort:
                self.unknown.append(i)
                m = None
            except (OSError, EOFError):
                self.unknown.append(i)
                m = None
            except Exception as e:  # a NO/BAD or an assertion: a real failure
                self.errors.append((i, repr(e)))
                m = None
            i += 1
        if m is not None:
            try:
                m.logout()
            except Exception:
                pass


def append_step(m, i):
    typ, data = m.append("INBOX", "(\\Seen)", None, note(i, "appended"))
    assert typ == "OK", data
    return mid(i, "appended")


def move_step(m, i):
    if i >= DELIVERED:
        time.sleep(0.05)
        return None
    typ, data = m.uid("SEARCH", None, "HEADER", "Message-ID", f"m{i}@remote.test")
    assert typ == "OK", data
    uids = data[0].split()
    if not uids:  # moved by an interrupted MOVE that completed after all
        return None
    typ, data = m.uid("MOVE", uids[0].decode(), "Archive")
    assert typ == "OK", data
    return f"<m{i}@remote.test>"


def store_step(m, i):
    n = i % STORED_IN_DRAFTS
    flag = "\\Flagged" if i % 2 else f"$k{i % 20}"  # a mailbox holds up to 64 keywords
    typ, data = m.search(None, "HEADER", "Message-ID", f"draft{n}@crash.test")
    assert typ == "OK" and data[0], data
    typ, data = m.store(data[0].split()[0].decode(), "+FLAGS.SILENT", f"({flag})")
    assert typ == "OK", data
    return (mid(n, "draft"), flag)


def killer(inst, stop, kills):
    rng = random.Random(99)
    while not stop.is_set():
        time.sleep(rng.uniform(0.15, 0.5))
        pids = inst.status_pids().get("imap-mailbox", [])
        if not pids:
            continue
        pid = rng.choice(pids)
        try:
            inst.kill(pid)  # declared: the harness tolerates this death only
            kills.append(pid)
        except ProcessLookupError:
            pass


def folder_state(inst, m, folder):
    """{Message-ID: set of flags} from IMAP, and the same from the folder's files."""
    typ, data = m.select(folder, readonly=True)
    assert typ == "OK", data
    exists = int(data[0])
    imap = {}
    if exists:
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        for item in data:
            if isinstance(item, tuple):
                key = item[1].decode().split(":", 1)[1].strip()
                assert key not in imap, f"{key} twice in {folder}"
                imap[key] = {f.decode() for f in imaplib.ParseFlags(item[0])}
    assert len(imap) == exists
    box = inst.maildir(ALICE) / ("" if folder == "INBOX" else "." + folder)
    files = {}
    for sub in ("new", "cur"):
        for p in (box / sub).iterdir():
            found = re.search(rb"^Message-ID:\s*(\S+)", p.read_bytes(), re.M | re.I)
            key = found.group(1).decode()
            assert key not in files, f"{key} in two files of {folder}"
            info = p.name.split(":2,")[1] if ":2," in p.name else ""
            files[key] = {LETTERS[c] for c in info if c in LETTERS}
    return imap, files


def test_kill_mailbox_part_during_append_move_store(instance):
    inst = start(instance, service_throttle_time="1s")
    deliver(inst, ALICE, [message(i) for i in range(DELIVERED)])
    setup = connect(inst, time.monotonic() + 30)
    for n in range(STORED_IN_DRAFTS):
        assert setup.append("Drafts", None, None, note(n, "draft"))[0] == "OK"
    setup.logout()

    stop, kills = threading.Event(), []
    workers = [Worker(inst, stop, append_step, "INBOX"), Worker(inst, stop, move_step, "INBOX"),
               Worker(inst, stop, store_step, "Drafts")]
    for w in workers:
        w.start()
    k = threading.Thread(target=killer, args=(inst, stop, kills))
    k.start()
    time.sleep(RUN_SECONDS)
    stop.set()
    k.join()
    for w in workers:
        w.join()
    appender, mover, storer = workers
    for w in workers:
        assert not w.errors, w.errors[:5]
    assert len(kills) >= 5, kills
    assert appender.acked and mover.acked and storer.acked

    m = connect(inst, time.monotonic() + 30)
    state = {}
    for folder in ("INBOX", "Archive", "Drafts"):
        imap, files = folder_state(inst, m, folder)
        system = {k: {f for f in v if f in LETTERS.values()} for k, v in imap.items()}
        assert system == files, f"index and files disagree in {folder}"
        for key in imap:
            assert key not in state, f"{key} in {state[key][0]} and {folder}"
            state[key] = (folder, imap[key])
    m.logout()

    for key in appender.acked:
        assert state.get(key, (None,))[0] == "INBOX", f"acknowledged APPEND {key} lost"
        assert "\\Seen" in state[key][1]
    for key in mover.acked:
        assert state.get(key, (None,))[0] == "Archive", f"acknowledged MOVE of {key} lost"
    for i in range(DELIVERED):
        assert f"<m{i}@remote.test>" in state, f"delivered message m{i} lost"
    for key, flag in storer.acked:
        assert flag in state[key][1], f"acknowledged STORE {flag} on {key} lost"
    print(f"\nimap crash test: {len(kills)} kills; {len(appender.acked)} APPENDs, "
          f"{len(mover.acked)} MOVEs, {len(storer.acked)} STOREs acknowledged; "
          f"{sum(len(w.unknown) for w in workers)} interrupted")
