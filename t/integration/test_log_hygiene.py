"""Log hygiene (doc/operator.md, Logs): bytes a client controls reach maillog_file escaped -
control characters as \\xHH, invalid UTF-8 as \\xHH, a backslash as \\\\ - from every untrusted
field that is logged: EHLO, MAIL FROM and RCPT TO (the -v command trace), ORCPT (qmgr's
orig_to=), Message-ID (smtpd), the POP3 USER name and the AUTH PLAIN user name (pop3d's
authentication failures). Valid UTF-8 is kept as it is."""
import base64
import socket
import time
from pathlib import Path

from conftest import DOMAIN

ALICE = "alice@" + DOMAIN
NASTY = b"\x1b[31m\x07\x01\x7f\xff\xc3(\\"          # ESC, BEL, SOH, DEL, invalid UTF-8, backslash
ESCAPED = "\\x1b[31m\\x07\\x01\\x7f\\xff\\xc3(\\\\"
UTF8 = "j\u00f6rg"                                   # valid UTF-8 stays as it is


class Line:
    """A raw line-based client (SMTP or POP3): exact bytes out, one reply line in."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.f = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self):
        while True:
            line = self.f.readline(100000)
            assert line, "connection closed"
            if line[3:4] != b"-":  # skip SMTP continuation lines
                return line

    def cmd(self, data):
        self.sock.sendall(data + b"\r\n")
        return self.reply()

    def close(self):
        self.f.close()
        self.sock.close()


def raw_log(inst):
    return Path(inst.conf("maillog_file")).read_bytes()


def wait_raw_log(inst, text, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text.encode() in raw_log(inst):
            return
        time.sleep(0.05)
    raise AssertionError(f"log never showed {text!r}\n{raw_log(inst)[-4000:]!r}")


def assert_log_clean(inst):
    """Every line is printable ASCII or valid UTF-8: no byte a terminal would obey."""
    raw = raw_log(inst)
    text = raw.decode("utf-8")  # raises on invalid UTF-8
    bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or ord(c) == 0x7f]
    assert not bad, [line for line in text.splitlines() if any(c in line for c in bad)][:5]


def xtext(data):
    return "".join(chr(b) if 33 <= b <= 126 and b not in (ord("+"), ord("=")) else f"+{b:02X}"
                   for b in data)


def test_smtp_fields_are_escaped_in_the_log(instance):
    instance.add_user(ALICE)
    instance.set_conf(debug_log="yes")
    instance.start()
    c = Line(instance.ports["smtp"])
    assert c.cmd(b"EHLO helo" + NASTY).startswith(b"501")
    assert c.cmd(b"EHLO client.test").startswith(b"250")
    assert c.cmd(b"MAIL FROM:<from" + NASTY + b"@remote.test>").startswith(b"501")
    assert c.cmd(b"MAIL FROM:<sender@remote.test> SMTPUTF8").startswith(b"250")
    assert c.cmd(b"RCPT TO:<rcpt" + NASTY + b"@example.test>").startswith(b"501")
    orcpt = xtext(b"orcpt" + NASTY + b"@x.test")
    assert c.cmd(f"RCPT TO:<{ALICE}> ORCPT=rfc822;{orcpt}".encode()).startswith(b"250")
    assert c.cmd(b"DATA").startswith(b"354")
    body = (b"Message-ID: <msgid" + NASTY + b"@x.test>\r\nSubject: " + UTF8.encode() +
            b"\r\n\r\nhi\r\n.")
    assert c.cmd(body).startswith(b"250")
    c.cmd(b"QUIT")
    c.close()
    instance.wait_messages(ALICE, 1)
    wait_raw_log(instance, f"orig_to=<orcpt{ESCAPED}@x.test>")
    wait_raw_log(instance, "disconnect from localhost[127.0.0.1]")
    log = raw_log(instance).decode("utf-8")
    assert f": EHLO helo{ESCAPED}\n" in log                          # the -v command trace
    assert f": MAIL FROM:<from{ESCAPED}@remote.test>\n" in log
    assert f": RCPT TO:<rcpt{ESCAPED}@example.test>\n" in log
    assert f": message-id=<msgid{ESCAPED}@x.test>\n" in log
    assert_log_clean(instance)


def test_utf8_address_is_logged_as_it_is(instance):
    instance.add_user(ALICE)
    instance.start()
    c = Line(instance.ports["smtp"])
    c.cmd(b"EHLO client.test")
    assert c.cmd(f"MAIL FROM:<{UTF8}@remote.test> SMTPUTF8".encode()).startswith(b"250")
    assert c.cmd(f"RCPT TO:<{ALICE}>".encode()).startswith(b"250")
    assert c.cmd(b"DATA").startswith(b"354")
    assert c.cmd(b"Subject: u\r\n\r\nhi\r\n.").startswith(b"250")
    c.cmd(b"QUIT")
    c.close()
    wait_raw_log(instance, f"from=<{UTF8}@remote.test>, size=")
    assert_log_clean(instance)


def test_pop3_user_names_are_escaped_in_the_log(instance):
    """Names with control characters are refused before the check ("(invalid name)"); the
    bytes that do reach the log line - invalid UTF-8, a backslash - come out escaped."""
    instance.set_conf(login_allow_plaintext_auth="yes", login_failure_delay="0")
    instance.add_user(ALICE)
    instance.start()
    instance.wait_port(instance.ports["pop3"])
    bad8 = b"\xff\xc3(\\\xe2\x82"          # invalid UTF-8 and a backslash, no control bytes
    esc8 = "\\xff\\xc3(\\\\\\xe2\\x82"
    p = Line(instance.ports["pop3"])
    for name in (b"user" + NASTY, b"user" + bad8):
        assert p.cmd(b"USER " + name).startswith(b"+OK")
        assert p.cmd(b"PASS wrong").startswith(b"-ERR")
    for name in (b"authcid" + NASTY, b"authcid" + bad8):
        plain = base64.b64encode(b"\0" + name + b"\0wrong")
        assert p.cmd(b"AUTH PLAIN " + plain).startswith(b"-ERR")
    p.cmd(b"QUIT")
    p.close()
    wait_raw_log(instance, f"authentication failed: user=<user{esc8}>, method=USER")
    wait_raw_log(instance, f"authentication failed: user=<authcid{esc8}>, method=PLAIN")
    log = raw_log(instance).decode("utf-8")
    assert log.count("authentication failed: user=<(invalid name)>") == 2
    assert_log_clean(instance)
