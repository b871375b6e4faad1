"""smtp-client's STARTTLS (RFC 3207) and AUTH (RFC 4954) towards peers on loopback
(doc/smtp-client.md, "TLS" and "Smart hosts"): opportunistic TLS with SNI and Postfix's
Untrusted/Trusted/Verified log lines, plaintext retry after a failed opportunistic
handshake, levels that require TLS or a verified certificate defer rather than fall back,
and AUTH to a smart host from transport_maps only inside TLS."""
import tempfile
from pathlib import Path

import pytest

from mx_lab import UNBOUND, make_ca, make_cert
from test_smtp_client import ALICE, lab, send, wait_status, zone  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(not UNBOUND, reason="unbound is not installed (t/deps)")


@pytest.fixture
def pki():
    with tempfile.TemporaryDirectory(prefix="posthorn-pki-") as d:
        yield Path(d)


def tls_zone(lab, domain="tls.example", n=2):
    return {domain: zone(domain, [(10, f"mx.{domain}")], {f"mx.{domain}": lab.addr(n)})}


def test_opportunistic_tls_with_any_certificate(lab, pki):
    peer = lab.peer(2, cert=make_cert(pki, ["self-signed.example"]))
    inst = lab.start(tls_zone(lab))
    send(inst, ["x@tls.example"], "tls")
    (txn,) = peer.wait_delivered(1)
    assert txn.session["tls"] and txn.session["sni"] == "mx.tls.example"
    wait_status(inst, "x@tls.example", "sent")
    assert (f"Untrusted TLS connection established to mx.tls.example[{lab.addr(2)}]:25: TLSv1."
            in inst.log())
    # EHLO again inside TLS (RFC 3207 sec 4.2)
    cmds = txn.session["commands"]
    assert [c.split()[0] for c in cmds[:3]] == ["EHLO", "STARTTLS", "EHLO"]


def test_verified_certificate_and_level_verify(lab, pki):
    ca = make_ca(pki)
    good = lab.peer(2, cert=make_cert(pki, ["mx.tls.example"], ca))
    wrong = lab.peer(3, cert=make_cert(pki, ["someone-else.example"], ca))
    zones = tls_zone(lab)
    zones.update(tls_zone(lab, "wrong.example", 3))
    inst = lab.start(zones, smtp_tls_CAfile=ca[0], smtp_tls_security_level="verify")
    send(inst, ["x@tls.example"], "verified")
    good.wait_delivered(1)
    wait_status(inst, "x@tls.example", "sent")
    assert f"Verified TLS connection established to mx.tls.example[{lab.addr(2)}]:25" in inst.log()
    send(inst, ["y@wrong.example"], "wrong name")
    line = wait_status(inst, "y@wrong.example", "deferred")
    assert "dsn=4.7.5" in line and "Server certificate not verified" in line
    assert f"Trusted TLS connection established to mx.wrong.example[{lab.addr(3)}]:25" in inst.log()
    assert wrong.delivered() == []
    assert all("MAIL" not in " ".join(s["commands"]) for s in wrong.sessions)


def test_tls_required_but_not_offered_defers(lab):
    peer = lab.peer(2)  # no certificate: no STARTTLS in EHLO
    inst = lab.start(tls_zone(lab), smtp_tls_security_level="encrypt")
    send(inst, ["x@tls.example"], "must encrypt")
    line = wait_status(inst, "x@tls.example", "deferred")
    assert "dsn=4.7.4" in line and "TLS is required, but was not offered by host" in line
    assert peer.delivered() == []


def test_failed_opportunistic_handshake_falls_back_to_plaintext(lab, pki):
    peer = lab.peer(2, cert=make_cert(pki, ["mx.tls.example"]))
    peer.starttls_broken = True
    inst = lab.start(tls_zone(lab))
    send(inst, ["x@tls.example"], "fallback")
    (txn,) = peer.wait_delivered(1)
    assert not txn.session["tls"] and "STARTTLS" not in txn.session["commands"]
    wait_status(inst, "x@tls.example", "sent")
    assert "trying again without TLS" in inst.log()


def build_map(inst, name, text):
    path = inst.etc / name
    path.write_text(text)
    inst.posthorn("map", "build", str(path))
    return f"lmdb:{path}"


@pytest.mark.parametrize("case", ["ok", "bad password", "no tls"])
def test_smart_host_with_auth(lab, pki, case):
    cert = None if case == "no tls" else make_cert(pki, ["smarthost.example"])
    peer = lab.peer(2, port=587, cert=cert)
    peer.auth = {"relayuser": "s3cret pass"}
    hop = f"[{lab.addr(2)}]:587"
    password = "s3cret pass" if case != "bad password" else "wrong"

    def tables(inst):  # the transport map sends smart.example through the smart host
        inst.set_conf(transport_maps=build_map(inst, "transport", f"smart.example smtp:{hop}\n"),
                      smtp_sasl_password_maps=build_map(inst, "sasl_passwd",
                                                        f"{hop} relayuser:{password}\n"))
    inst = lab.start({"smart.example": ["smart.example. MX 10 unused.smart.example."]},
                     setup=tables, smtp_sasl_auth_enable="yes")
    send(inst, ["x@smart.example"], "via smart host")
    if case == "ok":
        try:
            (txn,) = peer.wait_delivered(1)
        except AssertionError:
            raise AssertionError(inst.log()[-3000:] + repr(peer.sessions))
        assert txn.session["auth"] == "relayuser" and txn.session["tls"]
        assert f"relay={lab.addr(2)}[{lab.addr(2)}]:587" in wait_status(inst, "x@smart.example", "sent")
    else:
        line = wait_status(inst, "x@smart.example", "deferred")
        assert "dsn=4.7.0" in line and f"relay={lab.addr(2)}[{lab.addr(2)}]:587" in line
        assert peer.delivered() == []
        if case == "no tls":
            assert "the connection is not encrypted" in line
            assert all("AUTH" not in s["commands"] for s in peer.sessions)
        else:
            assert "SASL authentication failed" in line and "535 5.7.8" in line
    assert password not in inst.log()


def test_tls_policy_table_per_destination(lab, pki):
    strict = lab.peer(2)  # no STARTTLS
    relaxed = lab.peer(3)
    zones = tls_zone(lab, "strict.example", 2)
    zones.update(tls_zone(lab, "relaxed.example", 3))
    inst = lab.start(zones, smtp_tls_security_level="none", setup=lambda inst: inst.set_conf(
        smtp_tls_policy_maps=build_map(inst, "tls_policy", "strict.example encrypt\n")))
    send(inst, ["x@strict.example"], "strict")
    send(inst, ["y@relaxed.example"], "relaxed")
    wait_status(inst, "y@relaxed.example", "sent")
    assert len(relaxed.delivered()) == 1
    line = wait_status(inst, "x@strict.example", "deferred")
    assert "dsn=4.7.4" in line and "TLS is required" in line
    assert strict.delivered() == []
