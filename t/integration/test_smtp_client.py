"""smtp-client (doc/smtp-client.md; RFC 5321 sec 5, RFC 7505): mail for other domains goes
to the MX hosts a real DNS server names, in preference order, with failover, bounces and
deferrals reported as qmgr reports local ones. Everything runs on loopback: a private
`unbound` with the test zones (mx_lab.LoopbackDNS, no upstream) and scripted peer MTAs on
port 25 of 127.A.B.x (mx_lab.PeerMTA)."""
import os
import re
import time

import pytest

from conftest import BIN, DOMAIN, make_instance, parse, run
from mx_lab import UNBOUND, LoopbackDNS, PeerMTA, address_block

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

    def start(self, zones, **params):
        self.dns = LoopbackDNS(zones).start()
        self.inst = make_instance()
        self.inst.add_user(ALICE)
        self.inst.enable_smtp_client(self.dns.resolver, **params)
        self.inst.start()
        return self.inst

    def close(self):
        for p in self.peers:
            p.stop()
        if self.inst:
            self.inst.close()
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

