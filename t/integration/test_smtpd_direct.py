"""smtpd on its own: the daemon is started directly (listener on fd 3, a stand-in for master's
alive pipe on fd 4) in an instance made by `posthorn init`, without qmgr, so every accepted
message stays in incoming/ and its queue file can be checked record by record with
`posthorn queue show`. Covers what the end-to-end tests cannot see: envelope attributes and
DSN parameters, the Received: header, BDAT framing after errors, bare-LF modes, smuggling
sequences, STARTTLS injection and the required-TLS level, error limits, timeouts,
connection limits and the disk-space check."""
import os
import socket
import ssl
import subprocess
import time

import pytest

from conftest import BIN, DOMAIN, POSTHORN
from smtp_wire import cmd, reply

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN


class Smtpd:
    def __init__(self, inst, overrides):
        self.inst = inst
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.alive_r, self.alive_w = os.pipe()
        args = []
        for o in overrides:
            args += ["-o", o]
        cmd = ('exec "$0" "$@" 3<&%d 4<&%d' % (self.sock.fileno(), self.alive_r))
        self.proc = subprocess.Popen(
            ["bash", "-c", cmd, str(BIN / "smtpd"), "-c", str(inst.etc), "-n", "smtp", "-t", "inet",
             *args], pass_fds=(self.sock.fileno(), self.alive_r))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()
        os.close(self.alive_r)
        os.close(self.alive_w)

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=20)
        f = s.makefile("rb")
        code, text = reply(f)
        return s, f, code, text

    def incoming(self):
        d = self.inst.spool / "incoming"
        return sorted(p.name for p in d.iterdir())

    def tmp_files(self):
        return list((self.inst.spool / "tmp").iterdir())

    def show(self, qid):
        """`posthorn queue show` as text, CR bytes kept (no universal newlines)."""
        p = subprocess.run([POSTHORN, "-c", str(self.inst.etc), "queue", "show", qid],
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
        return p.stdout.decode("utf-8", "replace")


def close(s, f):
    f.close()
    s.close()


@pytest.fixture
def smtpd_factory(instance):
    instance.add_user(ALICE)
    instance.add_user(BOB)
    started = []

    def start(*overrides):
        d = Smtpd(instance, overrides)
        started.append(d)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                s, f, code, _ = d.connect()
                if code == 220:
                    # QUIT and read to EOF, so this probe no longer counts against any
                    # per-client limit the test sets (smtpd forgets it before closing).
                    cmd(s, f, b"QUIT")
                    f.read()
                close(s, f)
                if code == 220:
                    return d
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("smtpd did not answer\n" + instance.log()[-3000:])

    yield start
    for d in started:
        d.stop()


def transaction(d, rcpts=(ALICE,), mail=b"MAIL FROM:<s@remote.test>", helo=b"EHLO client.test"):
    s, f, code, _ = d.connect()
    assert cmd(s, f, helo)[0] == 250
    assert cmd(s, f, mail)[0] == 250
    for r in rcpts:
        assert cmd(s, f, b"RCPT TO:<%s>" % r.encode())[0] == 250
    return s, f


def test_envelope_records_and_received_header(smtpd_factory):
    d = smtpd_factory()
    s, f = transaction(d, rcpts=(ALICE,), mail=b"MAIL FROM:<s@remote.test> RET=HDRS ENVID=QQ+2B1 BODY=8BITMIME")
    assert cmd(s, f, b"DATA")[0] == 354
    s.sendall(b"Message-ID: <m1@remote.test>\r\nSubject: x\r\n\r\nbody\r\n.\r\n")
    code, text = reply(f)
    assert code == 250 and text.startswith(b"250 2.0.0 Ok: queued as ")
    qid = text.split()[-1].decode()
    assert cmd(s, f, b"QUIT")[0] == 221
    close(s, f)
    out = d.show(qid)
    for want in ("sender: s@remote.test", "client_addr=127.0.0.1", "client_name=localhost",
                 "helo=client.test", "protocol=ESMTP", "envid=QQ+2B1", "ret=HDRS", "body=8BITMIME",
                 "recipient: alice@example.test", "Received: from client.test (localhost [127.0.0.1])",
                 "by mail.example.test (Posthorn) with ESMTP id " + qid, "for <alice@example.test>;",
                 "Subject: x\n\nbody\n"):
        assert want in out, (want, out)
    d.inst.wait_log(qid + ": client=localhost[127.0.0.1]")
    d.inst.wait_log(qid + ": message-id=<m1@remote.test>")


def test_dsn_parameters_and_no_for_clause_with_two_recipients(smtpd_factory):
    d = smtpd_factory()
    s, f, _, _ = d.connect()
    cmd(s, f, b"EHLO c.test")
    assert cmd(s, f, b"MAIL FROM:<>")[0] == 250
    assert cmd(s, f, b"RCPT TO:<alice@example.test> NOTIFY=FAILURE,SUCCESS ORCPT=rfc822;alice+40example.test")[0] == 250
    assert cmd(s, f, b"RCPT TO:<bob@example.test> NOTIFY=NEVER")[0] == 250
    assert cmd(s, f, b"RCPT TO:<bob@example.test> NOTIFY=NEVER,DELAY")[0] == 501
    assert cmd(s, f, b"RCPT TO:<ALICE@example.test>")[0] == 250  # duplicate: stored once
    cmd(s, f, b"DATA")
    s.sendall(b"Subject: dsn\r\n\r\nx\r\n.\r\n")
    qid = reply(f)[1].split()[-1].decode()
    close(s, f)
    out = d.show(qid)
    assert "recipient: alice@example.test orcpt=rfc822;alice+40example.test notify=SUCCESS,FAILURE" in out
    assert "recipient: bob@example.test notify=NEVER" in out
    assert out.count("recipient:") == 2
    assert "\tfor <" not in out


SMUGGLING = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r\n.\r", b"\r.\r\n", b"\n.\r",
             b"\r\n\x00.\r\n", b"\r\n.\r\r\n", b"\r\r\n.\r\r\n", b"\r\n.\x00\r\n"]


@pytest.mark.parametrize("mode", ["normalize", "no"])
def test_smuggling_sequences_queue_exactly_one_message(smtpd_factory, mode):
    d = smtpd_factory("smtpd_forbid_bare_newline=" + mode)
    for seq in SMUGGLING:
        before = d.incoming()
        s, f = transaction(d)
        assert cmd(s, f, b"DATA")[0] == 354
        s.sendall(b"Subject: first\r\n\r\nbody" + seq +
                  b"MAIL FROM:<admin@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
                  b"Subject: smuggled\r\n\r\nevil\r\n.\r\n")
        code, text = reply(f)
        assert code == 250, (seq, text)
        assert cmd(s, f, b"QUIT")[0] == 221, seq
        close(s, f)
        new = [q for q in d.incoming() if q not in before]
        assert len(new) == 1, seq
        out = d.show(new[0])
        assert "recipient: bob" not in out and "evil" in out, (seq, out)


def test_bare_lf_reject_mode_in_commands(smtpd_factory):
    d = smtpd_factory("smtpd_forbid_bare_newline=reject")
    s, f, _, _ = d.connect()
    s.sendall(b"EHLO c.test\n")
    code, text = reply(f)
    assert code == 521 and b"5.5.2" in text
    assert reply(f)[0] is None
    close(s, f)


def test_bare_lf_normalize_stores_line_ends(smtpd_factory):
    d = smtpd_factory()
    s, f = transaction(d)
    cmd(s, f, b"DATA")
    s.sendall(b"Subject: lf\n\nline one\nline\rtwo\r\n..dot\n.\r\n.\r\n")
    qid = reply(f)[1].split()[-1].decode()
    close(s, f)
    assert "Subject: lf\n\nline one\nline\rtwo\n.dot\n\n" in d.show(qid)


def test_bdat_framing_after_errors(smtpd_factory):
    d = smtpd_factory("message_size_limit=2000")
    s, f, _, _ = d.connect()
    cmd(s, f, b"EHLO c.test")
    # No transaction: the chunk is read and refused; the next command still works.
    s.sendall(b"BDAT 5\r\nMAIL BDAT 0 LAST\r\nNOOP\r\n")
    assert [reply(f)[0] for _ in range(3)] == [503, 503, 250]
    cmd(s, f, b"MAIL FROM:<s@remote.test>")
    cmd(s, f, b"RCPT TO:<alice@example.test>")
    # Over the size limit: this chunk and the pipelined rest get 552, LAST ends it.
    s.sendall(b"BDAT 1500\r\n" + b"a" * 1500 + b"BDAT 1500\r\n" + b"b" * 1500 +
              b"BDAT 4 LAST\r\nQUIT" + b"NOOP\r\n")
    assert [reply(f)[0] for _ in range(4)] == [250, 552, 552, 250]
    # CRLF split over two chunks is still one line end.
    cmd(s, f, b"MAIL FROM:<s@remote.test>")
    cmd(s, f, b"RCPT TO:<alice@example.test>")
    s.sendall(b"BDAT 11\r\nSubject: b\r")
    assert reply(f)[0] == 250
    assert cmd(s, f, b"DATA")[0] == 503
    s.sendall(b"BDAT 6 LAST\r\n\n\r\nxy\r")
    code, text = reply(f)
    assert code == 250
    qid = text.split()[-1].decode()
    assert "Subject: b\n\nxy\r" in d.show(qid)
    # A BDAT without a usable size cannot be framed: 501 and the session ends.
    code, _ = cmd(s, f, b"BDAT many")
    assert code == 501
    assert reply(f)[0] is None
    close(s, f)
    assert d.tmp_files() == []


def test_oversize_data_is_read_to_the_end_and_dropped(smtpd_factory):
    d = smtpd_factory("message_size_limit=5000")
    s, f = transaction(d)
    assert cmd(s, f, b"MAIL FROM:<x@remote.test>")[0] == 503
    cmd(s, f, b"DATA")
    s.sendall(b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 20 + b".\r\n")
    code, text = reply(f)
    assert code == 552 and b"5.3.4" in text
    assert cmd(s, f, b"NOOP")[0] == 250
    close(s, f)
    assert d.incoming() == [] and d.tmp_files() == []


def test_encrypt_level_and_starttls_injection(smtpd_factory):
    d = smtpd_factory("smtpd_tls_security_level=encrypt")
    s, f, _, _ = d.connect()
    code, text = cmd(s, f, b"EHLO c.test")
    assert b"STARTTLS" in text
    assert cmd(s, f, b"MAIL FROM:<s@remote.test>")[0] == 530
    s.sendall(b"STARTTLS\r\nMAIL FROM:<injected@remote.test>\r\n")
    assert reply(f)[0] == 220
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t = ctx.wrap_socket(s, server_hostname="mail.example.test")
    tf = t.makefile("rb")
    t.sendall(b"MAIL FROM:<s@remote.test>\r\n")
    assert reply(tf)[0] == 503  # EHLO is required again inside TLS; nothing was injected
    t.sendall(b"EHLO c.test\r\n")
    code, text = reply(tf)
    assert code == 250 and b"STARTTLS" not in text
    for line in (b"MAIL FROM:<s@remote.test>", b"RCPT TO:<alice@example.test>", b"DATA"):
        t.sendall(line + b"\r\n")
        assert reply(tf)[0] in (250, 354)
    t.sendall(b"Subject: tls\r\n\r\nx\r\n.\r\n")
    code, text = reply(tf)
    assert code == 250
    out = d.show(text.split()[-1].decode())
    assert "protocol=ESMTPS" in out and "tls=TLSv1." in out and "(using TLSv1." in out
    close(t, tf)
    d.inst.wait_log("discarding")


def test_error_limits_and_delay(smtpd_factory):
    d = smtpd_factory("smtpd_soft_error_limit=1", "smtpd_hard_error_limit=4",
                      "smtpd_error_sleep_time=1s")
    s, f, _, _ = d.connect()
    t0 = time.time()
    assert cmd(s, f, b"FROB")[0] == 502
    assert cmd(s, f, b"FROB")[0] == 502  # the second error is delayed by 1s
    assert time.time() - t0 >= 0.9
    cmd(s, f, b"FROB")
    assert cmd(s, f, b"FROB")[0] == 502
    code, text = reply(f)
    assert code == 421 and b"4.7.0" in text
    close(s, f)


def test_idle_timeout(smtpd_factory):
    d = smtpd_factory("smtpd_timeout=1s")
    s, f, _, _ = d.connect()
    cmd(s, f, b"EHLO c.test")
    code, text = reply(f)
    assert code == 421 and b"4.4.2" in text
    close(s, f)


def test_client_connection_limit(smtpd_factory):
    d = smtpd_factory("smtpd_client_connection_count_limit=2")
    a = [d.connect() for _ in range(2)]
    assert [x[2] for x in a] == [220, 220]
    s, f, code, text = d.connect()
    assert code == 421 and b"4.7.0" in text
    close(s, f)
    # QUIT and read to EOF: smtpd forgets a session's address before it closes the
    # connection (smtpd/session.c, session_free), so no wait is needed after EOF.
    for x in a:
        assert cmd(x[0], x[1], b"QUIT")[0] == 221
        assert x[1].read() == b""
        close(x[0], x[1])
    s, f, code, _ = d.connect()
    assert code == 220
    close(s, f)


def test_insufficient_storage(smtpd_factory):
    d = smtpd_factory("queue_minfree=1000000000000000")
    s, f, _, _ = d.connect()
    cmd(s, f, b"EHLO c.test")
    code, text = cmd(s, f, b"MAIL FROM:<s@remote.test>")
    assert code == 452 and b"4.3.1 Insufficient system storage" in text
    close(s, f)
