"""Interoperation with a real Postfix (Debian's package, a private instance on a loopback
address, mx_lab.PostfixPeer), both ways (doc/smtp-client.md): Posthorn's smtp-client
delivers into Postfix through the MX a loopback DNS server names, and Postfix relays into
Posthorn's smtpd. The messages arrive byte-identical apart from the trace headers each side
adds (Return-Path, Delivered-To, X-Original-To, Received)."""
import os
import re
import smtplib

import pytest

from conftest import BIN, DOMAIN, run
from mx_lab import POSTFIX, UNBOUND, PostfixPeer
from test_smtp_client import ALICE, lab, wait_status, zone  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(not (UNBOUND and POSTFIX),
                                reason="unbound or postfix is not installed (t/deps)")

TRACE = (b"return-path:", b"delivered-to:", b"x-original-to:", b"received:")

# A message with what tends to get changed on the way: a long folded header, a line
# starting with a dot, a lone dot line, trailing white space, 8-bit UTF-8 text, a line of
# 990 characters, and no final line end (sendmail -i adds one; the dots stay text).
BODY = ("From: Alice <alice@example.test>\n"
        "To: Bob <bob@pf.example>\n"
        "Subject: interop =?utf-8?q?=C3=BCber?= a long subject line that is folded\n"
        " onto a second line\n"
        "Message-ID: <interop-1@example.test>\n"
        "Date: Sat, 30 Nov 2024 10:00:00 +0000\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        ".leading dot\n"
        ".\n"
        "trailing spaces   \n"
        "Grüße aus Köln\n"
        + "x" * 990 + "\n"
        "last line")


def strip_trace(raw):
    """The message without the trace headers at its top, LF line ends."""
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    i = 0
    while i < len(lines) and lines[i].lower().startswith(TRACE):
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            i += 1
    return b"\n".join(lines[i:])


def test_posthorn_delivers_into_postfix(lab):
    pf = PostfixPeer(lab.addr(2), "pf.example", ["bob"]).start()
    try:
        inst = lab.start({"pf.example": zone("pf.example", [(10, "mx.pf.example")],
                                             {"mx.pf.example": lab.addr(2)})})
        env = dict(os.environ, POSTHORN_CONFIG=str(inst.etc))
        run([str(BIN / "sendmail"), "-i", "-f", ALICE, "bob@pf.example"], input=BODY, env=env)
        line = wait_status(inst, "bob@pf.example", "sent")
        assert f"relay=mx.pf.example[{lab.addr(2)}]:25" in line and "dsn=2.0.0" in line
        (raw,) = pf.wait_messages("bob", 1)
        sent = BODY.encode() + b"\n"  # sendmail ends the last line
        assert strip_trace(raw) == sent
        assert raw.lower().startswith(b"return-path: <alice@example.test>")
        # Postfix announces CHUNKING: the content went as BDAT, which Postfix answers
        # "N bytes queued as ID" (to DATA it says "queued as ID").
        assert re.search(r"\(250 2\.0\.0 Ok: \d+ bytes queued as \w+\)", line), line
    finally:
        pf.stop()


def test_postfix_delivers_into_posthorn(lab):
    inst = lab.start({})
    inst.add_user("bob@" + DOMAIN)
    pf = PostfixPeer(lab.addr(2), "pf.example", [],
                     relay={DOMAIN: f"[127.0.0.1]:{inst.ports['smtp']}"}).start()
    try:
        msg = BODY.replace("bob@pf.example", f"bob@{DOMAIN}").encode().replace(b"\n", b"\r\n")
        with smtplib.SMTP(lab.addr(2), 25, timeout=30) as c:
            assert c.sendmail("carol@pf.example", [f"bob@{DOMAIN}"], msg + b"\r\n") == {}
        (raw,) = inst.wait_messages("bob@" + DOMAIN, 1)
        assert strip_trace(raw) == msg.replace(b"\r\n", b"\n") + b"\n"
        assert raw.startswith(b"Return-Path: <carol@pf.example>\n")
    finally:
        pf.stop()
