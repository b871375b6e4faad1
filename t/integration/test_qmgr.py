"""qmgr: delivery status notifications (NOTIFY, RET, ORCPT, ENVID), expiry, forwarding to
addresses that wait for the smtp transport, the private/qmgr protocol and corrupt queue
files. Formats: doc/queue-format.md, doc/ipc.md."""
import os
import smtplib
import socket
import time

from conftest import DOMAIN, parse

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN
ALIASES = ("lost@example.test: missing@example.test\n"
           "fwd@example.test: bob@example.test, far@remote.test\n")


def start_with_aliases(instance, **conf):
    instance.add_user(ALICE)
    instance.add_user(BOB)
    (instance.etc / "aliases").write_text(ALIASES)
    instance.posthorn("map", "build", str(instance.etc / "aliases"))
    if conf:
        instance.set_conf(**conf)
    instance.start()


def send(instance, sender, rcpts, body, mail_options=(), rcpt_options=()):
    with smtplib.SMTP("127.0.0.1", instance.ports["smtp"], timeout=30) as c:
        c.sendmail(sender, rcpts, body, mail_options=list(mail_options),
                   rcpt_options=list(rcpt_options))


def reports(msgs):
    return [m for m in map(parse, msgs) if m.get_content_type() == "multipart/report"]


def status_blocks(report):
    part = [p for p in report.walk() if p.get_content_type() == "message/delivery-status"][0]
    return [dict(b.items()) for b in part.get_payload()]


def test_success_dsn_carries_orcpt_and_envid(instance):
    start_with_aliases(instance)
    send(instance, ALICE, [BOB], b"Subject: dsn please\r\n\r\nbody text\r\n",
         mail_options=["RET=HDRS", "ENVID=env+2B1"],
         rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;Bob+2Bx@example.test"])
    instance.wait_messages(BOB, 1)
    dsn = reports(instance.wait_messages(ALICE, 1))
    assert len(dsn) == 1
    per_msg, per_rcpt = status_blocks(dsn[0])[0], status_blocks(dsn[0])[1]
    assert per_msg["Original-Envelope-Id"] == "env+1"
    assert per_msg["Reporting-MTA"].startswith("dns;")
    assert per_rcpt["Action"] == "delivered" and per_rcpt["Status"].startswith("2.")
    assert per_rcpt["Original-Recipient"] == "rfc822;Bob+x@example.test"
    types = [p.get_content_type() for p in dsn[0].walk()]
    assert "text/rfc822-headers" in types and b"body text" not in dsn[0].as_bytes()
    instance.wait_log("sender delivery status notification")
    instance.wait_queue_empty()


def test_failure_dsn_honours_notify_and_ret(instance):
    start_with_aliases(instance)
    # NOTIFY=NEVER and NOTIFY without FAILURE: bounced, but no report.
    send(instance, ALICE, ["lost@example.test"], b"Subject: never\r\n\r\nx\r\n",
         rcpt_options=["NOTIFY=NEVER"])
    send(instance, ALICE, ["lost@example.test"], b"Subject: success only\r\n\r\nx\r\n",
         rcpt_options=["NOTIFY=SUCCESS"])
    # RET=HDRS: the report returns the headers only.
    send(instance, ALICE, ["lost@example.test"], b"Subject: hdrs\r\n\r\nsecret body\r\n",
         mail_options=["RET=HDRS"])
    msgs = instance.wait_messages(ALICE, 1)
    # qmgr queues a report before it marks the recipient done, so once the queue is empty
    # every report there will be is delivered.
    instance.wait_queue_empty()
    dsn = reports(instance.messages(ALICE))
    assert len(dsn) == 1, [m["Subject"] for m in map(parse, instance.messages(ALICE))]
    assert b"secret body" not in dsn[0].as_bytes()
    assert "text/rfc822-headers" in [p.get_content_type() for p in dsn[0].walk()]
    blocks = status_blocks(dsn[0])
    assert blocks[1]["Action"] == "failed" and blocks[1]["Status"] == "5.1.1"
    assert msgs


def test_null_sender_bounce_is_discarded(instance):
    start_with_aliases(instance)
    send(instance, "", ["lost@example.test"], b"Subject: from null\r\n\r\nx\r\n")
    instance.wait_log("non-delivery notification discarded")
    instance.wait_queue_empty()
    assert instance.messages(ALICE) == []


def test_expired_message_bounces_with_5_4_7(instance):
    instance.add_user(BOB, quota=1000)
    instance.add_user(ALICE)
    instance.set_conf(maximal_queue_lifetime="0")
    instance.start()
    send(instance, ALICE, [BOB], b"Subject: fill\r\n\r\n" + b"x" * 2000 + b"\r\n")
    instance.wait_messages(BOB, 1)
    send(instance, ALICE, [BOB], b"Subject: too much\r\n\r\nmore\r\n")
    dsn = reports(instance.wait_messages(ALICE, 1))
    assert len(dsn) == 1
    block = status_blocks(dsn[0])[1]
    assert block["Status"] == "5.4.7" and "expired" in block["Diagnostic-Code"]
    instance.wait_queue_empty()


def test_forward_to_remote_waits_for_smtp_transport(instance):
    start_with_aliases(instance)
    send(instance, ALICE, ["fwd@example.test"], b"Subject: forwarded\r\n\r\nx\r\n")
    instance.wait_messages(BOB, 1)
    instance.wait_log("forwarded as")
    instance.wait_log("status=deferred (delivery temporarily suspended: no smtp transport)")
    # One look: the message goes back to active/ at each retry (every second here), so a
    # second look may find deferred/ empty.
    deadline = time.time() + 30
    while not (deferred := instance.queue_files("deferred")) and time.time() < deadline:
        time.sleep(0.1)
    (qid,) = deferred
    defer_log = (instance.spool / "defer" / qid).read_text()
    assert "rcpt_0=far@remote.test" in defer_log and "dsn_0=4.4.1" in defer_log
    show = instance.posthorn("queue", "show", qid).stdout
    assert "forwarded_by" in show and "fwd@example.test" in show
    assert reports(instance.messages(ALICE)) == []


def qmgr_request(instance, text):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(instance.spool / "private" / "qmgr"))
        buf = b""
        while b"\n\n" not in buf:
            buf += s.recv(100)
        announce, _, rest = buf.partition(b"\n\n")
        s.sendall(text)
        buf = rest
        while b"\n\n" not in buf:
            chunk = s.recv(100)
            if not chunk:
                break
            buf += chunk
        return announce, buf


def test_qmgr_protocol(server):
    announce, reply = qmgr_request(server, b"request=flush\n\n")
    assert announce == b"protocol=qmgr\nversion=1"
    assert reply == b"status=ok\n\n"
    _, reply = qmgr_request(server, b"request=explode\n\n")
    assert reply.startswith(b"status=error\n")
    # A wakeup needs no answer and the client may close at once.
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(server.spool / "private" / "qmgr"))
        s.sendall(b"request=wakeup\n\n")


def test_corrupt_queue_file_goes_to_corrupt(server):
    incoming = server.spool / "incoming"
    st = os.stat(incoming)
    qid = "0000000000001" + "ABCDE"
    path = incoming / qid
    path.write_bytes(b"V\x00\x00\x00\x011S\x00\x00\x00\x08a@b.test")  # no END record
    os.chown(path, st.st_uid, st.st_gid)
    os.chmod(path, 0o600)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(server.spool / "private" / "qmgr"))
        s.sendall(b"request=wakeup\n\n")
    server.wait_log(f"{qid}: corrupt queue file moved to corrupt/")
    assert (server.spool / "corrupt" / qid).exists()
    server.wait_queue_empty()
