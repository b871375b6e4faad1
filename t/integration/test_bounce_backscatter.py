"""Backscatter control (issue 12; doc/queue-format.md, "Delivery status notifications";
doc/operator.md, "Bounces"): a loop bounced to a sender outside our domains returns only the
headers of the message, a delivery status notification stays within
bounce_notice_size_limit however many recipients asked for it (the rest are counted), and
soft_bounce keeps mail queued that would bounce until it is switched off again (or the
message expires)."""
import re
import smtplib
import time

from conftest import DOMAIN, body_of, parse

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN
FORGED = "victim@remote.test"  # not one of our domains: the report waits for an smtp transport
MARKER = b"LOOPED-BODY-LINE "


def send_loop(instance, sender, subject):
    """A message that already went through bob's mailbox once (its Delivered-To), with a
    40 KB body, as a loop or a replayed message looks."""
    body = (MARKER + b"x" * 60 + b"\r\n") * 520
    msg = (f"Delivered-To: {BOB}\r\nFrom: <{sender}>\r\nSubject: {subject}\r\n\r\n").encode() + body
    assert len(body) > 40000
    with smtplib.SMTP("127.0.0.1", instance.ports["smtp"], timeout=30) as c:
        assert c.sendmail(sender, [BOB], msg) == {}


def report_id(instance, subject_queue_id, timeout=30):
    """Queue ID of the non-delivery notification qmgr queued for message ID."""
    pat = re.compile(re.escape(subject_queue_id) + r": sender non-delivery notification: (\w+)")
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = pat.search(instance.log())
        if m:
            return m.group(1)
        time.sleep(0.05)
    raise AssertionError(f"no report for {subject_queue_id}\n{instance.log()[-4000:]}")


def queue_id_of(instance, subject, timeout=30):
    """The queue ID smtpd gave the message whose loop bounce is logged for bob."""
    deadline = time.time() + timeout
    pat = re.compile(r"(\w+): to=<" + re.escape(BOB) + r">, .*status=bounced \(mail forwarding loop")
    while time.time() < deadline:
        ids = pat.findall(instance.log())
        if ids:
            return ids
        time.sleep(0.05)
    raise AssertionError(f"no loop bounce logged\n{instance.log()[-4000:]}")


def queued_content(instance, qid, timeout=30):
    """The content of queue file qid once it waits in deferred/ (posthorn queue show)."""
    deadline = time.time() + timeout
    while time.time() < deadline and qid not in instance.queue_files("deferred"):
        time.sleep(0.05)
    out = instance.posthorn("queue", "show", qid).stdout
    start = out.index("*** MESSAGE CONTENTS")
    return out[out.index("\n", start) + 1:out.index("*** END OF MESSAGE")]


def test_loop_from_foreign_sender_returns_headers_only(server):
    send_loop(server, FORGED, "loop from far")
    (orig,) = queue_id_of(server, "loop from far")
    dsn_id = report_id(server, orig)
    text = queued_content(server, dsn_id)
    assert f"To: <{FORGED}>" in text
    assert "Status: 5.4.6" in text and "Action: failed" in text
    assert "Content-Type: text/rfc822-headers" in text
    assert "message/rfc822" not in text
    assert "Subject: loop from far" in text  # the headers are there
    assert MARKER.decode() not in text      # the body is not
    assert len(text) < 8000, len(text)

    # The same loop from one of our own users returns the whole message, as before.
    send_loop(server, ALICE, "loop from home")
    (report,) = server.wait_messages(ALICE, 1)
    msg = parse(report)
    types = [p.get_content_type() for p in msg.walk()]
    assert "message/rfc822" in types and "text/rfc822-headers" not in types
    assert report.count(MARKER) == 520


def test_success_notice_for_300_recipients_stays_bounded(server):
    """NOTIFY=SUCCESS on 300 recipients with 500-character ORCPTs: one report within
    bounce_notice_size_limit (+ the returned headers and the framing), listing the first
    recipients and saying how many more were not listed."""
    n = 300
    limit = int(server.conf("bounce_notice_size_limit"))
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=60) as c:
        c.ehlo("client.example.test")
        code, _ = c.mail(ALICE)
        assert code == 250
        for i in range(n):
            local = f"bob+{i}"
            xlocal = f"bob+2B{i}+2B"  # xtext of "bob+I+" (RFC 3461 section 4)
            pad = 500 - len(f"rfc822;{xlocal}@example.test")
            orcpt = f"rfc822;{xlocal}{'p' * pad}@example.test"
            assert len(orcpt) == 500
            code, _ = c.rcpt(f"{local}@{DOMAIN}", options=["NOTIFY=SUCCESS", f"ORCPT={orcpt}"])
            assert code == 250, (i, code, _)
        code, _ = c.data(b"Subject: to many\r\n\r\nhello\r\n")
        assert code == 250
    (raw,) = server.wait_messages(ALICE, 1)
    server.wait_queue_empty()
    report = body_of(raw)
    msg = parse(report)
    status = [p for p in msg.walk() if p.get_content_type() == "message/delivery-status"][0]
    blocks = [dict(b.items()) for b in status.get_payload()]
    listed = len(blocks) - 1
    assert 0 < listed < n
    assert blocks[0]["X-Posthorn-Unlisted-Recipients"] == str(n - listed)
    assert [b["Final-Recipient"] for b in blocks[1:4]] == [
        f"rfc822; bob+{i}@{DOMAIN}" for i in range(3)]
    assert all(len(b["Original-Recipient"]) <= len("rfc822;") + 256 for b in blocks[1:])
    text = msg.get_payload()[0].get_payload()
    assert f"{n - listed} more recipients are not listed" in text
    # The bound of doc/queue-format.md; the returned part is the headers of a tiny message.
    assert len(report) <= limit + 4096 + 1000, len(report)


def start_with_lost_alias(instance, **conf):
    instance.add_user(ALICE)
    (instance.etc / "aliases").write_text("lost@example.test: missing@example.test\n")
    instance.posthorn("map", "build", str(instance.etc / "aliases"))
    instance.set_conf(**conf)
    instance.start()
    with smtplib.SMTP("127.0.0.1", instance.ports["smtp"], timeout=30) as c:
        c.sendmail(ALICE, ["lost@example.test"], b"Subject: to lost\r\n\r\nkeep me\r\n")


DEFERRED = re.compile(r"(\w+): to=<lost@example\.test>, relay=local, .*dsn=4\.1\.1, "
                      r"status=deferred \(unknown user: missing@example\.test\)")


def test_soft_bounce_keeps_mail_queued_until_switched_off(instance):
    start_with_lost_alias(instance, soft_bounce="yes")
    deadline = time.time() + 30
    while time.time() < deadline and len(DEFERRED.findall(instance.log())) < 2:
        time.sleep(0.1)
    ids = DEFERRED.findall(instance.log())
    assert len(ids) >= 2 and len(set(ids)) == 1, instance.log()[-3000:]  # retried, same message
    qid = ids[0]
    deadline = time.time() + 30
    while time.time() < deadline and qid not in instance.queue_files("deferred"):
        time.sleep(0.05)
    assert qid in instance.queue_files("deferred")
    defer_log = (instance.spool / "defer" / qid).read_text()
    assert "dsn_0=4.1.1" in defer_log and "reason_0=unknown user: missing@example.test" in defer_log
    assert "status=bounced" not in instance.log()
    assert instance.messages(ALICE) == []

    instance.set_conf(soft_bounce="no")
    instance.reload()
    instance.wait_log(f"{qid}: to=<lost@example.test>, relay=local")
    instance.wait_log("dsn=5.1.1, status=bounced (unknown user: missing@example.test)")
    (raw,) = instance.wait_messages(ALICE, 1)
    status = [p for p in parse(raw).walk() if p.get_content_type() == "message/delivery-status"][0]
    assert [dict(b.items()) for b in status.get_payload()][1]["Status"] == "5.1.1"
    instance.wait_queue_empty()


def test_soft_bounce_does_not_outlive_the_queue_lifetime(instance):
    """soft_bounce applies to the reply, not to the lifetime: past maximal_queue_lifetime the
    message bounces (5.4.7) with the last reason, never vanishes."""
    start_with_lost_alias(instance, soft_bounce="yes", maximal_queue_lifetime="0")
    (raw,) = instance.wait_messages(ALICE, 1)
    status = [p for p in parse(raw).walk() if p.get_content_type() == "message/delivery-status"][0]
    block = [dict(b.items()) for b in status.get_payload()][1]
    assert block["Status"] == "5.4.7"
    assert "message expired (last error: unknown user: missing@example.test)" in block["Diagnostic-Code"]
    instance.wait_queue_empty()
