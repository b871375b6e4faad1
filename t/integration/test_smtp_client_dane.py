"""DANE for SMTP (RFC 7672; doc/smtp-client.md, "DANE") at smtp_tls_security_level = dane,
against a DNSSEC-signed zone (ldns-signzone) that the loopback unbound serves and
smtp-client validates with the zone's DS record as its trust anchor: a TLSA match is
delivered with a verified TLS connection (DANE-EE by key, DANE-TA by issuer), a mismatch
or a server without STARTTLS defers and is never delivered in plaintext, and a domain
without DNSSEC goes on opportunistically."""
import tempfile
from pathlib import Path

import pytest

from mx_lab import LDNS_SIGNZONE, UNBOUND, make_ca, make_cert, spki_sha256
from test_smtp_client import lab, send, wait_status, zone  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(not (UNBOUND and LDNS_SIGNZONE),
                                reason="unbound or ldns-signzone is not installed (t/deps)")


@pytest.fixture
def pki():
    with tempfile.TemporaryDirectory(prefix="posthorn-pki-") as d:
        yield Path(d)


def signed_zone(lab, tlsa, n=2, domain="dane.example"):
    recs = [f"@ IN MX 10 mx.{domain}.", f"mx IN A {lab.addr(n)}"]
    recs += [f"_25._tcp.mx IN TLSA {t}" for t in tlsa]
    return {domain: recs}


def test_dane_ee_match_is_delivered_verified(lab, pki):
    cert = make_cert(pki, ["not-the-mx-name.example"])  # DANE-EE: names do not matter
    peer = lab.peer(2, cert=cert)
    inst = lab.start({}, signed=signed_zone(lab, [f"3 1 1 {spki_sha256(cert[0])}"]),
                     smtp_tls_security_level="dane")
    send(inst, ["x@dane.example"], "dane ok")
    (txn,) = peer.wait_delivered(1)
    assert txn.session["tls"]
    wait_status(inst, "x@dane.example", "sent")
    assert f"Verified TLS connection established to mx.dane.example[{lab.addr(2)}]:25" in inst.log()


def test_dane_ta_match_is_delivered_verified(lab, pki):
    ca = make_ca(pki)
    leaf, key = make_cert(pki, ["mx.dane.example"], ca)
    chain = pki / "chain.pem"
    chain.write_text(Path(leaf).read_text() + Path(ca[0]).read_text())
    peer = lab.peer(2, cert=(str(chain), key))
    inst = lab.start({}, signed=signed_zone(lab, [f"2 1 1 {spki_sha256(ca[0])}"]),
                     smtp_tls_security_level="dane")
    send(inst, ["x@dane.example"], "dane ta")
    peer.wait_delivered(1)
    wait_status(inst, "x@dane.example", "sent")
    assert "Verified TLS connection established to mx.dane.example" in inst.log()


def test_dane_mismatch_defers_and_never_delivers(lab, pki):
    cert = make_cert(pki, ["mx.dane.example"])
    other = make_cert(pki, ["someone.example"])
    peer = lab.peer(2, cert=cert)
    inst = lab.start({}, signed=signed_zone(lab, [f"3 1 1 {spki_sha256(other[0])}"]),
                     smtp_tls_security_level="dane")
    send(inst, ["x@dane.example"], "dane mismatch")
    line = wait_status(inst, "x@dane.example", "deferred")
    assert "dsn=4.7.5" in line and "no TLSA record of mx.dane.example" in line
    assert peer.delivered() == []
    assert all(not any(c.startswith("MAIL") for c in s["commands"]) for s in peer.sessions)


def test_dane_without_starttls_defers(lab, pki):
    cert = make_cert(pki, ["mx.dane.example"])
    peer = lab.peer(2)  # no certificate: no STARTTLS
    inst = lab.start({}, signed=signed_zone(lab, [f"3 1 1 {spki_sha256(cert[0])}"]),
                     smtp_tls_security_level="dane")
    send(inst, ["x@dane.example"], "dane no tls")
    line = wait_status(inst, "x@dane.example", "deferred")
    assert "dsn=4.7.4" in line and "TLS is required" in line
    assert peer.delivered() == []


def test_unsigned_domain_stays_opportunistic(lab, pki):
    signed_peer = lab.peer(2, cert=make_cert(pki, ["mx.dane.example"]))
    plain_peer = lab.peer(3, cert=make_cert(pki, ["whatever.example"]))
    inst = lab.start({"plain.example": zone("plain.example", [(10, "mx.plain.example")],
                                            {"mx.plain.example": lab.addr(3)})},
                     signed=signed_zone(lab, []),  # signed, but no TLSA records
                     smtp_tls_security_level="dane")
    send(inst, ["x@plain.example"], "unsigned")
    send(inst, ["y@dane.example"], "signed without tlsa")
    plain_peer.wait_delivered(1)
    signed_peer.wait_delivered(1)
    wait_status(inst, "x@plain.example", "sent")
    wait_status(inst, "y@dane.example", "sent")
    assert f"Untrusted TLS connection established to mx.plain.example[{lab.addr(3)}]" in inst.log()
