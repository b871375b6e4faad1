"""Queue-file hardening (doc/queue-format.md: "regular files with one link; the reader
opens them with O_NOFOLLOW and qmgr refuses anything else (moved to corrupt/)", and "an
envelope record over 1 MB" is rejected): a symbolic link, a hard-linked file and a file
with a record over 1 MB put into incoming/ end in corrupt/ with the logged reason, and
nothing of them is delivered. A valid hand-built file put there at the same time is
delivered, so the refusals are not a side effect of how the test writes files."""
import os


from conftest import DOMAIN
from queue_file import new_queue_id, queue_file_bytes, write_queue_file
from spool_check import spool_leftovers

ALICE = "alice@" + DOMAIN


def content(subject):
    return b"Subject: " + subject.encode() + b"\n\nbody of " + subject.encode() + b"\n"


def place(inst):
    """Put the four files into incoming/ at once; {name: queue ID}."""
    incoming = inst.spool / "incoming"
    outside = inst.root / "outside"
    outside.mkdir()
    os.chmod(outside, 0o755)
    ids = {name: new_queue_id() for name in ("valid", "symlink", "hardlink", "bigrecord")}
    write_queue_file(incoming / ids["valid"],
                     queue_file_bytes("a@remote.test", [ALICE], content("valid")), incoming)
    target = outside / "target"
    write_queue_file(target, queue_file_bytes("a@remote.test", [ALICE], content("symlink")),
                     incoming)
    os.symlink(target, incoming / ids["symlink"])
    write_queue_file(incoming / ids["hardlink"],
                     queue_file_bytes("a@remote.test", [ALICE], content("hardlink")), incoming)
    os.link(incoming / ids["hardlink"], outside / "second-link")
    big = "note=" + "x" * (1024 * 1024)
    write_queue_file(incoming / ids["bigrecord"],
                     queue_file_bytes("a@remote.test", [ALICE], content("bigrecord"), attrs=[big]),
                     incoming)
    return ids


REASONS = {
    "symlink": "not a regular file (symbolic link or directory)",
    "hardlink": "not a regular file with one link",
    "bigrecord": "envelope record too long",
}


def test_symlink_hardlink_and_big_record_go_to_corrupt(server):
    ids = place(server)
    msgs = server.wait_messages(ALICE, 1)
    for name, reason in REASONS.items():
        server.wait_log(f"{ids[name]}: corrupt queue file moved to corrupt/: ")
    log = server.log()
    for name, reason in REASONS.items():
        line = [l for l in log.splitlines() if f"{ids[name]}: corrupt queue file" in l]
        assert len(line) == 1 and reason in line[0], (name, line)
    assert sorted(spool_leftovers(server).get("corrupt", [])) == sorted(ids[n] for n in REASONS)
    left = spool_leftovers(server)
    assert set(left) <= {"corrupt"}, left
    # Only the valid file was delivered, and nothing of the refused ones ever was.
    assert len(server.messages(ALICE)) == 1 and b"body of valid" in msgs[0]
    for name in REASONS:
        assert f"{ids[name]}: to=<" not in log
    assert (server.root / "outside" / "target").exists()
