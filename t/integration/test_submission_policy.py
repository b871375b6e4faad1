"""submission's refusals and policy (doc/submission.md): AUTH only under TLS, MAIL only once
authenticated, wrong passwords, the sender policy on MAIL FROM and the header From, the
per-user limits across processes and the hold past a hard limit, relaying for authenticated
users (remote mail waits in the queue for the SMTP client), and the RFC 6409 fixes."""
import email
import json
import re
import time

import pytest

from conftest import DOMAIN
from submission_client import (ALICE, BOB, CAROL, PASSWORD, Smtp, logged_in, plain,
                               start_submission)

REMOTE = "someone@remote.example"


def send(s, sender, rcpts, data, expect=250):
    assert s.cmd(f"MAIL FROM:<{sender}>")[0] == 250
    for r in rcpts:
        assert s.cmd(f"RCPT TO:<{r}>")[0] == 250
    assert s.cmd("DATA")[0] == 354
    s.sock.sendall(data.replace(b"\r\n.", b"\r\n..") + b".\r\n")
    code, lines = s.reply()
    assert code == expect, lines
    return lines


def msg(from_hdr=ALICE, extra=""):
    return (f"From: <{from_hdr}>\r\nTo: <{BOB}>\r\nSubject: test\r\n{extra}\r\nbody\r\n").encode()


@pytest.fixture
def sub(instance):
    return start_submission(instance)


def test_auth_needs_tls(sub):
    s = Smtp(sub)
    caps = s.ehlo()
    assert not any(c.startswith("AUTH") for c in caps), caps
    code, lines = s.auth_plain()
    assert code == 538 and lines[0].startswith("538 5.7.11"), lines
    s.starttls()
    assert any(c.startswith("AUTH") for c in s.ehlo())
    assert s.auth_plain()[0] == 235


def test_loopback_exception(instance):
    sub = start_submission(instance, submission_plaintext_auth_loopback="yes")
    s = Smtp(sub)
    assert "AUTH PLAIN LOGIN" in s.ehlo()
    assert s.auth_plain()[0] == 235
    send(s, ALICE, [BOB], msg())
    sub.wait_messages(BOB, 1)


def test_mail_before_auth(sub):
    for implicit in (False, True):
        s = Smtp(sub, implicit=implicit)
        s.ehlo()
        if not implicit:
            s.starttls()
            s.ehlo()
        code, lines = s.cmd(f"MAIL FROM:<{ALICE}>")
        assert code == 530 and lines[0].startswith("530 5.7.0"), lines
        # Nor may anyone relay, or mail our own users, without logging in.
        assert s.cmd(f"RCPT TO:<{BOB}>")[0] == 503


def test_wrong_password_after_the_failure_delay(instance):
    sub = start_submission(instance, login_failure_delay="1s", login_max_failures="5")
    s = logged_in  # noqa: F841 (a fresh session below)
    s = Smtp(sub, implicit=True)
    s.ehlo()
    t = time.monotonic()
    code, lines = s.auth_plain(ALICE, "wrong")
    elapsed = time.monotonic() - t
    assert code == 535 and lines[0].startswith("535 5.7.8"), lines
    assert elapsed >= 0.95, elapsed
    # Unknown users and malformed PLAIN messages fail the same way.
    assert s.auth_plain(f"nobody@{DOMAIN}", "x")[0] == 535
    assert s.cmd("AUTH PLAIN AGFsaWNl")[0] == 535  # "\0alice": no password
    assert s.cmd("AUTH PLAIN !!!")[0] == 501       # not base64
    assert s.cmd("AUTH CRAM-MD5")[0] == 504
    # AUTH LOGIN step by step, with a cancel.
    assert s.cmd("AUTH LOGIN") == (334, ["334 VXNlcm5hbWU6"])
    assert s.cmd("*")[0] == 501
    assert s.auth_plain()[0] == 235
    log = sub.log()
    assert "wrong" not in log and PASSWORD not in log
    assert f"authentication failed: user=<{ALICE}>, method=PLAIN, rip=127.0.0.1" in log


def test_foreign_mail_from(sub):
    s = logged_in(sub)
    code, lines = s.cmd(f"MAIL FROM:<{BOB}>")
    assert code == 553 and lines[0].startswith("553 5.7.1"), lines
    assert s.cmd("MAIL FROM:<alice@elsewhere.example>")[0] == 553
    # Its own address in another case, an extension and the null sender are fine.
    for sender in ("ALICE@example.test", f"alice+list@{DOMAIN}", ""):
        assert s.cmd(f"MAIL FROM:<{sender}>")[0] == 250, sender
        s.cmd("RSET")
    assert "Sender address rejected: not owned by user" in sub.log()


def test_foreign_header_from_is_refused_after_data(sub):
    s = logged_in(sub)
    lines = send(s, ALICE, [BOB], msg(from_hdr=BOB), expect=553)
    assert lines[0].startswith("553 5.7.1") and BOB in lines[0], lines
    lines = send(s, ALICE, [BOB], msg(from_hdr=f"{ALICE}>, <{CAROL}"), expect=553)
    send(s, ALICE, [BOB], msg(from_hdr=f"{ALICE}>, bob, <{ALICE}"), expect=553)  # no domain
    send(s, ALICE, [BOB], b"From: Alice Liddell\r\n\r\nbody\r\n", expect=553)  # no address
    # The session goes on; nothing of the refused messages was queued or delivered.
    send(s, ALICE, [BOB], msg())
    msgs = sub.wait_messages(BOB, 1)
    time.sleep(1)
    assert len(sub.messages(BOB)) == 1 and b"From: <" + ALICE.encode() in msgs[0]


def test_aliases_and_sender_login_maps(instance):
    (instance.etc / "aliases").write_text(
        f"postmaster@{DOMAIN}: {ALICE}\nsales@{DOMAIN}: team@{DOMAIN}\n"
        f"team@{DOMAIN}: {ALICE}, {BOB}\n")
    instance.posthorn("map", "build", str(instance.etc / "aliases"))
    (instance.etc / "senders").write_text(f"boss@{DOMAIN}: {ALICE}\n@other.example: {BOB}\n")
    instance.posthorn("map", "build", str(instance.etc / "senders"))
    sub = start_submission(instance,
                           submission_sender_login_maps=f"lmdb:{instance.etc}/senders")
    s = logged_in(sub)
    for sender in (f"sales@{DOMAIN}", f"team@{DOMAIN}", f"boss@{DOMAIN}"):
        send(s, sender, [BOB], msg(from_hdr=sender))
    assert s.cmd("MAIL FROM:<x@other.example>")[0] == 553  # bob's, not alice's
    b = logged_in(sub, user=BOB)
    send(b, "x@other.example", [ALICE], msg(from_hdr="x@other.example"))
    assert b.cmd(f"MAIL FROM:<boss@{DOMAIN}>")[0] == 553
    sub.wait_messages(BOB, 3)


def test_header_from_mismatch_adds_sender(instance):
    sub = start_submission(instance, submission_header_from_mismatch="sender")
    s = logged_in(sub)
    send(s, ALICE, [BOB], msg(from_hdr="newsletter@elsewhere.example"))
    raw = sub.wait_messages(BOB, 1)[0]
    head = raw.split(b"\n\n", 1)[0]
    assert b"From: <newsletter@elsewhere.example>" in head
    assert f"Sender: <{ALICE}>".encode() in head, head
    # A Sender: naming someone else is still refused.
    send(s, ALICE, [BOB], msg(from_hdr="x@elsewhere.example", extra=f"Sender: <{CAROL}>\r\n"),
         expect=553)


def test_missing_from_date_message_id_are_added(sub):
    s = logged_in(sub)
    send(s, ALICE, [BOB], b"Subject: bare\r\n\r\nbody\r\n")
    raw = sub.wait_messages(BOB, 1)[0]
    head, body = raw.split(b"\n\n", 1)
    assert f"\nFrom: <{ALICE}>\n".encode() in head + b"\n", head
    assert re.search(rb"\nDate: \w{3}, \d{2} \w{3} \d{4} ", head), head
    msgid = re.search(rb"\nMessage-ID: (<[0-9A-F]{18}\.[0-9A-F]{8}@[^>]+>)", head)
    assert msgid, head
    assert f"message-id={msgid.group(1).decode()}" in sub.log()  # the log names the one added
    assert body == b"body\n"
    # The added fields come after the client's (where its header section ended).
    assert head.index(b"Subject: bare") < head.index(b"Message-ID:")


def test_limits_per_message_and_rate(instance):
    sub = start_submission(instance, submission_recipient_limit="2",
                           submission_message_rate_limit="4",
                           submission_recipient_rate_limit="5")
    s = logged_in(sub)
    assert s.cmd(f"MAIL FROM:<{ALICE}>")[0] == 250  # message 1
    assert s.cmd(f"RCPT TO:<{BOB}>")[0] == 250      # recipient 1
    assert s.cmd(f"RCPT TO:<{CAROL}>")[0] == 250    # recipient 2
    code, lines = s.cmd(f"RCPT TO:<{ALICE}>")
    assert code == 452 and lines[0].startswith("452 4.7.1"), lines
    s.cmd("RSET")
    # What this user sends through another process (465) counts here too (anvil).
    t = logged_in(sub, implicit=True)
    assert t.cmd(f"MAIL FROM:<{ALICE}>")[0] == 250  # message 2
    assert t.cmd(f"RCPT TO:<{BOB}>")[0] == 250      # recipient 3
    t.cmd("RSET")
    assert s.cmd(f"MAIL FROM:<{ALICE}>")[0] == 250  # message 3
    assert s.cmd(f"RCPT TO:<{BOB}>")[0] == 250      # recipient 4
    assert s.cmd(f"RCPT TO:<{CAROL}>")[0] == 250    # recipient 5
    s.cmd("RSET")
    assert t.cmd(f"MAIL FROM:<{ALICE}>")[0] == 250  # message 4
    code, lines = t.cmd(f"RCPT TO:<{BOB}>")         # recipient 6
    assert code == 450 and lines[0].startswith("450 4.7.1"), lines
    t.cmd("RSET")
    code, lines = s.cmd(f"MAIL FROM:<{ALICE}>")     # message 5
    assert code == 450 and lines[0].startswith("450 4.7.1"), lines
    # Another user has limits of its own.
    b = logged_in(sub, user=BOB)
    assert b.cmd(f"MAIL FROM:<{BOB}>")[0] == 250
    assert b.cmd(f"RCPT TO:<{ALICE}>")[0] == 250
    log = sub.log()
    assert f"reject: RCPT from localhost[127.0.0.1]: 450 4.7.1 Error: too many recipients" in log


def test_sending_counts_survive_a_reload(instance):
    """A reload restarts anvil; the user's count for the hour (and a hold) goes to the next
    anvil, so a reload does not hand out a fresh quota (doc/anvil.md)."""
    sub = start_submission(instance, submission_message_rate_limit="2")
    s = logged_in(sub)
    for _ in range(2):
        send(s, ALICE, [BOB], msg())
    s.cmd("QUIT")
    key = f"127.0.0.1:{sub.ports['submission']}"
    before = set(sub.status_pids()["anvil"]) | set(sub.status_pids()[key])
    sub.posthorn("reload")
    sub.wait_log("took over 1 counts (sending limits, login failures)")
    # Ask the new generation (the old one counts on its own while it drains).
    deadline = time.time() + 20
    while True:
        now = sub.status_pids()
        fresh = set(now.get("anvil", [])) | set(now.get(key, []))
        if now.get("anvil") and now.get(key) and not fresh & before:
            break
        assert time.time() < deadline, (before, now)
        time.sleep(0.1)
    t = logged_in(sub)
    code, lines = t.cmd(f"MAIL FROM:<{ALICE}>")
    assert code == 450 and lines[0].startswith("450 4.7.1"), lines
    b = logged_in(sub, user=BOB)  # others are not affected
    assert b.cmd(f"MAIL FROM:<{BOB}>")[0] == 250
    assert not (sub.spool / "private" / "anvil.state").exists()


def test_hard_limit_puts_further_mail_on_hold(instance):
    sub = start_submission(instance, submission_message_rate_limit="0",
                           submission_message_hard_limit="2")
    s = logged_in(sub)
    for i in range(2):
        send(s, ALICE, [BOB], msg())
    sub.wait_messages(BOB, 2)
    send(s, ALICE, [BOB], msg())  # accepted (250) ...
    t = logged_in(sub, implicit=True)  # ... and so is the next, from another process
    send(t, ALICE, [BOB], msg())
    time.sleep(1.5)
    assert len(sub.messages(BOB)) == 2  # ... but neither is delivered
    held = sub.queue_files("hold")
    assert len(held) == 2, held
    out = sub.posthorn("queue", "list", "--held").stdout
    for qid in held:
        assert qid + "!" in out, out
    listing = json.loads(sub.posthorn("queue", "list", "--held", "--json").stdout)
    assert {e["queue_name"] for e in listing} == {"hold"} and len(listing) == 2
    log = sub.log()
    assert f"alert: sasl_username={ALICE} went past a hard sending limit" in log, log[-3000:]
    assert len(re.findall(r": hold: sasl_username=", log)) == 2
    # Bob is not held; releasing alice's mail delivers it.
    b = logged_in(sub, user=BOB)
    send(b, BOB, [ALICE], msg(from_hdr=BOB))
    sub.wait_messages(ALICE, 1)
    sub.posthorn("queue", "release", "ALL")
    sub.wait_messages(BOB, 4)


def test_relay_for_authenticated_users_waits_in_the_queue(sub):
    s = logged_in(sub)
    send(s, ALICE, [REMOTE, BOB], msg())
    sub.wait_messages(BOB, 1)
    deadline = time.time() + 30
    while True:
        out = sub.posthorn("queue", "list").stdout
        if REMOTE in out and "no smtp transport" in out:
            break
        assert time.time() < deadline, out + sub.log()[-3000:]
        time.sleep(0.2)
    time.sleep(3)  # several queue runs (queue_run_delay 1s): still deferred, never bounced
    out = sub.posthorn("queue", "list", "--json").stdout
    (entry,) = json.loads(out)
    assert entry["queue_name"] == "deferred" and entry["recipients"][0]["address"] == REMOTE
    assert "no smtp transport" in entry["recipients"][0]["delay_reason"]
    assert len(sub.messages(ALICE)) == 0, "no bounce"
    log = sub.log()
    assert f"to=<{REMOTE}>" in log and "status=deferred" in log, log[-3000:]
    assert "status=bounced" not in log


def test_no_relay_without_auth(sub):
    """Port 25 (smtpd) relays for nobody; submission lets nobody in without AUTH."""
    import smtplib
    c = smtplib.SMTP("127.0.0.1", sub.ports["smtp"], timeout=30)
    c.ehlo()
    c.mail(ALICE)
    code, _ = c.rcpt(REMOTE)
    assert code == 554
    c.quit()


def test_header_from_cannot_hide(sub):
    """A From too long to keep whole, or cut by the end of a BDAT message, is refused: what
    cannot be read whole cannot be shown to be the user's."""
    s = logged_in(sub)
    pad = ", ".join(f"<{ALICE}>" for _ in range(300))  # ~6 KB, past the scanner's 4 KB
    send(s, ALICE, [BOB], msg(from_hdr=f"{ALICE}>, {pad}, <{BOB}"), expect=553)
    assert s.cmd(f"MAIL FROM:<{ALICE}>")[0] == 250
    assert s.cmd(f"RCPT TO:<{BOB}>")[0] == 250
    tail = f"Subject: x\r\nFrom: <{BOB}>".encode()  # no line end: the message ends here
    s.sock.sendall(f"BDAT {len(tail)} LAST\r\n".encode() + tail)
    code, lines = s.reply()
    assert code == 553 and lines[0].startswith("553 5.7.1"), lines
    time.sleep(1)
    assert sub.messages(BOB) == [] and sub.queue_files() == []


FROM_JUNK = [
    f"{ALICE} <{BOB}>",
    f"<{ALICE}> <{BOB}>",
    f"Alice <{ALICE}> <{BOB}>",
    f"{ALICE} {BOB}",
    f"{ALICE} (unclosed <{BOB}>",
    f"{ALICE}\r{BOB}",
    f"{ALICE}\rFrom: {BOB}",
]


def test_header_from_with_junk_beside_the_address_is_refused(sub):
    """Only the first address of these was the user's; other readers take the rest for the
    sender: a From not read whole as a mailbox list is nobody's (553), and nothing goes out."""
    s = logged_in(sub)
    for value in FROM_JUNK:
        data = f"From: {value}\r\nTo: <{BOB}>\r\nSubject: junk\r\n\r\nbody\r\n".encode()
        lines = send(s, ALICE, [BOB], data, expect=553)
        assert lines[0].startswith("553 5.7.1"), (value, lines)
    send(s, ALICE, [BOB], f"From: Alice <{ALICE}>\r\nTo: <{BOB}>\r\n\r\nok\r\n".encode())
    s.close()
    assert len(sub.wait_messages(BOB, 1)) == 1  # only the clean one went out


def test_obsolete_from_with_space_before_the_colon_is_checked(sub):
    """RFC 5322 sec 4.5: "From :" is a From too (obs-optional); it is checked like one."""
    s = logged_in(sub)
    send(s, ALICE, [BOB], f"To: <{BOB}>\r\nFrom : <{BOB}>\r\nSubject: obs\r\n\r\nx\r\n".encode(),
         expect=553)
    send(s, ALICE, [BOB], f"To: <{BOB}>\r\nFrom\t: <{ALICE}>\r\nSubject: obs\r\n\r\nx\r\n".encode())
    (raw,) = sub.wait_messages(BOB, 1)
    head = raw.split(b"\n\n", 1)[0].split(b"\n")
    assert [l for l in head if l.lower().startswith(b"from")] == [f"From\t: <{ALICE}>".encode()], head
    s.close()


def test_folded_first_line_on_port_25_starts_the_body(sub):
    """smtpd has no header policy to refuse with: an empty line after its Received: makes
    such content the body, so it cannot continue our trace field."""
    import smtplib
    c = smtplib.SMTP("127.0.0.1", sub.ports["smtp"], timeout=30)
    c.sendmail("x@remote.example", [BOB], b"\t(injected into your Received)\r\nFrom: <x@remote.example>\r\n"
               b"\r\nbody\r\n")
    c.quit()
    (raw,) = sub.wait_messages(BOB, 1)
    head, body = raw.split(b"\n\n", 1)
    assert b"injected" not in head and body.startswith(b"\t(injected into your Received)\n"), raw


def test_folded_first_line_cannot_continue_our_received(sub):
    """A message whose first line starts with white space would continue the Received:
    field above it (RFC 5322 sec 2.2): submission refuses it."""
    s = logged_in(sub)
    data = (f"\t(Authenticated sender: ceo@{DOMAIN})\r\nFrom: <{ALICE}>\r\nTo: <{BOB}>\r\n"
            "Subject: inject\r\n\r\nx\r\n").encode()
    lines = send(s, ALICE, [BOB], data, expect=554)
    assert lines[0].startswith("554 5.6.0"), lines
    s.close()


def test_line_that_is_no_field_ends_the_header_section_for_every_reader(sub):
    """A line that is neither a field nor a continuation ends the header section; the fields
    submission adds go before it, and an empty line after them, so a From further down is
    body for every reader, never a second From."""
    s = logged_in(sub)
    data = (f"To: <{BOB}>\r\nSubject: s\r\nGarbage line without colon\r\nFrom: <{BOB}>\r\n"
            "\r\nx\r\n").encode()
    send(s, ALICE, [BOB], data)
    (raw,) = sub.wait_messages(BOB, 1)
    head, body = raw.split(b"\n\n", 1)
    assert f"From: <{ALICE}>".encode() in head and BOB.encode() + b">\n" not in head.split(b"To:")[0]
    assert body.startswith(b"Garbage line without colon\nFrom: <" + BOB.encode() + b">\n"), raw
    parsed = email.message_from_bytes(raw)
    assert parsed.get_all("From") == [f"<{ALICE}>"], parsed.get_all("From")
    s.close()


def test_auth_parameter_of_mail_from_is_taken(sub):
    """RFC 4954 sec 5: MTAs relaying through a smarthost send AUTH=<> (or an xtext mailbox)."""
    s = logged_in(sub)
    for param in ("AUTH=<>", f"AUTH={ALICE}"):
        code, lines = s.cmd(f"MAIL FROM:<{ALICE}> {param}")
        assert code == 250, lines
        assert s.cmd("RSET")[0] == 250
    assert s.cmd(f"MAIL FROM:<{ALICE}> AUTH=a+2")[0] == 501
    s.close()


def test_line_too_long_ends_the_auth_exchange(sub):
    """RFC 4954 sec 4: a response the server cannot use ends the exchange; the next line is
    a command again, not a password to count as a failed login."""
    s = Smtp(sub)
    s.ehlo()
    s.starttls()
    s.ehlo()
    assert s.cmd("AUTH PLAIN")[0] == 334
    code, lines = s.cmd("A" * 100000)
    assert code == 500, lines
    assert s.cmd("NOOP")[0] == 250
    assert "authentication failed" not in sub.log()
    s.close()


def test_acting_as_another_user_is_a_failed_login_named_in_the_log(sub):
    """RFC 4616: an authzid other than the authcid is refused (535) and logged under the
    name that tried, not as an unreadable one (fail2ban and the operator see who it was)."""
    s = Smtp(sub)
    s.ehlo()
    s.starttls()
    s.ehlo()
    code, lines = s.cmd(f"AUTH PLAIN {plain(ALICE, PASSWORD, authzid=BOB)}")
    assert code == 535, lines
    s.close()
    sub.wait_log(f"authentication failed: user=<{ALICE}>, method=PLAIN")
    assert PASSWORD not in sub.log()
