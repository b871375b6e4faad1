"""Bounces: a mail to an alias whose target does not exist is accepted (the alias exists),
then bounces with an RFC 3464 DSN to the sender."""
import smtplib

from conftest import DOMAIN, parse

ALICE = "alice@" + DOMAIN


def test_missing_alias_target_bounces_with_dsn(instance):
    instance.add_user(ALICE)
    (instance.etc / "aliases").write_text("lost@example.test: missing@example.test\n"
                                          "team@example.test: alice@example.test\n")
    instance.posthorn("map", "build", str(instance.etc / "aliases"))
    instance.start()
    with smtplib.SMTP("127.0.0.1", instance.ports["smtp"], timeout=30) as c:
        c.sendmail(ALICE, ["lost@example.test"], b"Subject: to lost\r\nMessage-ID: <lost-1@example.test>\r\n\r\nhello\r\n")
        c.sendmail("x@remote.test", ["team@example.test"], b"Subject: to team\r\n\r\nteam\r\n")
    msgs = instance.wait_messages(ALICE, 2)
    by_subject = {parse(m)["Subject"]: parse(m) for m in msgs}
    assert "to team" in by_subject
    dsn = [m for m in map(parse, msgs) if m.get_content_type() == "multipart/report"]
    assert len(dsn) == 1, [m["Subject"] for m in map(parse, msgs)]
    report = dsn[0]
    assert report.get_param("report-type") == "delivery-status"
    parts = list(report.walk())
    status = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    assert status
    text = status[0].as_string()
    assert "5.1.1" in text and "Action: failed" in text
    assert "lost@example.test" in text
    assert any(p.get_content_type() in ("message/rfc822", "text/rfc822-headers") for p in parts)
    raw = [m for m in msgs if b"multipart/report" in m][0]
    assert raw.startswith(b"Return-Path: <>")
    instance.wait_log("status=bounced")
    instance.wait_queue_empty()


def test_alias_with_one_unknown_member_still_delivers_to_the_others(instance):
    """One stale member must not silence a team list: bob gets the mail, the sender gets a
    DSN for the unknown member alone, naming the alias as Original-Recipient."""
    instance.add_user(ALICE)
    instance.add_user("bob@" + DOMAIN)
    (instance.etc / "aliases").write_text("team@example.test: bob@example.test, gone@example.test\n")
    instance.posthorn("map", "build", str(instance.etc / "aliases"))
    instance.start()
    with smtplib.SMTP("127.0.0.1", instance.ports["smtp"], timeout=30) as c:
        c.sendmail(ALICE, ["team@example.test"], b"Subject: to the team\r\n\r\nhello team\r\n")
    bob = instance.wait_messages("bob@" + DOMAIN, 1)
    assert b"hello team" in bob[0]
    msgs = instance.wait_messages(ALICE, 1)
    report = parse(msgs[0])
    assert report.get_content_type() == "multipart/report"
    status = [p for p in report.walk() if p.get_content_type() == "message/delivery-status"][0].as_string()
    assert "gone@example.test" in status and "5.1.1" in status
    assert "team@example.test" in status  # Original-Recipient
    assert "bob@example.test" not in status
    instance.wait_queue_empty()
