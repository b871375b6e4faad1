"""Alias loops and limits (doc/mailstore.md, local-mda): an alias loop bounces with 5.4.6
"alias loop: ADDR"; nesting deeper than alias_recursion_limit bounces with 5.4.6; more than
alias_expansion_limit addresses bounces with 5.3.0; an alias that lists itself without a
mailbox leaves that member out (and bounces 5.1.1 when it is the only one); each limit is tested at the boundary
(exactly the limit is delivered), and a bounced alias leaves no partial delivery. A
delivered alias is logged as Postfix does: one line per member, orig_to=<alias>."""
import re
import smtplib

from conftest import DOMAIN, parse
from spool_check import wait_spool_clean

ALICE = "alice@" + DOMAIN
USERS = [f"u{i}@{DOMAIN}" for i in range(1, 5)]
ALIASES = """\
loop1@example.test: loop2@example.test
loop2@example.test: loop1
c1@example.test: u1@example.test
c2@example.test: c1@example.test
chain3@example.test: c2@example.test
chain4@example.test: chain3@example.test
three@example.test: u1, u2, u3
four@example.test: u1, u2, u3, u4
selfkeep@example.test: selfkeep@example.test, u4
selfonly@example.test: selfonly
"""
CASES = {  # alias -> (dsn, reason) of the bounce, or the members it was delivered to
    "loop1": ("5.4.6", "alias loop: loop1@example.test"),
    "chain3": ["u1"],
    "chain4": ("5.4.6", "alias loop: nesting deeper than 3 at c1@example.test"),
    "three": ["u1", "u2", "u3"],
    "four": ("5.3.0", "alias expansion limit (3 addresses) exceeded"),
    # lists itself without a mailbox: left out, the other member still gets it
    "selfkeep": ["u4"],
    "selfonly": ("5.1.1", "unknown user: selfonly@example.test"),
}


def start(instance):
    instance.add_user(ALICE)
    for u in USERS:
        instance.add_user(u)
    (instance.etc / "aliases").write_text(ALIASES)
    instance.posthorn("map", "build", str(instance.etc / "aliases"))
    instance.set_conf(alias_recursion_limit="3", alias_expansion_limit="3")
    instance.start()


def bounce_line(log, rcpt):
    pat = re.compile(r": to=<" + re.escape(rcpt) + r">, relay=local, .*dsn=(\d\.\d\.\d), "
                     r"status=(\w+) \((.*)\)$")
    found = [m.groups() for m in map(pat.search, log.splitlines()) if m]
    assert len(found) == 1, (rcpt, found)
    return found[0]


def member_lines(log, alias):
    """{member: (dsn, status, reason)} of the lines posthorn/local logged for the final
    recipients of ALIAS (one per member, with orig_to=<ALIAS>)."""
    pat = re.compile(r" posthorn/local\[\d+\]: \w+: to=<([^>]*)>, orig_to=<" + re.escape(alias) +
                     r">, relay=local, .*dsn=(\d\.\d\.\d), status=(\w+) \((.*)\)$")
    found = [m.groups() for m in map(pat.search, log.splitlines()) if m]
    members = {f[0]: f[1:] for f in found}
    assert len(members) == len(found), found
    return members


def test_alias_loops_and_limits(instance):
    start(instance)
    with smtplib.SMTP("127.0.0.1", instance.ports["smtp"], timeout=30) as c:
        for alias in CASES:
            assert c.sendmail(ALICE, [f"{alias}@{DOMAIN}"],
                              f"Subject: via {alias}\r\n\r\n{alias}\r\n".encode()) == {}
    bounces = [a for a, r in CASES.items() if isinstance(r, tuple)]
    dsns = instance.wait_messages(ALICE, len(bounces))
    instance.wait_messages("u1@" + DOMAIN, 2)  # chain3 and three
    wait_spool_clean(instance)
    log = instance.log()
    for alias, expected in CASES.items():
        if isinstance(expected, list):  # one line per member, none for the alias itself
            assert member_lines(log, f"{alias}@{DOMAIN}") == {
                f"{u}@{DOMAIN}": ("2.0.0", "sent", "delivered to maildir") for u in expected}
            assert f": to=<{alias}@{DOMAIN}>" not in log
        else:
            dsn, status, reason = bounce_line(log, f"{alias}@{DOMAIN}")
            assert (dsn, status, reason) == (expected[0], "bounced", expected[1]), alias
    # Who got what: u1 chain3 and three, u2 and u3 three, u4 selfkeep (four bounced whole).
    got = {u: sorted(parse(m)["Subject"] for m in instance.messages(u)) for u in USERS}
    assert got == {USERS[0]: ["via chain3", "via three"], USERS[1]: ["via three"],
                   USERS[2]: ["via three"], USERS[3]: ["via selfkeep"]}, got
    assert "alias selfkeep@example.test lists itself but has no mailbox" in log
    # The sender got one non-delivery report per bounced alias, with its status.
    statuses = {}
    for raw in instance.messages(ALICE):
        report = parse(raw)
        assert report.get_content_type() == "multipart/report", report["Subject"]
        part = [p for p in report.walk() if p.get_content_type() == "message/delivery-status"][0]
        per_rcpt = [dict(b.items()) for b in part.get_payload()][1]
        statuses[per_rcpt["Final-Recipient"].split(";")[1].strip()] = per_rcpt["Status"]
    assert statuses == {f"{a}@{DOMAIN}": CASES[a][0] for a in bounces}, statuses
    assert len(dsns) == len(bounces)
