"""End to end: a real SMTP client hands mail to smtpd, qmgr schedules it, local-mda writes it
into the Maildir, byte-correct. Plain, 8-bit, SMTPUTF8, BDAT, pipelined and swaks."""
import re
import shutil
import smtplib
import socket
import subprocess

import pytest

from conftest import DOMAIN, body_of, parse
from spool_check import wait_spool_clean

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN


def smtp(server):
    return smtplib.SMTP("127.0.0.1", server.ports["smtp"], local_hostname="client.test", timeout=30)


def test_plain_message_arrives_byte_correct(server):
    msg = (b"From: Sender <sender@remote.test>\r\nTo: alice@example.test\r\n"
           b"Subject: plain\r\nMessage-ID: <plain-1@remote.test>\r\n\r\n"
           b"Hello Alice.\r\n.leading dot line\r\n..two dots\r\nlast line\r\n")
    with smtp(server) as s:
        code, _ = s.ehlo()
        assert code == 250
        s.sendmail("sender@remote.test", [ALICE], msg)
    raw = server.wait_messages(ALICE, 1)[0]
    assert body_of(raw) == msg.replace(b"\r\n", b"\n")
    assert raw.startswith(b"Return-Path: <sender@remote.test>\n")
    assert b"Delivered-To: alice@example.test\n" in raw
    assert b"\nReceived: from client.test" in b"\n" + raw or b"Received: from client.test" in raw
    server.wait_log("status=sent")
    log = server.log()
    assert "client=" in log and "from=<sender@remote.test>" in log
    assert "to=<alice@example.test>" in log and "relay=local" in log


def test_eight_bit_message(server):
    body = "Grüße aus Köln — ünïcödé\r\n".encode("utf-8")
    msg = (b"From: a@remote.test\r\nTo: bob@example.test\r\nSubject: 8bit\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body + b"\xff\xfe raw high bytes\r\n")
    with smtp(server) as s:
        s.ehlo()
        assert s.has_extn("8bitmime")
        s.sendmail("a@remote.test", [BOB], msg, mail_options=["BODY=8BITMIME"])
    raw = server.wait_messages(BOB, 1)[0]
    assert body_of(raw) == msg.replace(b"\r\n", b"\n")


def test_smtputf8_sender_and_headers(server):
    msg = ("From: Jörg <jörg@bücher.test>\r\nTo: alice@example.test\r\nSubject: Grüße\r\n"
           "\r\nUTF-8 everywhere: 日本語\r\n").encode("utf-8")
    with smtp(server) as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        s.sendmail("jörg@bücher.test", [ALICE], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    raw = server.wait_messages(ALICE, 1)[0]
    assert body_of(raw) == msg.replace(b"\r\n", b"\n")
    assert raw.startswith("Return-Path: <jörg@bücher.test>".encode())


def test_utf8_address_without_smtputf8_is_refused(server):
    with smtp(server) as s:
        s.ehlo()
        s.command_encoding = "utf-8"
        code, _ = s.docmd("MAIL", "FROM:<jörg@bücher.test>")
        assert code in (501, 553, 555)


def recv_reply(sock_file):
    lines = []
    while True:
        line = sock_file.readline()
        assert line, "connection closed"
        lines.append(line)
        if line[3:4] == b" ":
            return int(line[:3]), b"".join(lines)


def test_bdat_chunks(server):
    part1 = b"From: x@remote.test\r\nTo: alice@example.test\r\nSubject: bdat\r\n\r\n"
    part2 = b"binary-ish \x00\x01 data\r\n.\r\nnot the end\r\n"
    with socket.create_connection(("127.0.0.1", server.ports["smtp"]), timeout=30) as s:
        f = s.makefile("rb")
        assert recv_reply(f)[0] == 220
        s.sendall(b"EHLO client.test\r\n")
        code, text = recv_reply(f)
        assert code == 250 and b"CHUNKING" in text
        s.sendall(b"MAIL FROM:<x@remote.test>\r\n")
        assert recv_reply(f)[0] == 250
        s.sendall(b"RCPT TO:<alice@example.test>\r\n")
        assert recv_reply(f)[0] == 250
        s.sendall(b"BDAT %d\r\n" % len(part1) + part1)
        assert recv_reply(f)[0] == 250
        s.sendall(b"BDAT %d LAST\r\n" % len(part2) + part2)
        code, text = recv_reply(f)
        assert code == 250 and b"queued as" in text
        s.sendall(b"QUIT\r\n")
        assert recv_reply(f)[0] == 221
    raw = server.wait_messages(ALICE, 1)[0]
    assert body_of(raw) == (part1 + part2).replace(b"\r\n", b"\n")


def test_pipelined_session(server):
    """All commands of two transactions sent in one write (RFC 2920)."""
    m1 = b"Subject: one\r\n\r\nfirst\r\n"
    m2 = b"Subject: two\r\n\r\nsecond\r\n"
    batch = (b"EHLO client.test\r\n"
             b"MAIL FROM:<p@remote.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    with socket.create_connection(("127.0.0.1", server.ports["smtp"]), timeout=30) as s:
        f = s.makefile("rb")
        assert recv_reply(f)[0] == 220
        s.sendall(batch)
        codes = [recv_reply(f)[0] for _ in range(5)]
        assert codes == [250, 250, 250, 250, 354]
        s.sendall(m1 + b".\r\nMAIL FROM:<p@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
        codes = [recv_reply(f)[0] for _ in range(4)]
        assert codes == [250, 250, 250, 354]
        s.sendall(m2 + b".\r\nQUIT\r\n")
        assert [recv_reply(f)[0] for _ in range(2)] == [250, 221]
    alice = server.wait_messages(ALICE, 2)
    bob = server.wait_messages(BOB, 1)
    assert sorted(body_of(m) for m in alice) == sorted([m1.replace(b"\r\n", b"\n"), m2.replace(b"\r\n", b"\n")])
    assert body_of(bob[0]) == m1.replace(b"\r\n", b"\n")


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed")
def test_swaks_pipelined_delivery(server):
    p = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(server.ports["smtp"]),
                        "--from", "swaks@remote.test", "--to", ALICE, "--pipeline",
                        "--header", "Subject: via swaks", "--body", "swaks body"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "250 2.0.0 Ok: queued as" in p.stdout
    raw = server.wait_messages(ALICE, 1)[0]
    assert parse(raw)["Subject"] == "via swaks"
    assert b"swaks body" in raw


def test_multiple_recipients_one_queue_file(server):
    """Two recipients of one transaction share one queue file: one queue ID, activated once,
    one copy each, and nothing left in any queue (corrupt/ and tmp/ included)."""
    msg = b"Subject: both\r\n\r\nto both\r\n"
    with smtp(server) as s:
        s.ehlo()
        assert s.mail("m@remote.test")[0] == 250
        assert s.rcpt(ALICE)[0] == 250 and s.rcpt(BOB)[0] == 250
        code, text = s.data(msg)
        assert code == 250, text
    qid = re.fullmatch(rb"2\.0\.0 Ok: queued as ([0-9A-F]{18})", text).group(1).decode()
    assert body_of(server.wait_messages(ALICE, 1)[0]) == b"Subject: both\n\nto both\n"
    assert body_of(server.wait_messages(BOB, 1)[0]) == b"Subject: both\n\nto both\n"
    wait_spool_clean(server)
    lines = server.log().splitlines()
    active = [l for l in lines if l.endswith("(queue active)")]
    assert len(active) == 1 and f"{qid}: from=<m@remote.test>, " in active[0], active
    assert active[0].endswith("nrcpt=2 (queue active)"), active
    assert sum(l.endswith(": removed") for l in lines) == 1
    for addr in (ALICE, BOB):
        msgs = server.messages(addr)
        assert len(msgs) == 1 and f" id {qid}".encode() in msgs[0], msgs


def test_plus_extension_delivers_to_user(server):
    with smtp(server) as s:
        s.sendmail("m@remote.test", ["alice+lists@" + DOMAIN], b"Subject: ext\r\n\r\nx\r\n")
    raw = server.wait_messages(ALICE, 1)[0]
    assert b"Delivered-To: alice+lists@example.test" in raw


def delivered_to(raw):
    """The value of the Delivered-To line local-mda put on top, as UTF-8 text."""
    line = next(l for l in raw.split(b"\n") if l.startswith(b"Delivered-To: "))
    return line[len(b"Delivered-To: "):].decode()


def test_idn_domain_in_u_labels_and_a_labels(instance):
    """RFC 6531: after SMTPUTF8 a client may write our domain in U-labels; it is the same
    domain as its A-label form, whichever form the operator used."""
    instance.posthorn("domain", "add", "bücher.test")
    instance.add_user("hans@bücher.test")
    assert "xn--bcher-kva.test" in instance.posthorn("domain", "list").stdout
    instance.start()
    with smtp(instance) as s:
        s.ehlo()
        s.command_encoding = "utf-8"
        s.sendmail("a@remote.test", ["hans@bücher.test"], "Subject: u-label\r\n\r\nx\r\n".encode(),
                   mail_options=["SMTPUTF8"])
        s.sendmail("a@remote.test", ["hans@xn--bcher-kva.test"], b"Subject: a-label\r\n\r\ny\r\n")
    msgs = instance.wait_messages("hans@xn--bcher-kva.test", 2)
    assert sorted(parse(m)["Subject"] for m in msgs) == ["a-label", "u-label"]
    # Delivered-To carries the domain as it is stored: A-labels, whichever form was used.
    assert [delivered_to(m) for m in msgs] == ["hans@xn--bcher-kva.test"] * 2


# UTS #46 maps these to "adv.test" before the lookup (doc/smtpd.md, "Internationalized
# domains"): fullwidth letters, the ideographic full stop U+3002, the fullwidth full stop
# U+FF0E, the halfwidth ideographic full stop U+FF61, fullwidth capitals, and a soft hyphen
# (U+00AD), which the mapping drops.
UTS46_FORMS = ["ａｄｖ.test", "adv\u3002test", "adv\uff0etest", "adv\uff61test", "ＡＤＶ。ＴＥＳＴ",
               "ad\u00adv.test"]


def test_idn_uts46_forms_of_a_local_domain_are_local(instance):
    """RFC 6531 + UTS #46: after SMTPUTF8 a client may write our ASCII domain in forms that
    map to it (fullwidth letters, other full stops). Each is accepted at RCPT as ours, lands
    in the one mailbox, and Delivered-To shows the canonical ASCII form."""
    instance.posthorn("domain", "add", "adv.test")
    instance.add_user("alice@adv.test")
    instance.start()
    with smtp(instance) as s:
        s.ehlo()
        s.command_encoding = "utf-8"
        for i, dom in enumerate(UTS46_FORMS):
            assert s.mail("a@remote.test", ["SMTPUTF8"])[0] == 250
            code, text = s.rcpt(f"alice@{dom}")
            assert code == 250, (dom, code, text)
            code, text = s.data(f"Subject: form {i}\r\n\r\nx\r\n".encode())
            assert code == 250, (dom, code, text)
        # Not a valid IDN (U+2603 is disallowed): none of our domains, so a relay attempt.
        assert s.mail("a@remote.test", ["SMTPUTF8"])[0] == 250
        code, text = s.rcpt("alice@adv\u2603.test")
        assert code == 554 and b"5.7.1" in text, (code, text)
        s.rset()
    msgs = instance.wait_messages("alice@adv.test", len(UTS46_FORMS))
    assert sorted(parse(m)["Subject"] for m in msgs) == [f"form {i}" for i in range(len(UTS46_FORMS))]
    assert [delivered_to(m) for m in msgs] == ["alice@adv.test"] * len(UTS46_FORMS), msgs
    # Nothing else was created under the mail base: no directory for a Unicode form.
    assert sorted(p.name for p in instance.mailbase.iterdir()) == ["adv.test"], \
        list(instance.mailbase.iterdir())
