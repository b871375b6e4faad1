"""smtpd policy and limits: no open relay, unknown users, size and recipient limits,
SMTP smuggling, STARTTLS, error limits. Each bad request gets the right code, nothing extra
is delivered, and the server keeps serving."""
import smtplib
import socket
import ssl
import subprocess

import pytest

from conftest import DOMAIN
from smtp_wire import cmd, reply
from tls_probe import assert_server_refuses

ALICE = "alice@" + DOMAIN


def session(server):
    s = socket.create_connection(("127.0.0.1", server.ports["smtp"]), timeout=30)
    f = s.makefile("rb")
    code, _ = reply(f)
    assert code == 220
    return s, f


# doc/smtpd.md, Policy: relay attempts (including local parts with %, ! or @ and address
# literals) get "554 5.7.1 <a>: Relay access denied"; addresses that are not valid RFC 5321
# paths get "501 5.1.3".
RELAY = b"554 5.7.1 <%s>: Relay access denied\r\n"
BAD_SYNTAX = b"501 5.1.3 Bad recipient address syntax\r\n"
RELAY_TRICKS = [
    ("victim@remote.test", RELAY),
    ("victim%remote.test@example.test", RELAY),
    ("victim!remote.test@example.test", RELAY),
    ("remote.test!victim@example.test", RELAY),
    # a quoted local part stays quoted in the reply (RFC 5321 sec 4.1.2)
    ('"victim@remote.test"@example.test', RELAY),
    ("@example.test:victim@remote.test", b"554 5.7.1 <victim@remote.test>: Relay access denied\r\n"),
    ("victim@remote.test@example.test", BAD_SYNTAX),
    ("victim@[127.0.0.1]", RELAY),
    ("victim@example.test.remote.test", RELAY),
    ("victim@EXAMPLE.TEST.", BAD_SYNTAX),
]


@pytest.mark.parametrize("rcpt,expected", RELAY_TRICKS)
def test_no_open_relay(server, rcpt, expected):
    s, f = session(server)
    assert cmd(s, f, b"EHLO attacker.test")[0] == 250
    assert cmd(s, f, b"MAIL FROM:<spammer@remote.test>")[0] == 250
    code, text = cmd(s, f, b"RCPT TO:<" + rcpt.encode() + b">")
    if expected is RELAY:
        expected = RELAY % rcpt.encode()
    assert text == expected
    # The session stays usable.
    assert cmd(s, f, b"RSET")[0] == 250
    assert cmd(s, f, b"QUIT")[0] == 221
    s.close()
    assert server.queue_files() == []


def test_relay_denied_code(server):
    s, f = session(server)
    cmd(s, f, b"EHLO attacker.test")
    cmd(s, f, b"MAIL FROM:<spammer@remote.test>")
    code, text = cmd(s, f, b"RCPT TO:<victim@remote.test>")
    assert code == 554 and b"5.7.1" in text
    s.close()
    server.wait_log("Relay access denied")


def test_unknown_user(server):
    s, f = session(server)
    cmd(s, f, b"EHLO c.test")
    cmd(s, f, b"MAIL FROM:<a@remote.test>")
    code, text = cmd(s, f, b"RCPT TO:<nobody@example.test>")
    assert code == 550 and b"5.1.1" in text
    code, _ = cmd(s, f, b"RCPT TO:<alice@example.test>")
    assert code == 250
    s.close()


def test_oversize_message(instance):
    instance.set_conf(message_size_limit="20000")
    instance.add_user(ALICE)
    instance.start()
    with smtplib.SMTP("127.0.0.1", instance.ports["smtp"], timeout=30) as c:
        c.ehlo()
        assert c.esmtp_features["size"] == "20000"
        # Declared too big: refused at MAIL.
        code, text = c.docmd("MAIL", "FROM:<a@remote.test> SIZE=30000")
        assert code == 552 and b"5.3.4" in text
        c.rset()
        # Undeclared but too big: refused after DATA, nothing queued.
        del c.esmtp_features["size"]  # keep smtplib from declaring SIZE itself
        with pytest.raises(smtplib.SMTPDataError) as e:
            c.sendmail("a@remote.test", [ALICE], b"Subject: big\r\n\r\n" + b"x" * 78 + b"\r\n" * 1 + (b"y" * 998 + b"\r\n") * 30)
        assert e.value.smtp_code == 552
        # Still usable: a small one goes through.
        c.sendmail("a@remote.test", [ALICE], b"Subject: small\r\n\r\nsmall\r\n")
    msgs = instance.wait_messages(ALICE, 1)
    # Anything smtpd had queued was queued before its reply: once the queue is empty,
    # every message there was is delivered, so the count is final.
    instance.wait_queue_empty()
    assert len(instance.messages(ALICE)) == 1
    assert b"small" in msgs[0]


def test_too_many_recipients(instance):
    instance.set_conf(smtpd_recipient_limit="3")
    instance.add_user(ALICE)
    instance.start()
    s, f = session(instance)
    cmd(s, f, b"EHLO c.test")
    cmd(s, f, b"MAIL FROM:<a@remote.test>")
    codes = [cmd(s, f, b"RCPT TO:<alice+%d@example.test>" % i)[0] for i in range(5)]
    assert codes == [250, 250, 250, 452, 452]
    s.close()


def test_line_too_long_then_usable(server):
    s, f = session(server)
    code, _ = cmd(s, f, b"EHLO " + b"a" * 5000)
    assert code == 500
    assert cmd(s, f, b"EHLO c.test")[0] == 250
    s.close()


def test_unknown_command_and_bad_sequence(server):
    s, f = session(server)
    assert cmd(s, f, b"FROB")[0] in (500, 502)
    assert cmd(s, f, b"RCPT TO:<alice@example.test>")[0] == 503
    assert cmd(s, f, b"DATA")[0] == 503
    assert cmd(s, f, b"EHLO c.test")[0] == 250
    assert cmd(s, f, b"MAIL FROM:<bad address>")[0] == 501
    assert cmd(s, f, b"QUIT")[0] == 221
    s.close()


def test_hard_error_limit_disconnects(instance):
    instance.set_conf(smtpd_hard_error_limit="3", smtpd_soft_error_limit="100")
    instance.start()
    s, f = session(instance)
    for _ in range(3):
        code, _ = cmd(s, f, b"FROB")
    code, _ = reply(f) if code != 421 else (421, b"")
    assert code in (421, None)
    s.close()


SMUGGLING = [
    b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r\n.\r", b"\r.\r\n", b"\n.\r", b"\r\n\x00.\r\n",
]


@pytest.mark.parametrize("seq", SMUGGLING)
def test_smtp_smuggling_delivers_one_message(server, seq):
    """A fake end-of-data followed by a second transaction must neither end the message nor
    create a second one (SMTP smuggling). Normalize mode: the bytes stay inside message 1."""
    smuggled = (b"MAIL FROM:<admin@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
                b"Subject: smuggled\r\n\r\nevil\r\n")
    data = b"Subject: first\r\n\r\nbody" + seq + smuggled
    s, f = session(server)
    cmd(s, f, b"EHLO c.test")
    cmd(s, f, b"MAIL FROM:<a@remote.test>")
    cmd(s, f, b"RCPT TO:<alice@example.test>")
    assert cmd(s, f, b"DATA")[0] == 354
    s.sendall(data + b".\r\n")
    code, text = reply(f)
    assert code == 250, text
    assert cmd(s, f, b"QUIT")[0] == 221
    s.close()
    server.wait_messages(ALICE, 1)
    server.wait_queue_empty()  # everything queued in the session (before QUIT) is delivered
    msgs = server.messages(ALICE)
    assert len(msgs) == 1
    assert b"Subject: first" in msgs[0]
    assert b"evil" in msgs[0]  # kept as content of the one message


def test_bare_lf_reject_mode(instance):
    instance.set_conf(smtpd_forbid_bare_newline="reject")
    instance.add_user(ALICE)
    instance.start()
    s, f = session(instance)
    cmd(s, f, b"EHLO c.test")
    cmd(s, f, b"MAIL FROM:<a@remote.test>")
    cmd(s, f, b"RCPT TO:<alice@example.test>")
    assert cmd(s, f, b"DATA")[0] == 354
    s.sendall(b"Subject: x\r\n\r\nbare\n.\nMAIL FROM:<b@remote.test>\r\n.\r\n")
    code, text = reply(f)
    assert code == 521 and b"5.5.2" in text
    assert f.read() == b""  # the session is over: whatever it queued is queued by now
    s.close()
    instance.wait_queue_empty()
    assert instance.messages(ALICE) == []
    assert instance.queue_files() == []


def test_starttls_with_openssl_s_client(server):
    p = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{server.ports['smtp']}", "-starttls", "smtp",
         "-tls1_2", "-quiet", "-verify_quiet"],
        input=b"EHLO tls.test\r\nMAIL FROM:<t@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
              b"Subject: over tls\r\n\r\nsecret\r\n.\r\nQUIT\r\n",
        capture_output=True, timeout=30)
    out = p.stdout.decode(errors="replace")
    assert "250 2.0.0 Ok: queued as" in out, out + p.stderr.decode(errors="replace")
    raw = server.wait_messages(ALICE, 1)[0]
    assert b"secret" in raw
    assert b"with ESMTPS" in raw


def test_starttls_smtplib_and_tls_versions(server):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as c:
        c.ehlo()
        assert c.has_extn("starttls")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c.starttls(context=ctx)
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
        c.ehlo()
        assert not c.has_extn("starttls")
        c.sendmail("t@remote.test", [ALICE], b"Subject: tls2\r\n\r\nok\r\n")
    server.wait_messages(ALICE, 1)
    # TLS 1.1 and older are refused by the server (the client really offers them:
    # tls_probe.py; test_tls_minimum.py covers pop3d and TLS 1.0 too).
    assert_server_refuses(server.ports["smtp"], "-tls1_1", starttls="smtp")


def test_starttls_pipelined_injection_is_discarded(server):
    """Commands pipelined after STARTTLS in plaintext must not be executed inside TLS."""
    s, f = session(server)
    cmd(s, f, b"EHLO c.test")
    s.sendall(b"STARTTLS\r\nRSET\r\n")
    code, _ = reply(f)
    assert code == 220
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t = ctx.wrap_socket(s, server_hostname="mail.example.test")
    tf = t.makefile("rb")
    # Inside TLS: NOOP then QUIT, and read to the end of the stream. The replies must be
    # exactly NOOP's 250 and QUIT's 221; an injected RSET would add a 250 before them.
    t.sendall(b"NOOP\r\nQUIT\r\n")
    replies = []
    while True:
        code, text = reply(tf)
        if code is None:
            assert text == b""
            break
        replies.append(text)
    t.close()
    assert [r[:4] for r in replies] == [b"250 ", b"221 "], replies
    server.wait_log("discarding 6 bytes of plaintext sent after STARTTLS")
