"""MTA-STS (RFC 8461; doc/smtp-client.md, "MTA-STS") on loopback: the loopback unbound
serves _mta-sts.sts.example TXT and mta-sts.sts.example A, a PolicyServer (mx_lab) serves
the policy over HTTPS on 127.A.B.10:443 with a certificate from a test CA that the
instance trusts through smtp_tls_CAfile, and peer MTAs present certificates from the same
CA. enforce defers to a peer whose certificate does not name it and delivers verified to
one whose does; testing delivers and logs; an MX host the policy does not name is not
used; a failed fetch (or a restart) keeps the cached policy; a redirect or an untrusted
policy server is no policy; an smtp_tls_policy_maps entry and DANE take precedence."""
import tempfile
import time
from pathlib import Path

import pytest

from mx_lab import LDNS_SIGNZONE, UNBOUND, PolicyServer, make_ca, make_cert, spki_sha256
from test_smtp_client import lab, send, wait_status  # noqa: F401 (fixture)
from test_smtp_client_tls import build_map

pytestmark = pytest.mark.skipif(not UNBOUND, reason="unbound is not installed (t/deps)")

D = "sts.example"
WEB = 10  # the policy server's address: lab.addr(WEB)


@pytest.fixture
def pki():
    with tempfile.TemporaryDirectory(prefix="posthorn-pki-") as d:
        d = Path(d)
        yield d, make_ca(d)


def sts_zone(lab, mx=(("mx", 2),), txt_id="1"):
    """sts.example: MX hosts (name, address number) at preferences 10, 20, ...; the
    _mta-sts record (TTL 1 s, so a changed id is seen soon) and the policy host."""
    recs = [f"{D}. MX {10 * (i + 1)} {name}.{D}." for i, (name, _) in enumerate(mx)]
    recs += [f"{name}.{D}. A {lab.addr(n)}" for name, n in mx]
    recs += [f'_mta-sts.{D}. 1 IN TXT "v=STSv1; id={txt_id}"', f"mta-sts.{D}. A {lab.addr(WEB)}"]
    return {D: recs}


def policy(mode, *mx, max_age=86400):
    return (f"version: STSv1\r\nmode: {mode}\r\n" + "".join(f"mx: {m}\r\n" for m in mx)
            + f"max_age: {max_age}\r\n")


def start(lab, pki, text, mx=(("mx", 2),), **params):
    d, ca = pki
    web = PolicyServer(lab.addr(WEB), make_cert(d, [f"mta-sts.{D}"], ca), text).start()
    lab.peers.append(web)  # stopped with the lab
    inst = lab.start(sts_zone(lab, mx), smtp_tls_CAfile=ca[0], **params)
    return inst, web


def peer(lab, pki, n, name):
    d, ca = pki
    return lab.peer(n, cert=make_cert(d, [name], ca))


def smtp_lines(log):
    return "\n".join(l for l in log.splitlines() if "posthorn/smtp[" in l)


def no_mail(p):
    return p.delivered() == [] and all(not any(c.startswith("MAIL") for c in s["commands"])
                                       for s in p.sessions)


def test_enforce_wrong_certificate_defers(lab, pki):
    p = peer(lab, pki, 2, "someone-else.example")
    inst, web = start(lab, pki, policy("enforce", f"mx.{D}"))
    send(inst, [f"x@{D}"], "enforce wrong cert")
    line = wait_status(inst, f"x@{D}", "deferred")
    assert "dsn=4.7.5" in line and "Server certificate not verified" in line, line
    assert "MTA-STS policy mode=enforce" in line
    assert no_mail(p)
    log = inst.log()
    assert f"MTA-STS policy for {D}: id=1, mode=enforce, max_age=86400, mx=mx.{D} (fetched)" in log
    assert web.requests == [(f"mta-sts.{D}", "/.well-known/mta-sts.txt")]


def test_enforce_right_certificate_delivers_verified(lab, pki):
    p = peer(lab, pki, 2, f"mx.{D}")
    inst, web = start(lab, pki, policy("enforce", f"*.{D}"))
    send(inst, [f"x@{D}"], "enforce ok")
    (txn,) = p.wait_delivered(1)
    assert txn.session["tls"]
    wait_status(inst, f"x@{D}", "sent")
    assert f"Verified TLS connection established to mx.{D}[{lab.addr(2)}]:25" in inst.log()


def test_testing_mode_delivers_and_logs(lab, pki):
    p = peer(lab, pki, 2, "someone-else.example")
    inst, web = start(lab, pki, policy("testing", f"mx.{D}"))
    send(inst, [f"x@{D}"], "testing")
    p.wait_delivered(1)
    wait_status(inst, f"x@{D}", "sent")
    assert (f"MTA-STS policy testing for {D} (id=1): would have deferred: Server certificate "
            f"not verified") in inst.log()


def test_mx_not_matching_the_policy_is_not_used(lab, pki):
    other = peer(lab, pki, 2, f"backup.{D}")  # the better MX, but not in the policy
    good = peer(lab, pki, 3, f"mx.{D}")
    inst, web = start(lab, pki, policy("enforce", f"mx.{D}"), mx=(("backup", 2), ("mx", 3)))
    send(inst, [f"x@{D}"], "mx match")
    good.wait_delivered(1)
    wait_status(inst, f"x@{D}", "sent")
    assert other.sessions == []
    assert f"MX host backup.{D} does not match the MTA-STS policy of {D} (id=1): not used" in inst.log()


def test_no_mx_matching_the_policy_defers(lab, pki):
    p = peer(lab, pki, 2, f"mx.{D}")
    inst, web = start(lab, pki, policy("enforce", "mx.elsewhere.example"))
    send(inst, [f"x@{D}"], "no mx")
    line = wait_status(inst, f"x@{D}", "deferred")
    assert "dsn=4.7.5" in line and "allows none of its MX hosts" in line, line
    assert p.sessions == []


def delivered_under_enforce(lab, pki):
    """An enforce policy fetched and cached by a first delivery: (peer, instance, server)."""
    p = peer(lab, pki, 2, f"mx.{D}")
    inst, web = start(lab, pki, policy("enforce", f"mx.{D}"))
    send(inst, [f"x@{D}"], "first")
    p.wait_delivered(1)
    wait_status(inst, f"x@{D}", "sent")
    return p, inst, web


def wait_cached(inst, policy_id):
    """The policy cache file of D holds the policy with this id (written off the loop)."""
    cached = inst.spool / "mta-sts" / D
    want = f"posthorn-mta-sts 1\nid: {policy_id}\n"
    deadline = time.time() + 10
    while time.time() < deadline:
        if cached.exists() and cached.read_text().startswith(want):
            return
        time.sleep(0.05)
    raise AssertionError(f"{cached}: no policy with id {policy_id}")


def test_failed_fetch_keeps_the_cached_policy(lab, pki):
    p, inst, web = delivered_under_enforce(lab, pki)
    # A new id in DNS, the policy server failing, and a certificate that does not verify:
    # the cached enforce policy must still hold (RFC 8461 sec 5.1).
    web.status = 500
    p.cert = make_cert(pki[0], ["someone-else.example"], pki[1])
    lab.dns.restart(sts_zone(lab, txt_id="2"))
    time.sleep(2)  # the old record's TTL (1 s) runs out in smtp-client's resolver cache
    send(inst, [f"y@{D}"], "second")
    line = wait_status(inst, f"y@{D}", "deferred")
    assert "dsn=4.7.5" in line and "Server certificate not verified" in line, line
    assert len(p.delivered()) == 1
    log = inst.log()
    assert (f"MTA-STS policy fetch for {D} failed: mta-sts.{D}: HTTP status 500; using the "
            f"cached policy (id=1, mode=enforce)") in log, smtp_lines(log)
    assert len(web.requests) == 2


def test_new_id_fetches_the_new_policy(lab, pki):
    """A changed id in the TXT record replaces the cached policy (RFC 8461 sec 5.1)."""
    p, inst, web = delivered_under_enforce(lab, pki)
    web.policy = policy("testing", f"mx.{D}")
    p.cert = make_cert(pki[0], ["someone-else.example"], pki[1])
    lab.dns.restart(sts_zone(lab, txt_id="2"))
    time.sleep(2)
    send(inst, [f"y@{D}"], "second")
    p.wait_delivered(2)
    wait_status(inst, f"y@{D}", "sent")
    log = inst.log()
    assert f"MTA-STS policy for {D}: id=2, mode=testing, max_age=86400, mx=mx.{D} (fetched)" in log
    assert f"MTA-STS policy testing for {D} (id=2): would have deferred" in log
    wait_cached(inst, "2")


def test_cached_policy_survives_a_restart(lab, pki):
    p, inst, web = delivered_under_enforce(lab, pki)
    wait_cached(inst, "1")
    web.stop()  # nothing to fetch from now on
    p.cert = make_cert(pki[0], ["someone-else.example"], pki[1])
    inst.stop()
    inst.start()
    send(inst, [f"y@{D}"], "after restart")
    line = wait_status(inst, f"y@{D}", "deferred")
    assert "dsn=4.7.5" in line and "MTA-STS policy mode=enforce" in line, line
    assert len(p.delivered()) == 1 and len(web.requests) == 1


def test_expired_policy_is_not_used(lab, pki):
    """max_age (RFC 8461 sec 3.2) bounds the cache: once it has run out and no fresh policy
    can be fetched, no policy applies (the peer's certificate would fail enforce)."""
    p = peer(lab, pki, 2, f"mx.{D}")
    inst, web = start(lab, pki, policy("enforce", f"mx.{D}", max_age=2))
    send(inst, [f"x@{D}"], "first")
    p.wait_delivered(1)
    web.status = 500
    p.cert = make_cert(pki[0], ["someone-else.example"], pki[1])
    time.sleep(3)
    send(inst, [f"y@{D}"], "after max_age")
    p.wait_delivered(2)
    wait_status(inst, f"y@{D}", "sent")
    assert (f"MTA-STS policy fetch for {D} failed: mta-sts.{D}: HTTP status 500; no MTA-STS "
            f"policy applies") in inst.log()


@pytest.mark.parametrize("trouble", ["redirect", "untrusted server", "text/html", "bad policy"])
def test_unusable_policy_is_no_policy(lab, pki, trouble):
    p = peer(lab, pki, 2, "someone-else.example")  # accepted when no policy applies
    inst, web = start(lab, pki, policy("enforce", f"mx.{D}"))
    if trouble == "redirect":
        web.redirect = f"https://mta-sts.{D}/moved/mta-sts.txt"
    elif trouble == "untrusted server":  # a certificate that does not name mta-sts.DOMAIN
        web.stop()
        web.cert = make_cert(pki[0], [f"www.{D}"], pki[1])
        web.start()
    elif trouble == "text/html":
        web.content_type = "text/html"
    else:
        web.policy = policy("enforce", f"mx.{D}").replace("STSv1", "STSv2")
    send(inst, [f"x@{D}"], trouble)
    p.wait_delivered(1)
    wait_status(inst, f"x@{D}", "sent")
    log = inst.log()
    assert f"MTA-STS policy fetch for {D} failed: " in log
    assert "no MTA-STS policy applies" in log
    expect = {"redirect": f"HTTP status 301: redirect to https://mta-sts.{D}/moved/mta-sts.txt refused",
              "untrusted server": f"mta-sts.{D}",
              "text/html": 'Content-Type "text/html" is not text/plain',
              "bad policy": "version is not STSv1"}[trouble]
    assert expect in log
    assert all(path != "/moved/mta-sts.txt" for _, path in web.requests)


def test_tls_policy_map_entry_takes_precedence(lab, pki):
    p = peer(lab, pki, 2, "someone-else.example")
    inst, web = start(lab, pki, policy("enforce", f"mx.{D}"), setup=lambda inst: inst.set_conf(
        smtp_tls_policy_maps=build_map(inst, "tls_policy", f"{D} may\n")))
    send(inst, [f"x@{D}"], "policy map")
    p.wait_delivered(1)
    wait_status(inst, f"x@{D}", "sent")
    assert web.requests == []


@pytest.mark.skipif(not LDNS_SIGNZONE, reason="ldns-signzone is not installed (t/deps)")
def test_dane_takes_precedence(lab, pki):
    """RFC 8461 sec 2: an MX host with DNSSEC-validated TLSA records is DANE's. The peer's
    self-signed certificate matches its DANE-EE record but would fail the enforce policy's
    verification (no trusted chain, not the MX name)."""
    d, ca = pki
    cert = make_cert(d, ["not-the-mx-name.example"])
    p = lab.peer(2, cert=cert)
    web = PolicyServer(lab.addr(WEB), make_cert(d, [f"mta-sts.{D}"], ca),
                       policy("enforce", f"mx.{D}")).start()
    lab.peers.append(web)
    recs = [f"@ IN MX 10 mx.{D}.", f"mx IN A {lab.addr(2)}",
            f"_25._tcp.mx IN TLSA 3 1 1 {spki_sha256(cert[0])}",
            '_mta-sts IN TXT "v=STSv1; id=1"', f"mta-sts IN A {lab.addr(WEB)}"]
    inst = lab.start({}, signed={D: recs}, smtp_tls_security_level="dane", smtp_tls_CAfile=ca[0])
    send(inst, [f"x@{D}"], "dane first")
    p.wait_delivered(1)
    wait_status(inst, f"x@{D}", "sent")
    log = inst.log()
    assert f"MTA-STS policy for {D}: id=1, mode=enforce" in log  # the policy was there
    assert f"Verified TLS connection established to mx.{D}[{lab.addr(2)}]:25" in log
