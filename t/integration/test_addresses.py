"""Addresses as RFC 5321 writes them (doc/smtpd.md, Addresses): a quoted local part stays
quoted, or is re-quoted, everywhere an envelope address is written - the queue file
(`posthorn queue show`), Return-Path, a success DSN and its fields - so a sender such as
"x> Bcc: <victim@evil.test"@remote.example cannot shape header text; and a quoted local part
that is a plain Dot-string ("alice"@domain) is the same mailbox as alice@domain."""
import os
import smtplib
import time

from conftest import BIN, DOMAIN, parse, run

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN
EVIL = '"x> Bcc: <victim@evil.test"@remote.example'
UNQUOTED = "x> Bcc: <victim@evil.test@remote.example"


def send_raw(inst, sender, rcpts, body, rcpt_params=""):
    """MAIL/RCPT sent verbatim: smtplib's own quoting would rewrite the addresses."""
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as c:
        c.ehlo("client.test")
        code, msg = c.docmd("MAIL", f"FROM:<{sender}>")
        assert code == 250, msg
        for r in rcpts:
            code, msg = c.docmd("RCPT", f"TO:<{r}>{rcpt_params}")
            assert code == 250, msg
        code, msg = c.data(body)
        assert code == 250, msg
        return msg.decode().split()[-1]


def wait_queued(inst, pred, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for qid in inst.queue_files():
            show = inst.posthorn("queue", "show", qid, check=False).stdout
            if pred(show):
                return qid, show
        time.sleep(0.1)
    raise AssertionError(f"no queue file matched: {inst.queue_files()}\n{inst.log()[-3000:]}")


def test_quoted_sender_survives_return_path_dsn_and_queue_file(instance):
    instance.add_user(ALICE)
    instance.add_user(BOB, quota=1000)  # bob's copy will wait in the queue, to be shown
    instance.set_conf(minimal_backoff_time="300s", maximal_backoff_time="600s")
    instance.start()
    send_raw(instance, "a@remote.example", [BOB], b"Subject: fill\r\n\r\n" + b"x" * 2000 + b"\r\n")
    instance.wait_messages(BOB, 1)
    send_raw(instance, EVIL, [ALICE], b"Subject: quoted\r\n\r\nhello\r\n", " NOTIFY=SUCCESS")
    send_raw(instance, EVIL, [BOB], b"Subject: held\r\n\r\nover quota\r\n")

    raw = instance.wait_messages(ALICE, 1)[0]
    first = raw.split(b"\n", 1)[0]
    assert first == b"Return-Path: <" + EVIL.encode() + b">", first
    assert b"Bcc:" not in raw.split(b"\n\n", 1)[0].replace(first, b"")

    # bob's message in the queue file: the envelope sender is quoted
    _, show = wait_queued(instance, lambda s: "Subject: held" in s)
    assert f"sender: {EVIL}\n" in show and UNQUOTED not in show, show

    # the success DSN is queued to the quoted sender, and its fields carry the quoted form
    _, dsn = wait_queued(instance, lambda s: "Delivery success report" in s or
                         "multipart/report" in s)
    assert UNQUOTED not in dsn, dsn
    assert f"recipient: {EVIL}\n" in dsn, dsn
    assert f"To: <{EVIL}>\n" in dsn, dsn
    assert f"X-Posthorn-Sender: rfc822; {EVIL}\n" in dsn, dsn
    assert f"Final-Recipient: rfc822; {ALICE}\n" in dsn, dsn
    assert f"from=<{EVIL}>" in instance.log()


def test_quoted_local_part_equal_to_dot_string_reaches_the_user(instance):
    instance.add_user(ALICE)
    instance.start()
    send_raw(instance, '"b.c"@remote.example', [f'"alice"@{DOMAIN}'], b"Subject: q\r\n\r\nhi\r\n")
    msg = parse(instance.wait_messages(ALICE, 1)[0])
    assert msg["Delivered-To"] == ALICE
    assert msg["Return-Path"] == "<b.c@remote.example>"
    assert msg["Subject"] == "q"
    log = instance.log()
    assert f"to=<{ALICE}>" in log and "status=sent" in log


def test_sendmail_sender_is_quoted_in_the_queue_file(instance):
    """sendmail -f takes a bare address; the queue writer quotes a local part that needs it."""
    instance.add_user(ALICE)
    instance.start()
    env = dict(os.environ, POSTHORN_CONFIG=str(instance.etc))
    run([str(BIN / "sendmail"), "-f", "a,b@remote.example", ALICE], env=env,
        input="Subject: via sendmail\n\nhi\n")
    raw = instance.wait_messages(ALICE, 1)[0]
    assert raw.startswith(b'Return-Path: <"a,b"@remote.example>\n'), raw[:200]
    instance.wait_log('from=<"a,b"@remote.example>, size=')  # qmgr, read from the queue file
