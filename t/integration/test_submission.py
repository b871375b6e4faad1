"""submission (doc/submission.md) with real mail clients: Python's smtplib (starttls on 587,
SMTP_SSL on 465), swaks, curl and msmtp, each logging in with the account's password and
sending a message that must arrive in the local mailbox byte for byte (minus the fields
Posthorn adds: Return-Path, Delivered-To, Received, and Message-ID/Date when missing)."""
import shutil
import smtplib
import subprocess
import time

import pytest

from conftest import DOMAIN, body_of, parse
from submission_client import (ALICE, BOB, PASSWORD, logged_in, received_of, start_submission,
                               tls_context, without_added)


@pytest.fixture
def sub(instance):
    return start_submission(instance)


def message(tag, sender=ALICE, to=BOB, msgid=True, date=True):
    """A message with 8-bit text, a leading dot, a long line and a folded header."""
    head = [f"From: Alice <{sender}>", f"To: <{to}>", f"Subject: {tag}",
            "X-Folded: one", "\ttwo"]
    if date:
        head.append("Date: Mon, 01 Jan 2024 10:00:00 +0000")
    if msgid:
        head.append(f"Message-ID: <{tag}@client.example>")
    body = [f"Hello from {tag}.", "Grüße, naïve café", ".a line that starts with a dot",
            "x" * 900, ""]
    return ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(body)).encode()


def dotted(msg):
    """DATA as a client sends it: dot-stuffed, then the end of data."""
    assert msg.endswith(b"\r\n")
    return msg.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def delivered(inst, addr, count=1):
    return inst.wait_messages(addr, count)[count - 1]


def assert_intact(raw, sent):
    assert body_of(raw) == sent.replace(b"\r\n", b"\n"), raw[:2000]


def test_smtplib_starttls_587(sub):
    s = smtplib.SMTP("127.0.0.1", sub.ports["submission"], timeout=30)
    s.ehlo()
    assert not s.has_extn("auth"), "AUTH must not be offered before TLS"
    s.starttls(context=tls_context())
    s.ehlo()
    assert s.has_extn("auth") and set(s.esmtp_features["auth"].split()) == {"PLAIN", "LOGIN"}
    for ext in ("size", "pipelining", "8bitmime", "smtputf8", "chunking", "dsn",
                "enhancedstatuscodes"):
        assert s.has_extn(ext), ext
    s.login(ALICE, PASSWORD)
    sent = message("smtplib-587")
    assert s.sendmail(ALICE, [BOB], sent) == {}
    s.quit()
    raw = delivered(sub, BOB)
    assert_intact(raw, sent)
    rcv = received_of(raw)
    assert f"(Authenticated sender: {ALICE})" in rcv and "with ESMTPSA" in rcv, rcv
    log = sub.log()
    assert f"sasl_method=PLAIN, sasl_username={ALICE}" in log, log[-3000:]


def test_smtplib_ssl_465_with_login_mechanism(sub):
    s = smtplib.SMTP_SSL("127.0.0.1", sub.ports["smtps"], timeout=30, context=tls_context())
    s.ehlo()
    assert s.has_extn("auth")
    assert not s.has_extn("starttls")
    s.user, s.password = ALICE, PASSWORD  # what smtplib's auth_login sends
    code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
    assert code == 235
    sent = message("smtplib-465", msgid=False, date=False)
    s.sendmail(ALICE, [BOB], sent)
    s.quit()
    raw = delivered(sub, BOB)
    assert without_added(raw) == sent.replace(b"\r\n", b"\n"), raw[:2000]
    m = parse(raw)
    assert m["Message-ID"] and m["Message-ID"].endswith(f"@{sub.conf('myhostname')}>")
    assert m["Date"]
    assert f"sasl_method=LOGIN, sasl_username={ALICE}" in sub.log()


def test_swaks_starttls_and_tls_on_connect(sub, tmp_path):
    for port, mode, tag in ((sub.ports["submission"], "--tls", "swaks-587"),
                            (sub.ports["smtps"], "--tlsc", "swaks-465")):
        sent = message(tag)
        f = tmp_path / f"{tag}.eml"
        f.write_bytes(sent[:-2])  # swaks ends the data with its own CRLF
        p = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", mode, "--auth", "PLAIN",
                            "--auth-user", ALICE, "--auth-password", PASSWORD,
                            "--from", ALICE, "--to", BOB, "--data", f"@{f}", "--timeout", "30"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "235 2.7.0" in p.stdout
    msgs = sub.wait_messages(BOB, 2)
    for raw, tag in zip(sorted(msgs, key=lambda r: b"swaks-587" not in r), ("swaks-587", "swaks-465")):
        assert_intact(raw, message(tag))


def curl(sub, url, tmp_path, tag, extra=()):
    sent = message(tag)
    f = tmp_path / f"{tag}.eml"
    f.write_bytes(sent)
    p = subprocess.run(["curl", "--silent", "--show-error", "--insecure", "--url", url,
                        *extra, "--user", f"{ALICE}:{PASSWORD}", "--mail-from", ALICE,
                        "--mail-rcpt", BOB, "--upload-file", str(f), "--max-time", "30"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    return sent


def test_curl_smtp_ssl_reqd_and_smtps(sub, tmp_path):
    sent1 = curl(sub, f"smtp://127.0.0.1:{sub.ports['submission']}", tmp_path, "curl-587",
                 ("--ssl-reqd",))
    assert_intact(delivered(sub, BOB, 1), sent1)
    sent2 = curl(sub, f"smtps://127.0.0.1:{sub.ports['smtps']}", tmp_path, "curl-465")
    assert_intact(delivered(sub, BOB, 2), sent2)


@pytest.mark.skipif(not shutil.which("msmtp"), reason="msmtp is not installed (t/deps)")
@pytest.mark.parametrize("starttls", [True, False])
def test_msmtp(sub, tmp_path, starttls):
    port = sub.ports["submission" if starttls else "smtps"]
    cfg = tmp_path / "msmtprc"
    cfg.write_text(f"""defaults
logfile {tmp_path}/msmtp.log
account default
host 127.0.0.1
port {port}
tls on
tls_starttls {'on' if starttls else 'off'}
tls_certcheck off
auth on
user {ALICE}
password {PASSWORD}
from {ALICE}
""")
    cfg.chmod(0o600)
    tag = f"msmtp-{'587' if starttls else '465'}"
    sent = message(tag)
    p = subprocess.run(["msmtp", "-C", str(cfg), "-a", "default", BOB], input=sent,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert_intact(delivered(sub, BOB), sent)


def test_bdat_with_headers_split_across_chunks(sub):
    """CHUNKING on submission: the header section ends inside a later chunk; the fields
    Posthorn adds go in before the empty line, the body stays intact."""
    s = logged_in(sub, implicit=True)
    sent = b"From: <" + ALICE.encode() + b">\r\nSubj" + b"ect: chunked\r\nTo: <" + BOB.encode() + \
        b">\r\n\r\nbody line\r\n.dot\r\n"
    cut1, cut2 = 20, sent.index(b"\r\n\r\n") + 3  # the second cut splits the empty line
    assert s.cmd(f"MAIL FROM:<{ALICE}>")[0] == 250
    assert s.cmd(f"RCPT TO:<{BOB}>")[0] == 250
    for i, (a, b) in enumerate(((0, cut1), (cut1, cut2), (cut2, len(sent)))):
        last = " LAST" if b == len(sent) else ""
        s.sock.sendall(f"BDAT {b - a}{last}\r\n".encode() + sent[a:b])
        code, lines = s.reply()
        assert code == 250, lines
    s.cmd("QUIT")
    raw = delivered(sub, BOB)
    assert without_added(raw) == sent.replace(b"\r\n", b"\n"), raw
    head = raw.split(b"\n\n", 1)[0]
    assert b"\nMessage-ID: <" in head and b"\nDate: " in head
    assert raw.split(b"\n\n", 1)[1] == b"body line\n.dot\n"


def test_pipelined_session(sub):
    """PIPELINING: every command of a transaction in one write, the replies in order."""
    s = logged_in(sub)
    sent = message("pipelined")
    s.sock.sendall(f"MAIL FROM:<{ALICE}> BODY=8BITMIME SIZE={len(sent)}\r\nRCPT TO:<{BOB}>\r\n"
                   f"RCPT TO:<{ALICE}>\r\nDATA\r\n".encode())
    assert [s.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    s.sock.sendall(dotted(sent) + b"QUIT\r\n")
    assert s.reply()[0] == 250
    assert s.reply()[0] == 221
    assert_intact(delivered(sub, BOB), sent)
    assert_intact(delivered(sub, ALICE), sent)


def test_received_can_hide_the_client(instance):
    sub = start_submission(instance, submission_received_hide_client="yes")
    s = logged_in(sub, implicit=True)
    s.cmd(f"MAIL FROM:<{ALICE}>")
    s.cmd(f"RCPT TO:<{BOB}>")
    assert s.cmd("DATA")[0] == 354
    s.sock.sendall(dotted(message("hidden")))
    assert s.reply()[0] == 250
    raw = delivered(sub, BOB)
    rcv = received_of(raw)
    assert "127.0.0.1" not in rcv and "client.example" not in rcv, rcv
    assert f"(Authenticated sender: {ALICE})" in rcv and "with ESMTPSA" in rcv, rcv


def test_smtpd_rules_hold(instance):
    """SIZE, SMTPUTF8, DSN parameters and the smuggling-safe end of data, as on port 25."""
    sub = start_submission(instance, message_size_limit="100000")
    s = logged_in(sub)
    code, lines = s.cmd(f"MAIL FROM:<{ALICE}> SIZE=200000")
    assert code == 552 and lines[0].startswith("552 5.3.4"), lines
    assert s.cmd(f"MAIL FROM:<{ALICE}> SMTPUTF8 RET=HDRS ENVID=x+2By")[0] == 250
    assert s.cmd(f"RCPT TO:<{BOB}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.test")[0] == 250
    assert s.cmd("DATA")[0] == 354
    # A fake end of data with bare LFs stays inside the message (doc/smtpd.md, Protocol).
    s.sock.sendall(f"From: <{ALICE}>\r\nSubject: smuggle\r\n\r\nbefore\n.\nMAIL FROM:<{ALICE}>\n"
                   "after\r\n.\r\n".encode())
    code, lines = s.reply()
    assert code == 250 and "queued as" in lines[0], lines
    raw = delivered(sub, BOB)
    assert b"before\n" in raw and b"\nMAIL FROM:" in raw and b"after\n" in raw, raw
    qid = lines[0].split()[-1]
    log = sub.log()
    assert f"{qid}: client=localhost[127.0.0.1], sasl_method=PLAIN, sasl_username={ALICE}" in log
