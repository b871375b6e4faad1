"""posthorn mailbox reindex (doc/mailstore.md "Reindex"): a folder copied into a user's Maildir
by hand and a message file copied into a known folder are indexed, with the flags of their
names, and IMAP sees them; --rebuild is refused while the instance runs; with the instance
stopped, an index that was overwritten with garbage is moved aside and made again from the
files, every folder and flag back; an address without mail is a clear error."""
import re

from imap_session import Session
from test_imap import message, start
from test_pop3 import ALICE


def folder_by_hand(maildir, name, files):
    d = maildir / f".{name}"
    for sub in ("cur", "new", "tmp"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    (d / "maildirfolder").write_bytes(b"")
    for fname, data in files.items():
        (d / "cur" / fname).write_bytes(data)


def exists(s, box):
    return int(re.search(rb"(\d+) EXISTS", b"\n".join(s.ok(f"SELECT {box}"))).group(1))


def test_reindex_takes_in_what_was_copied_by_hand(instance):
    imap = start(instance)
    s = Session(imap)
    s.ok("CREATE Work")
    s.append("Work", message(1), flags="\\Flagged")
    s.append("INBOX", message(2))
    md = imap.maildir(ALICE)
    folder_by_hand(md, "Old", {"1700000000.M1P1.old:2,S": message(3).replace(b"\r\n", b"\n")})
    (md / ".Work" / "cur" / "1700000001.M2P1.old:2,FS").write_bytes(message(4).replace(b"\r\n", b"\n"))

    out = imap.posthorn("mailbox", "reindex", ALICE).stdout
    assert f"{ALICE}: INBOX: 0 changes" in out, out
    assert f"{ALICE}: Old: folder added, 1 change" in out, out
    assert f"{ALICE}: Work: 1 change" in out, out
    assert b"Old" in b"".join(s.ok('LIST "" *'))
    assert exists(s, "Old") == 1
    assert b"\\Seen" in b"".join(s.ok("FETCH 1 (FLAGS)"))
    assert exists(s, "Work") == 2
    flags = s.ok("FETCH 1:2 (FLAGS)")
    assert all(b"\\Flagged" in f for f in flags), flags
    s.ok("LOGOUT")

    # --rebuild moves the index away: not under running sessions.
    r = imap.posthorn("mailbox", "reindex", "--rebuild", ALICE, check=False)
    assert r.returncode == 1 and "stop the instance first" in r.stderr, r

    # A corrupt index, the instance stopped: moved aside and made again.
    imap.stop()
    index = md / imap.conf("mailbox_index_name")
    index.write_bytes(b"\xde\xad" * 8192)
    r = imap.posthorn("mailbox", "reindex", ALICE, check=False)
    assert r.returncode == 1 and ALICE in r.stderr, r  # the garbage is not an index
    out = imap.posthorn("mailbox", "reindex", "--rebuild", ALICE).stdout
    assert "moved aside" in out and f"{ALICE}: Work: folder added, 2 changes" in out, out
    assert list(md.glob(index.name + ".corrupt-*")), "the old index is kept"
    imap.start()
    s = Session(imap)
    assert exists(s, "INBOX") == 1
    assert exists(s, "Old") == 1
    assert exists(s, "Work") == 2
    flags = s.ok("FETCH 1:2 (FLAGS)")
    assert all(b"\\Flagged" in f for f in flags), flags
    assert b"\\Sent" in b"".join(s.ok('LIST "" Sent')), "the default folders keep their use"


def test_reindex_of_an_address_without_mail(instance):
    r = instance.posthorn("mailbox", "reindex", "nobody@example.test", check=False)
    assert r.returncode == 1 and "nobody@example.test: no mail at" in r.stderr, r
    r = instance.posthorn("mailbox", "reindex", "not-an-address", check=False)
    assert r.returncode == 1 and "not a valid address" in r.stderr, r
