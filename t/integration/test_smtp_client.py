"""smtp-client (doc/smtp-client.md; RFC 5321 sec 5, RFC 7505): mail for other domains goes
to the MX hosts a real DNS server names, in preference order, with failover, bounces and
deferrals reported as qmgr reports local ones. Everything runs on loopback: a private
`unbound` with the test zones (mx_lab.LoopbackDNS, no upstream) and scripted peer MTAs on
port 25 of 127.A.B.x (mx_lab.PeerMTA)."""
import os
import socket
import re
import time

import pytest

from conftest import BIN, DOMAIN, make_instance, parse, run
from mx_lab import UNBOUND, LoopbackDNS, PeerMTA, address_block
from queue_file import new_queue_id, record, write_queue_file

pytestmark = pytest.mark.skipif(not UNBOUND, reason="unbound is not installed (t/deps)")

ALICE = "alice@" + DOMAIN


class Lab:
    """A DNS server, a block of loopback addresses and an instance whose smtp-client asks
    that server."""

    def __init__(self):
        self.net = address_block()
        self.peers = []
        self.dns = None
        self.inst = None

    def addr(self, n):
        return f"{self.net}{n}"

    def peer(self, n, **kw):
        p = PeerMTA(self.addr(n), **kw).start()
        self.peers.append(p)
        return p

    def start(self, zones, signed=None, setup=None, **params):
        """Start the DNS server and the instance; setup(inst) runs before the instance starts
        (tables to build: a reload afterwards would race the first deliveries)."""
        self.dns = LoopbackDNS(zones, signed).start()
        self.inst = make_instance()
        self.inst.add_user(ALICE)
        if signed:
            params.setdefault("dns_trust_anchor_file", self.dns.trust_anchor)
        self.inst.enable_smtp_client(self.dns.resolver, **params)
        if setup:
            setup(self.inst)
        self.inst.start()
        return self.inst

    def close(self):
        try:
            for p in self.peers:
                p.stop()
            if self.inst:
                self.inst.close()  # fails the test on an undeclared daemon death
        finally:
            if self.dns:
                self.dns.stop()


@pytest.fixture
def lab():
    lab = Lab()
    try:
        yield lab
    finally:
        lab.close()


def send(inst, rcpts, subject="test", sender=ALICE, body="hello\n"):
    """Queue a message with the sendmail front end (smtpd relays for nobody)."""
    msg = (f"From: <{sender}>\nTo: <{rcpts[0]}>\nSubject: {subject}\n"
           f"Message-ID: <{subject.replace(' ', '.')}@example.test>\n\n{body}")
    env = dict(os.environ, POSTHORN_CONFIG=str(inst.etc))
    run([str(BIN / "sendmail"), "-f", sender, *rcpts], input=msg, env=env)


def status_lines(inst, rcpt):
    return [l for l in inst.log().splitlines() if f"to=<{rcpt}>" in l and "status=" in l]


def wait_status(inst, rcpt, status, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in status_lines(inst, rcpt):
            if f"status={status}" in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no status={status} for {rcpt}\n{inst.log()[-4000:]}")


def test_delivers_to_the_mx_host(lab):
    peer = lab.peer(2)
    inst = lab.start({"one.example": [f"one.example. MX 10 mx.one.example.",
                                      f"mx.one.example. A {lab.addr(2)}"]})
    send(inst, ["bob@one.example"], "first")
    (txn,) = peer.wait_delivered(1)
    assert txn.mail.startswith(f"MAIL FROM:<{ALICE}>")
    assert txn.rcpts == ["RCPT TO:<bob@one.example>"]
    assert b"Subject: first" in txn.data
    line = wait_status(inst, "bob@one.example", "sent")
    assert f"relay=mx.one.example[{lab.addr(2)}]:25," in line
    assert "dsn=2.0.0" in line and "(250 2.0.0 Ok: queued as PEER1)" in line
    inst.wait_queue_empty()



def zone(domain, mx, hosts):
    """Records for DOMAIN: MX (pref, host) pairs and host -> address."""
    recs = [f"{domain}. MX {p} {h}." for p, h in mx]
    recs += [f"{h}. A {a}" for h, a in hosts.items()]
    return recs


def dsn_parts(raw):
    """(human text, {field: value} of the first per-recipient block) of a DSN."""
    msg = parse(raw)
    assert msg.get_content_type() == "multipart/report", raw[:500]
    parts = msg.get_payload()
    text = parts[0].get_payload(decode=True).decode()
    status = parts[1].get_payload()
    blocks = [dict(m.items()) for m in status] if isinstance(status, list) else []
    return text, blocks[1] if len(blocks) > 1 else {}


def test_preference_order(lab):
    best, backup = lab.peer(2), lab.peer(3)
    inst = lab.start({"pref.example": zone("pref.example", [(20, "backup.pref.example"),
                                                             (10, "best.pref.example")],
                                           {"best.pref.example": lab.addr(2),
                                            "backup.pref.example": lab.addr(3)})})
    for i in range(5):
        send(inst, [f"u{i}@pref.example"], f"pref {i}")
    best.wait_delivered(5)
    inst.wait_queue_empty()
    assert backup.delivered() == [] and backup.sessions == []


@pytest.mark.parametrize("trouble", ["refused", "421", "451"])
def test_failover_to_the_next_mx(lab, trouble):
    backup = lab.peer(3)
    if trouble != "refused":  # refused: nothing listens on the primary's address
        primary = lab.peer(2)
        if trouble == "421":
            primary.greeting = (421, "4.3.2 Service not available, closing channel")
        else:
            primary.rcpt = lambda a: (451, "4.3.0 try again later")
    inst = lab.start({"fo.example": zone("fo.example", [(10, "mx1.fo.example"),
                                                         (20, "mx2.fo.example")],
                                         {"mx1.fo.example": lab.addr(2),
                                          "mx2.fo.example": lab.addr(3)})})
    send(inst, ["a@fo.example", "b@fo.example"], "failover")
    (txn,) = backup.wait_delivered(1)
    assert sorted(txn.rcpts) == ["RCPT TO:<a@fo.example>", "RCPT TO:<b@fo.example>"]
    for rcpt in ("a@fo.example", "b@fo.example"):
        assert f"relay=mx2.fo.example[{lab.addr(3)}]:25" in wait_status(inst, rcpt, "sent")
    inst.wait_queue_empty()
    if trouble == "refused":
        assert f"connect to mx1.fo.example[{lab.addr(2)}]:25: Connection refused" in inst.log()
    else:
        assert len(primary.sessions) == 1 and primary.delivered() == []


def test_equal_preference_spreads_the_load(lab):
    a, b = lab.peer(2), lab.peer(3)
    inst = lab.start({"eq.example": zone("eq.example", [(10, "a.eq.example"), (10, "b.eq.example")],
                                         {"a.eq.example": lab.addr(2), "b.eq.example": lab.addr(3)})},
                     smtp_connection_cache_on_demand="no")
    n = 200
    for i in range(n):
        send(inst, [f"r{i}@eq.example"], f"spread {i}")
    deadline = time.time() + 120
    while time.time() < deadline and len(a.delivered()) + len(b.delivered()) < n:
        time.sleep(0.2)
    na, nb = len(a.delivered()), len(b.delivered())
    assert na + nb == n, (na, nb)
    assert na >= n / 3 and nb >= n / 3, (na, nb)  # a random order among equal preferences
    inst.wait_queue_empty()


def test_no_mx_uses_the_domain_address(lab):
    peer = lab.peer(2)
    inst = lab.start({"plain.example": [f"plain.example. A {lab.addr(2)}"]})
    send(inst, ["x@plain.example"], "implicit")
    peer.wait_delivered(1)
    assert f"relay=plain.example[{lab.addr(2)}]:25" in wait_status(inst, "x@plain.example", "sent")


def test_null_mx_bounces_at_once(lab):
    inst = lab.start({"null.example": ["null.example. MX 0 ."]})
    send(inst, ["x@null.example"], "null mx")
    line = wait_status(inst, "x@null.example", "bounced")
    assert "dsn=5.1.10" in line and "Domain null.example does not accept mail (nullMX)" in line
    text, block = dsn_parts(inst.wait_messages(ALICE, 1)[0])
    assert block["Status"] == "5.1.10" and "nullMX" in block["Diagnostic-Code"]


def test_nonexistent_domain_bounces(lab):
    inst = lab.start({"nowhere.example": []})
    send(inst, ["x@gone.nowhere.example"], "nxdomain")
    line = wait_status(inst, "x@gone.nowhere.example", "bounced")
    assert "dsn=5.4.4" in line and "Host or domain name not found" in line


def test_dns_trouble_defers(lab):
    dead = LoopbackDNS({})  # never started: a resolver address where nothing answers
    dead.stop()  # (only its free port is used)
    inst = lab.start({}, setup=lambda inst: inst.set_conf(dns_resolver=dead.resolver,
                                                          dns_timeout="3s"))
    send(inst, ["y@exists.example"], "servfail")
    # deferred at the dns_timeout deadline (libunbound alone retries for about 30 s)
    line = wait_status(inst, "y@exists.example", "deferred", timeout=20)
    assert "dsn=4.4.3" in line and "Name service error for name=exists.example type=MX" in line
    assert "no answer within 3 s" in line, line


def test_remote_5xx_bounces_that_recipient_with_the_reply(lab):
    peer = lab.peer(2)
    peer.rcpt = lambda a: (550, f"5.1.1 <{a}>: Recipient address rejected: no such user") \
        if a.startswith("nobody@") else None
    inst = lab.start({"rj.example": zone("rj.example", [(10, "mx.rj.example")],
                                         {"mx.rj.example": lab.addr(2)})})
    send(inst, ["nobody@rj.example", "carol@rj.example"], "partly rejected")
    (txn,) = peer.wait_delivered(1)
    assert txn.rcpts == ["RCPT TO:<carol@rj.example>"]
    line = wait_status(inst, "nobody@rj.example", "bounced")
    assert "dsn=5.1.1" in line and f"relay=mx.rj.example[{lab.addr(2)}]:25" in line
    assert (f"(host mx.rj.example[{lab.addr(2)}] said: 550 5.1.1 <nobody@rj.example>: Recipient "
            "address rejected: no such user (in reply to RCPT TO command))") in line
    wait_status(inst, "carol@rj.example", "sent")
    text, block = dsn_parts(inst.wait_messages(ALICE, 1)[0])
    assert block["Final-Recipient"] == "rfc822; nobody@rj.example"
    assert block["Status"] == "5.1.1"
    assert "550 5.1.1 <nobody@rj.example>: Recipient address rejected" in block["Diagnostic-Code"]
    # RFC 3464 sec 2.3.5, 2.3.6: the server named, its reply as an smtp diagnostic
    assert block["Remote-MTA"] == "dns; mx.rj.example"
    assert block["Diagnostic-Code"] == ("smtp; 550 5.1.1 <nobody@rj.example>: Recipient address "
                                        "rejected: no such user")
    inst.wait_queue_empty()


def test_temporary_failure_is_retried_and_delivered_once(lab):
    peer = lab.peer(2)
    tries = []

    def rcpt(a):
        tries.append(a)
        return (451, "4.7.1 greylisted, come back later") if len(tries) <= 2 else None
    peer.rcpt = rcpt
    inst = lab.start({"grey.example": zone("grey.example", [(10, "mx.grey.example")],
                                           {"mx.grey.example": lab.addr(2)})})
    send(inst, ["x@grey.example"], "greylisted")
    line = wait_status(inst, "x@grey.example", "deferred")
    assert "dsn=4.7.1" in line and "greylisted" in line
    wait_status(inst, "x@grey.example", "sent", timeout=60)
    inst.wait_queue_empty()
    time.sleep(1)
    assert len(peer.delivered()) == 1 and len(tries) == 3


def test_2xx_reply_to_data_is_no_delivery(lab):
    """RFC 5321 sec 4.3.2: DATA's positive reply is 354. A server that answers 250 (broken,
    or its replies out of step) has not got the message: deferred 4.5.0, never "sent"."""
    peer = lab.peer(2)
    peer.data_command_reply = (250, "2.0.0 sure")
    inst = lab.start({"odd.example": zone("odd.example", [(10, "mx.odd.example")],
                                          {"mx.odd.example": lab.addr(2)})})
    send(inst, ["x@odd.example", "y@odd.example"], "odd data reply", body="the body\n")
    for rcpt in ("x@odd.example", "y@odd.example"):
        line = wait_status(inst, rcpt, "deferred")
        assert "dsn=4.5.0" in line and "unexpected reply to DATA" in line, line
    assert not any("status=sent" in l for r in ("x@odd.example", "y@odd.example")
                   for l in status_lines(inst, r))
    peer.data_command_reply = None
    inst.posthorn("queue", "flush")
    (txn,) = peer.wait_delivered(1)
    assert b"the body" in txn.data and len(txn.rcpts) == 2
    inst.wait_queue_empty()


def test_long_lines_are_broken_at_998(lab):
    """RFC 5321 sec 4.5.3.1.6: no line over 998 octets goes out; a longer one is broken with
    CR LF SP (smtp_line_length_limit, as Postfix), by DATA and by BDAT alike."""
    from mx_lab import DEFAULT_EXTS
    peer, chunking = lab.peer(2), lab.peer(3, exts=DEFAULT_EXTS + ("CHUNKING",))
    inst = lab.start({"long.example": zone("long.example", [(10, "mx.long.example")],
                                           {"mx.long.example": lab.addr(2)}),
                      "bdat.example": zone("bdat.example", [(10, "mx.bdat.example")],
                                           {"mx.bdat.example": lab.addr(3)})})
    line = "".join(chr(ord("a") + i % 26) for i in range(2500))
    send(inst, ["x@long.example"], "long line", body=line + "\nshort\n")
    send(inst, ["y@bdat.example"], "long line bdat", body=line + "\nshort\n")
    for p, verb in ((peer, "DATA"), (chunking, "BDAT")):
        (txn,) = p.wait_delivered(1)
        assert any(c.startswith(verb) for c in txn.session["commands"]), verb
        lines = txn.data.split(b"\r\n")
        assert max(len(l) for l in lines) <= 998, (verb, [len(l) for l in lines])
        body = txn.data.split(b"\r\n\r\n", 1)[1]
        assert body.replace(b"\r\n ", b"") == (line + "\r\nshort\r\n").encode(), verb


def test_mx_pointing_at_ourselves_loops_back(lab):
    backup = lab.peer(2)
    inst = lab.start({"loop.example": ["loop.example. MX 10 mail.example.test."],
                      # our name at 10 cuts the list: the backup at 20 is not better
                      "cut.example": ["cut.example. MX 10 mail.example.test.",
                                      "cut.example. MX 20 backup.cut.example.",
                                      f"backup.cut.example. A {lab.addr(2)}"],
                      # an address of ours (127.0.0.1 is an interface address)
                      "addr.example": ["addr.example. MX 10 mx.addr.example.",
                                       "mx.addr.example. A 127.0.0.1"]})
    for dom in ("loop", "cut", "addr"):
        send(inst, [f"x@{dom}.example"], f"loop {dom}")
        line = wait_status(inst, f"x@{dom}.example", "bounced")
        assert "dsn=5.4.6" in line and f"mail for {dom}.example loops back to myself" in line
    assert backup.sessions == []


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_address_literal_of_ours_loops_back(lab):
    """user@[127.0.0.1] and user@[IPv6:::1] name this host (RFC 5321 sec 4.1.3): bounced as a
    loop, where it used to connect to its own port 25 ("[IPv6:..." was even looked up in DNS
    as the name "ipv6:::1")."""
    inst = lab.start({})
    rcpts = ["x@[127.0.0.1]"] + (["y@[IPv6:::1]"] if has_ipv6_loopback() else [])
    for rcpt in rcpts:
        send(inst, [rcpt], f"literal {rcpt[0]}")
        line = wait_status(inst, rcpt, "bounced")
        domain = rcpt.split("@")[1].lower()
        assert "dsn=5.4.6" in line and f"mail for {domain} loops back to myself" in line, line


def test_relayhost_in_brackets_skips_the_mx_lookup(lab):
    peer = lab.peer(2, port=2525)
    # The domain's MX points elsewhere; relayhost wins and is used as an address.
    inst = lab.start({"far.example": ["far.example. MX 10 nowhere.far.example."]},
                     relayhost=f"[{lab.addr(2)}]:2525")
    send(inst, ["x@far.example"], "smarthost")
    peer.wait_delivered(1)
    assert f"relay={lab.addr(2)}[{lab.addr(2)}]:2525" in wait_status(inst, "x@far.example", "sent")


def test_one_connection_carries_several_messages(lab):
    peer = lab.peer(2)
    inst = lab.start({"reuse.example": zone("reuse.example", [(10, "mx.reuse.example")],
                                            {"mx.reuse.example": lab.addr(2)})},
                     smtp_destination_concurrency_limit="1", smtp_connection_cache_time_limit="10s")
    for i in range(6):
        send(inst, [f"r{i}@reuse.example"], f"reuse {i}")
    peer.wait_delivered(6)
    inst.wait_queue_empty()
    assert len(peer.sessions) < 6, [s["commands"] for s in peer.sessions]
    assert peer.max_connected == 1  # smtp_destination_concurrency_limit


def inject(inst, sender, rcpts, content, attrs=()):
    """Put a queue file straight into incoming/ (doc/queue-format.md), for envelopes the
    front ends cannot make: rcpts are (address, orcpt, notify) triples."""
    qid = new_queue_id()
    out = [record(b"V", b"1"), record(b"T", b"%d.000000" % int(time.time())),
           record(b"S", sender.encode())]
    out += [record(b"A", a.encode()) for a in attrs]
    out += [record(b"R", "\0".join(r).encode()) for r in rcpts]
    out += [record(b"M"), record(b"B", content), record(b"E")]
    tmp = inst.spool / "tmp" / qid
    write_queue_file(tmp, b"".join(out), inst.spool / "incoming")
    os.rename(tmp, inst.spool / "incoming" / qid)
    return qid


def test_dsn_parameters_are_passed_on(lab):
    peer = lab.peer(2)
    inst = lab.start({"dsn.example": zone("dsn.example", [(10, "mx.dsn.example")],
                                          {"mx.dsn.example": lab.addr(2)})},
                     smtp_connection_cache_on_demand="no")  # each message sees new EHLO keywords
    inject(inst, ALICE, [("x@dsn.example", "rfc822;X+2Bold@dsn.example", "SUCCESS,FAILURE"),
                         ("y@dsn.example", "", "NEVER"), ("z@dsn.example", "", "")],
           b"Subject: dsn\n\nbody\n", attrs=["envid=QQ+2B123", "ret=HDRS"])
    (txn,) = peer.wait_delivered(1)
    assert txn.mail == f"MAIL FROM:<{ALICE}> SIZE=22 RET=HDRS ENVID=QQ+2B123"
    assert txn.rcpts == ["RCPT TO:<x@dsn.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;X+2Bold@dsn.example",
                         "RCPT TO:<y@dsn.example> NOTIFY=NEVER", "RCPT TO:<z@dsn.example>"]
    assert txn.data == b"Subject: dsn\r\n\r\nbody\r\n"
    # Without DSN at the peer the parameters stay home.
    peer.exts.remove("DSN")
    inject(inst, ALICE, [("x@dsn.example", "rfc822;x@dsn.example", "FAILURE")], b"Subject: 2\n\n.\n",
           attrs=["envid=E2", "ret=FULL"])
    txn = peer.wait_delivered(2)[1]
    assert txn.mail == f"MAIL FROM:<{ALICE}> SIZE=17" and txn.rcpts == ["RCPT TO:<x@dsn.example>"]
    assert txn.data == b"Subject: 2\r\n\r\n.\r\n"  # the lone dot was stuffed on the wire
    inst.wait_queue_empty()
    # NOTIFY=SUCCESS: the first message's next hop got it and reports itself (RFC 3461 sec
    # 4.1); to a next hop without DSN we report, with the action "relayed" (RFC 3464).
    assert inst.messages(ALICE) == []
    inject(inst, ALICE, [("s@dsn.example", "", "SUCCESS")], b"Subject: 3\n\nthree\n")
    peer.wait_delivered(3)
    (report,) = inst.wait_messages(ALICE, 1)
    text, block = dsn_parts(report)
    assert block["Action"] == "relayed" and block["Final-Recipient"] == "rfc822; s@dsn.example"


def test_quoted_local_parts_stay_quoted(lab):
    peer = lab.peer(2)
    inst = lab.start({"q.example": zone("q.example", [(10, "mx.q.example")],
                                        {"mx.q.example": lab.addr(2)})})
    inject(inst, '"a b"@example.test', [('"x> y"@q.example', "", "")], b"Subject: q\n\nq\n")
    (txn,) = peer.wait_delivered(1)
    assert txn.mail.startswith('MAIL FROM:<"a b"@example.test>')
    assert txn.rcpts == ['RCPT TO:<"x> y"@q.example>']


def test_smtputf8_needed_but_not_offered_bounces_5_6_7(lab):
    peer = lab.peer(2)
    peer.exts.remove("SMTPUTF8")
    inst = lab.start({"u8.example": zone("u8.example", [(10, "mx.u8.example")],
                                         {"mx.u8.example": lab.addr(2)})},
                     smtp_connection_cache_on_demand="no")
    inject(inst, ALICE, [("jürgen@u8.example", "", ""), ("ascii@u8.example", "", "")],
           "Subject: ü\n\nü\n".encode(), attrs=["smtputf8=yes", "body=8BITMIME"])
    (txn,) = peer.wait_delivered(1)
    assert txn.rcpts == ["RCPT TO:<ascii@u8.example>"]
    assert "SMTPUTF8" not in txn.mail and "BODY=8BITMIME" in txn.mail
    line = wait_status(inst, "jürgen@u8.example", "bounced")
    assert "dsn=5.6.7" in line and "SMTPUTF8 is required, but was not offered by host" in line
    # With SMTPUTF8 at the peer the address goes through, and MAIL says SMTPUTF8.
    peer.exts.append("SMTPUTF8")
    inject(inst, ALICE, [("jürgen@u8.example", "", "")], "Subject: ü\n\nü\n".encode(),
           attrs=["smtputf8=yes", "body=8BITMIME"])
    txn = peer.wait_delivered(2)[1]
    assert txn.rcpts == ["RCPT TO:<jürgen@u8.example>"] and "SMTPUTF8" in txn.mail


def test_size_and_8bitmime_limits_of_the_peer_bounce(lab):
    peer = lab.peer(2)
    peer.exts = [e for e in peer.exts if not e.startswith("SIZE") and e != "8BITMIME"] + ["SIZE 1000"]
    inst = lab.start({"lim.example": zone("lim.example", [(10, "mx.lim.example")],
                                          {"mx.lim.example": lab.addr(2)})})
    send(inst, ["big@lim.example"], "big", body="x" * 2000 + "\n")
    line = wait_status(inst, "big@lim.example", "bounced")
    assert "dsn=5.3.4" in line and "exceeds size limit 1000 of server mx.lim.example" in line
    inject(inst, ALICE, [("eight@lim.example", "", "")], "Subject: 8\n\nä\n".encode(),
           attrs=["body=8BITMIME"])
    line = wait_status(inst, "eight@lim.example", "bounced")
    assert "dsn=5.6.3" in line and "does not announce 8BITMIME" in line
    assert peer.delivered() == []


def test_silent_server_times_out_and_the_next_mx_gets_the_mail(lab):
    silent, backup = lab.peer(2), lab.peer(3)
    silent.greeting_delay = 8
    inst = lab.start({"slow.example": zone("slow.example", [(10, "mx1.slow.example"),
                                                             (20, "mx2.slow.example")],
                                           {"mx1.slow.example": lab.addr(2),
                                            "mx2.slow.example": lab.addr(3)})},
                     smtp_helo_timeout="2s")
    send(inst, ["x@slow.example"], "silent")
    backup.wait_delivered(1)
    assert f"relay=mx2.slow.example[{lab.addr(3)}]:25" in wait_status(inst, "x@slow.example", "sent")
    assert silent.delivered() == []


def test_large_message_streams_through(lab):
    peer = lab.peer(2)
    inst = lab.start({"big.example": zone("big.example", [(10, "mx.big.example")],
                                          {"mx.big.example": lab.addr(2)})})
    lines = [f".{i:07d} " + "y" * 70 for i in range(40000)]  # 3.2 MB, every line dot-stuffed
    send(inst, ["x@big.example"], "large", body="\n".join(lines) + "\n")
    wait_status(inst, "x@big.example", "sent", timeout=60)
    (txn,) = peer.wait_delivered(1)
    body = txn.data.split(b"\r\n\r\n", 1)[1]
    assert body == ("\r\n".join(lines) + "\r\n").encode()
    wait_status(inst, "x@big.example", "sent")


def test_cached_connection_closed_by_the_server_is_replaced(lab):
    peer = lab.peer(2)
    peer.one_transaction = True
    inst = lab.start({"stale.example": zone("stale.example", [(10, "mx.stale.example")],
                                            {"mx.stale.example": lab.addr(2)})},
                     smtp_destination_concurrency_limit="1", smtp_connection_cache_time_limit="10s")
    for i in range(3):
        send(inst, [f"r{i}@stale.example"], f"stale {i}")
    peer.wait_delivered(3)
    inst.wait_queue_empty()
    log = inst.log()
    assert "status=deferred" not in log
    assert f"cached connection to mx.stale.example[{lab.addr(2)}]:25 was closed" in log


def test_internationalized_domain_is_looked_up_as_a_labels(lab):
    peer = lab.peer(2)
    inst = lab.start({"xn--bcher-kva.example": zone("xn--bcher-kva.example",
                                                    [(10, "mx.xn--bcher-kva.example")],
                                                    {"mx.xn--bcher-kva.example": lab.addr(2)})})
    inject(inst, ALICE, [("leser@bücher.example", "", "")], b"Subject: idn\n\nidn\n",
           attrs=["smtputf8=yes"])
    (txn,) = peer.wait_delivered(1)
    assert txn.rcpts == ["RCPT TO:<leser@bücher.example>"] and "SMTPUTF8" in txn.mail
    inject(inst, ALICE, [("x@☃.example", "", "")], b"Subject: bad idn\n\nx\n",
           attrs=["smtputf8=yes"])  # U+2603 is DISALLOWED in IDNA2008
    line = wait_status(inst, "x@☃.example", "bounced")
    assert "dsn=5.1.2" in line and "not a valid internationalized domain name" in line


@pytest.mark.parametrize("server", ["no pipelining", "helo only"])
def test_one_command_at_a_time(lab, server):
    peer = lab.peer(2)
    if server == "helo only":
        peer.no_ehlo = True
    else:
        peer.exts.remove("PIPELINING")
    peer.rcpt = lambda a: (550, "5.1.1 no such user") if a.startswith("no") else None
    inst = lab.start({"old.example": zone("old.example", [(10, "mx.old.example")],
                                          {"mx.old.example": lab.addr(2)})},
                     smtp_destination_concurrency_limit="1", smtp_connection_cache_time_limit="10s")
    send(inst, ["no1@old.example", "no2@old.example"], "all refused")  # no DATA, then RSET
    wait_status(inst, "no2@old.example", "bounced")
    send(inst, ["yes@old.example", "nobody@old.example"], "one refused")
    (txn,) = peer.wait_delivered(1)
    assert txn.rcpts == ["RCPT TO:<yes@old.example>"]
    wait_status(inst, "yes@old.example", "sent")
    cmds = [c.split(" ")[0] for s in peer.sessions for c in s["commands"]]
    assert cmds[0] == "EHLO" and (cmds[1] == "HELO") == (server == "helo only"), cmds
    # one connection: all refused -> no DATA, RSET before the next MAIL
    assert len(peer.sessions) == 1, cmds
    assert cmds[1:].count("DATA") == 1 and "RSET" in cmds, cmds
    assert cmds.index("RSET") < len(cmds) - cmds[::-1].index("MAIL") - 1, cmds
    if server == "helo only":  # no ESMTP: no SIZE, BODY or DSN parameters
        assert txn.mail == f"MAIL FROM:<{ALICE}>"


def test_signed_mail_leaves_with_its_signature_and_our_log_line(lab):
    """A message sendmail signed (its DKIM-Signature is a prepended record of the queue file)
    reaches the peer with the signature first, and dkimpy verifies it on the bytes the
    peer received; the delivery line is smtp-client's own (posthorn/smtp), as Postfix's
    smtp logs it."""
    from test_dkim import keygen, verify_all
    records = {}
    peer = lab.peer(2)
    inst = lab.start({"dk.example": [f"dk.example. MX 10 mx.dk.example.",
                                     f"mx.dk.example. A {lab.addr(2)}"]},
                     setup=lambda i: records.update(keygen(i, DOMAIN, "--type", "ed25519")))
    send(inst, ["carol@dk.example"], "signed", body="line one\n.dot line\n")
    (txn,) = peer.wait_delivered(1)
    assert txn.data.startswith(b"DKIM-Signature:"), txn.data[:200]
    assert verify_all(txn.data, records) == [True]
    line = wait_status(inst, "carol@dk.example", "sent")
    assert re.search(r" posthorn/smtp\[\d+\]: [0-9A-F]+: to=<carol@dk.example>, relay=mx.dk"
                     r"\.example\[[0-9.]+\]:25, delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/[0-9.]+"
                     r"/[0-9.]+, dsn=2\.0\.0, status=sent \(250 ", line), line
    assert len(status_lines(inst, "carol@dk.example")) == 1  # qmgr did not log it again
    inst.wait_queue_empty()


def test_chunking_sends_bdat_and_a_refused_chunk_fails_cleanly(lab):
    """RFC 3030: to a server with CHUNKING the content goes as BDAT chunks (CRLF line ends,
    no dot-stuffing, a large message in several chunks, the last with LAST); a refused
    chunk bounces the recipients with the server's reply, the session is reset, and the
    next message on the same connection goes through."""
    from mx_lab import DEFAULT_EXTS
    peer = lab.peer(2, exts=DEFAULT_EXTS + ("CHUNKING",))
    inst = lab.start({"ch.example": [f"ch.example. MX 10 mx.ch.example.",
                                     f"mx.ch.example. A {lab.addr(2)}"]})
    body = "".join(f".line {i} " + "x" * 70 + "\n" for i in range(3000))  # over 200 KiB
    send(inst, ["a@ch.example"], "big", body=body)
    (txn,) = peer.wait_delivered(1)
    assert txn.chunks >= 3, txn.chunks
    assert b".line 0 " in txn.data and b"\r\n.line 2999 " in txn.data  # no dot doubled
    assert b"\n" not in txn.data.replace(b"\r\n", b"")  # every line end is CRLF
    cmds = peer.sessions[0]["commands"]
    assert not any(c.upper() == "DATA" for c in cmds)
    assert any(c.upper().startswith("BDAT ") and c.upper().endswith(" LAST") for c in cmds)
    wait_status(inst, "a@ch.example", "sent")
    peer.bdat_reply = lambda t, n: (552, "5.3.4 Error: chunk too big for me") if n == 2 else None
    send(inst, ["b@ch.example"], "refused", body=body)
    line = wait_status(inst, "b@ch.example", "bounced")
    assert "552 5.3.4 Error: chunk too big for me (in reply to BDAT command)" in line, line
    peer.bdat_reply = None
    send(inst, ["c@ch.example"], "after")
    peer.wait_delivered(2)
    wait_status(inst, "c@ch.example", "sent")
    inst.wait_queue_empty()


def test_destination_rate_delay_spaces_the_deliveries(lab):
    """smtp_destination_rate_delay: one delivery at a time to the destination, each start
    at least the delay after the previous one (for receivers that throttle senders)."""
    peer = lab.peer(2)
    inst = lab.start({"slowly.example": [f"slowly.example. MX 10 mx.slowly.example.",
                                         f"mx.slowly.example. A {lab.addr(2)}"]},
                     smtp_destination_rate_delay="2s")
    for i in range(3):
        send(inst, [f"r{i}@slowly.example"], f"paced {i}")
    txns = peer.wait_delivered(3, timeout=60)
    starts = sorted(t.started for t in txns)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(g >= 1.9 for g in gaps), gaps
    assert peer.max_connected == 1
    inst.wait_queue_empty()
