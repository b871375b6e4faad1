"""Client host names in smtpd and submission (doc/smtpd.md, "Client names"): the PTR record of
the client's address, kept only when the name's addresses lead back to it (forward-confirmed
reverse DNS), in every log line and the Received: header; "unknown" otherwise, with
Postfix's warnings. The names come from a loopback DNS server (mx_lab.LoopbackDNS), the
clients connect from addresses of a locked 127.A.B.0/24 block."""
import smtplib
import socket
import struct
import threading
import time

import pytest

from conftest import DOMAIN
from mx_lab import UNBOUND, LoopbackDNS, address_block
from submission_client import PASSWORD, start_submission, tls_context

pytestmark = pytest.mark.skipif(not UNBOUND, reason="unbound is not installed")

ALICE = "alice@" + DOMAIN


@pytest.fixture
def lab(lab_factory):
    return lab_factory()


@pytest.fixture
def lab_factory(instance):
    started = []

    def start(**conf):
        p, dns = lab_dns()
        started.append(dns)
        instance.set_conf(dns_resolver=dns.resolver, **conf)
        instance.add_user(ALICE)
        instance.start()
        return instance, p
    yield start
    for dns in started:
        dns.stop()


def lab_dns():
    p = address_block()
    net = p.split(".")
    reverse = f"{net[2]}.{net[1]}.127.in-addr.arpa"
    zones = {
        reverse: [f"5.{reverse}. PTR mx.peer.test.",
                  f"6.{reverse}. PTR liar.peer.test.",
                  f"8.{reverse}. PTR 192.0.2.77.",
                  f"9.{reverse}. PTR gone.peer.test."],
        "peer.test": [f"mx.peer.test. A {p}5", f"liar.peer.test. A {p}99"],
    }
    return p, LoopbackDNS(zones).start()


def send_from(inst, source, helo="helo.peer.test"):
    s = smtplib.SMTP("127.0.0.1", inst.ports["smtp"], local_hostname=helo, timeout=30,
                     source_address=(source, 0))
    s.sendmail("s@remote.test", [ALICE], b"Subject: hi\r\n\r\nbody\r\n")
    s.quit()


def test_a_confirmed_name_is_logged_and_in_received(lab):
    inst, p = lab
    client = f"mx.peer.test[{p}5]"
    send_from(inst, p + "5")
    raw = inst.wait_messages(ALICE, 1)[0].decode()
    assert f"Received: from helo.peer.test (mx.peer.test [{p}5])" in raw, raw
    inst.wait_log(f"connect from {client}")
    inst.wait_log(f"disconnect from {client} ehlo=1 mail=1 rcpt=1 data=1 quit=1")
    log = inst.log()
    assert f": client={client}" in log, log[-3000:]
    assert "does not resolve" not in log


@pytest.mark.parametrize("host,warning", [
    ("6", "hostname liar.peer.test does not resolve to address {p}6"),  # A elsewhere
    ("9", "hostname gone.peer.test does not resolve to address {p}9: Name or service not known"),
    ("8", "numeric hostname: 192.0.2.77"),                                # an address as name
    ("7", None),                                                        # no PTR
])
def test_an_unconfirmed_name_is_unknown(lab, host, warning):
    inst, p = lab
    send_from(inst, p + host)
    raw = inst.wait_messages(ALICE, 1)[0].decode()
    assert f"(unknown [{p}{host}])" in raw, raw
    inst.wait_log(f"disconnect from unknown[{p}{host}]")
    log = inst.log()
    assert f"connect from unknown[{p}{host}]" in log
    assert f"client=unknown[{p}{host}]" in log
    assert "peer.test[" not in log, log[-3000:]
    if warning:
        assert "warning: " + warning.format(p=p) in log, log[-3000:]
    else:
        assert "warning:" not in log, log[-3000:]


@pytest.fixture
def silent_dns():
    dns = SilentDNS()
    yield dns
    dns.close()


class SilentDNS:
    """A UDP port on loopback that reads DNS questions and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.questions = 0
        self.stopped = False
        threading.Thread(target=self.read, daemon=True).start()

    @property
    def resolver(self):
        return f"127.0.0.1@{self.sock.getsockname()[1]}"

    def read(self):
        self.sock.settimeout(0.2)
        while not self.stopped:
            try:
                self.sock.recv(4096)
                self.questions += 1
            except OSError:
                pass

    def close(self):
        self.stopped = True
        self.sock.close()


def greeting_time(port, implicit=False):
    start = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    if implicit:  # the ClientHello goes out at once and waits for the lookup to end
        s = tls_context().wrap_socket(s)
    f = s.makefile("rb")
    line = f.readline()
    took = time.monotonic() - start
    s.sendall(b"QUIT\r\n")
    f.readline()
    s.close()
    return line, took


def test_a_silent_resolver_delays_the_greeting_by_the_timeout(instance, silent_dns):
    start_submission(instance, dns_resolver=silent_dns.resolver, smtpd_peername_lookup_timeout="1s")
    for service, implicit in (("smtp", False), ("smtps", True), ("submission", False)):
        line, took = greeting_time(instance.ports[service], implicit)
        assert line.startswith(b"220 "), (service, line)
        assert 0.9 <= took < 5, (service, took)
    assert silent_dns.questions > 0
    log = instance.log()
    assert log.count("connect from unknown[127.0.0.1]") >= 3, log[-3000:]
    assert "localhost[" not in log
    # A client that gives up while its name is looked up costs nothing else.
    for _ in range(5):
        socket.create_connection(("127.0.0.1", instance.ports["smtp"])).close()
    line, took = greeting_time(instance.ports["smtp"])
    assert line.startswith(b"220 ") and took < 5, (line, took)


def test_the_idle_time_counts_from_the_greeting(instance, silent_dns):
    """smtpd_timeout is the client's from the greeting on: the lookup's wait is not taken
    from it."""
    instance.set_conf(dns_resolver=silent_dns.resolver, smtpd_peername_lookup_timeout="2s",
                      smtpd_timeout="3s")
    instance.start()
    s = socket.create_connection(("127.0.0.1", instance.ports["smtp"]), timeout=30)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220 ")
    greeted = time.monotonic()
    line = f.readline()
    idle = time.monotonic() - greeted
    assert line.startswith(b"421 4.4.2 ") and idle >= 2.9, (line, idle)
    s.close()


def test_a_client_that_leaves_during_the_lookup_is_logged_in_order(instance, silent_dns):
    instance.set_conf(dns_resolver=silent_dns.resolver, smtpd_peername_lookup_timeout="3s")
    instance.start()
    c = socket.create_connection(("127.0.0.1", instance.ports["smtp"]))
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.5)  # accepted, its lookup under way
    c.close()  # a reset: the session ends before its lookup does
    instance.wait_log("disconnect from unknown[127.0.0.1] commands=0/0")
    lines = [l for l in instance.log().splitlines() if "posthorn/smtpd[" in l]
    events = [l.split(": ", 1)[1] for l in lines]
    # (the harness's own probe of the port is a session too)
    opened = 0
    for e in events:
        if e.startswith("connect from "):
            opened += 1
        elif e.startswith(("lost connection after CONNECT", "disconnect from")):
            assert opened > 0, events
        if e.startswith("disconnect from"):
            opened -= 1
    assert opened == 0, events


def test_lookups_can_be_turned_off(instance, silent_dns):
    instance.set_conf(dns_resolver=silent_dns.resolver, smtpd_peername_lookup="no")
    instance.start()
    line, took = greeting_time(instance.ports["smtp"])
    assert line.startswith(b"220 ") and took < 0.9, (line, took)
    instance.wait_log("disconnect from unknown[127.0.0.1]")
    assert silent_dns.questions == 0


def test_the_system_resolver_names_loopback_itself(instance):
    """With the default dns_resolver (system), libunbound answers the loopback reverse zone
    from its built-in local zones (RFC 6761 sec 6.3) instead of asking a name server:
    127.0.0.1 is localhost, any other 127/8 address has no name."""
    instance.add_user(ALICE)
    instance.start()
    other = address_block() + "7"
    send_from(instance, "127.0.0.1")
    send_from(instance, other)
    raws = instance.wait_messages(ALICE, 2)
    received = "".join(r.decode() for r in raws)
    assert "(localhost [127.0.0.1])" in received and f"(unknown [{other}])" in received
    instance.wait_log(f"disconnect from unknown[{other}]")
    assert "connect from localhost[127.0.0.1]" in instance.log()


def rcpt_reply(inst, source, port="smtp", login=False):
    s = smtplib.SMTP("127.0.0.1", inst.ports[port], local_hostname="helo.peer.test",
                     timeout=30, source_address=(source, 0))
    try:
        s.ehlo()
        if login:
            s.starttls(context=tls_context())
            s.login(ALICE, PASSWORD)
        s.mail(ALICE if login else "s@remote.test")
        return s.rcpt(ALICE)
    finally:
        s.close()


@pytest.mark.parametrize("rule,refused", [
    ("confirmed", {"6": "hostname", "7": "hostname", "8": "hostname", "9": "hostname"}),
    ("reverse", {"7": "reverse hostname", "8": "reverse hostname"}),
    ("no", {}),
])
def test_clients_without_a_name_can_be_refused(lab_factory, rule, refused):
    inst, p = lab_factory(smtpd_reject_unknown_client_hostname=rule)
    for host in "56789":
        code, text = rcpt_reply(inst, p + host)
        if host in refused:
            want = f"4.7.25 Client host rejected: cannot find your {refused[host]}, [{p}{host}]"
            assert (code, text.decode()) == (450, want), (host, code, text)
            inst.wait_log(f"NOQUEUE: reject: RCPT from unknown[{p}{host}]: 450 {want}; "
                          f"from=<s@remote.test> to=<{ALICE}> proto=ESMTP helo=<helo.peer.test>")
        else:
            assert code == 250, (host, code, text)


def test_a_dns_failure_refuses_for_now_and_a_login_is_exempt(instance, silent_dns):
    start_submission(instance, dns_resolver=silent_dns.resolver, smtpd_peername_lookup_timeout="1s",
                     smtpd_reject_unknown_client_hostname="reverse")
    code, text = rcpt_reply(instance, "127.0.0.1")
    assert code == 450 and b"cannot find your reverse hostname, [127.0.0.1]" in text
    code, text = rcpt_reply(instance, "127.0.0.1", port="submission", login=True)
    assert code == 250, text
