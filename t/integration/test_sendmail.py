"""`sendmail -t` (doc/operator.md, Submitting mail locally): recipients come from To:, Cc:
and Bcc:, the Bcc: field (with its continuation lines) is removed from the message every
recipient gets, and the Bcc recipients still get their copy. "Bcc:" in the body stays."""
import os

from conftest import BIN, DOMAIN, run
from spool_check import wait_spool_clean

USERS = {name: f"{name}@{DOMAIN}" for name in ("alice", "bob", "carol", "dave", "erin")}

MESSAGE = (
    "From: alice@example.test\n"
    "To: bob@example.test\n"
    "Bcc: carol@example.test,\n"
    "  dave@example.test\n"
    "Cc: erin@example.test\n"
    "Subject: blind copies\n"
    "\n"
    "Bcc: this line is body text and stays\n"
)


def test_sendmail_t_removes_bcc_and_delivers_to_bcc(instance):
    for addr in USERS.values():
        instance.add_user(addr)
    instance.start()
    env = dict(os.environ, POSTHORN_CONFIG=str(instance.etc))
    p = run([str(BIN / "sendmail"), "-t", "-f", USERS["alice"]], input=MESSAGE, env=env)
    assert p.returncode == 0, p.stderr
    copies = {}
    for name in ("bob", "carol", "dave", "erin"):
        msgs = instance.wait_messages(USERS[name], 1)
        copies[name] = msgs
    wait_spool_clean(instance)
    assert instance.messages(USERS["alice"]) == []
    for name, msgs in copies.items():
        assert len(msgs) == 1, name
        head, _, body = msgs[0].partition(b"\n\n")
        assert b"Subject: blind copies" in head, name
        assert b"bcc:" not in head.lower(), (name, head)
        # No trace of the blind recipients (the folded continuation went with its field),
        # apart from the Delivered-To: local-mda puts on their own copies.
        fields = b"\n".join(l for l in head.split(b"\n") if not l.startswith(b"Delivered-To:"))
        assert b"carol@" not in fields and b"dave@" not in fields, (name, head)
        assert b"To: bob@example.test\n" in head and b"Cc: erin@example.test\n" in head, (name, head)
        assert body == b"Bcc: this line is body text and stays\n", (name, body)
