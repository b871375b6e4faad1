"""`posthorn dns check DOMAIN` (doc/dkim.md, "Checking the records") against the loopback
unbound of mx_lab: the records `posthorn dns records --json` prints are published as they
are (the DKIM key, SPF, DMARC, MTA-STS with its policy served by a PolicyServer over HTTPS,
TLSA of the instance's certificate, the PTR of the sending address) and every check passes;
then one zone per check breaks exactly that record and the check fails with its reason
(exit status 1, --json and the text lines)."""
import json
import tempfile
from pathlib import Path

import pytest

from conftest import DOMAIN, HOSTNAME, make_instance
from mx_lab import (LDNS_SIGNZONE, UNBOUND, LoopbackDNS, PolicyServer, address_block, make_ca,
                    make_cert)

pytestmark = pytest.mark.skipif(not UNBOUND, reason="unbound is not installed (t/deps)")


class World:
    """One instance with a DKIM key, the records it asks for, a policy server and a CA."""

    def __init__(self):
        self.net = address_block()
        self.ip = self.net + "2"
        self.pki = Path(tempfile.mkdtemp(prefix="posthorn-pki-"))
        self.ca = make_ca(self.pki)
        self.inst = make_instance()
        self.inst.set_conf(smtp_tls_CAfile=self.ca[0], dns_trust_anchor_file="")
        self.inst.posthorn("dkim", "keygen", DOMAIN)
        out = self.inst.posthorn("dns", "records", DOMAIN, "--ip", self.ip, "--mta-sts-mode",
                                 "enforce", "--json").stdout
        self.records = json.loads(out)
        self.web = PolicyServer(self.net + "10", make_cert(self.pki, [f"mta-sts.{DOMAIN}"], self.ca),
                                self.records["mta_sts_policy"]).start()
        self.dns = None

    def reverse_zone(self):
        a, b = self.net.split(".")[1:3]
        return f"{b}.{a}.127.in-addr.arpa"

    def zones(self):
        """The zones as `dns records` asks for them, plus the policy host and the PTR."""
        recs = []
        for r in self.records["records"]:
            if not (r["in_zone"] and r["publish"]):
                continue
            if r["type"] == "TXT":
                recs.append(f'{r["name"]} TXT ' + " ".join(f'"{s}"' for s in r["strings"]))
            else:
                recs.append(f'{r["name"]} {r["type"]} {r["data"]}')
        recs.append(f"mta-sts.{DOMAIN}. A {self.net}10")
        ptr = [f"{self.ip.split('.')[3]}.{self.reverse_zone()}. PTR {HOSTNAME}."]
        return {DOMAIN: recs, self.reverse_zone(): ptr}

    def check(self, zones, *args, signed=None):
        """Serve ZONES (and SIGNED, DNSSEC-signed zones, whose keys become the trust
        anchor) and run dns check."""
        if self.dns:
            self.dns.stop()
        self.dns = LoopbackDNS(zones, signed).start()
        self.inst.set_conf(dns_resolver=self.dns.resolver,
                           dns_trust_anchor_file=self.dns.trust_anchor if signed else "")
        return self.inst.posthorn("dns", "check", DOMAIN, "--ip", self.ip, *args, check=False,
                                  timeout=120)

    def close(self):
        self.web.stop()
        if self.dns:
            self.dns.stop()
        self.inst.close()
        import shutil
        shutil.rmtree(self.pki, ignore_errors=True)


@pytest.fixture(scope="module")
def world():
    w = World()
    try:
        yield w
    finally:
        w.close()


def verdicts(p):
    data = json.loads(p.stdout)
    return {c["check"]: (c["status"], c["reason"]) for c in data["checks"]}, data


def test_published_records_pass(world):
    p = world.check(world.zones(), "--json")
    checks, data = verdicts(p)
    assert p.returncode == 0 and data["failures"] == 0, p.stdout
    sel = next(k for k in checks if k.startswith("dkim "))
    for name in ("mx", f"address {HOSTNAME}", "spf", f"spf {world.ip}", sel, "dmarc", "mta-sts", "tls-rpt",
                 f"tlsa _25._tcp.{HOSTNAME}", f"ptr {world.ip}"):
        assert checks[name][0] == "ok", (name, checks[name])
    assert "1 of 10 DNS lookups" not in checks["spf"][1]  # ip4 only: no lookups
    assert "0 of 10 DNS lookups" in checks["spf"][1]
    assert "mode=enforce" in checks["mta-sts"][1] and "every MX host matches" in checks["mta-sts"][1]
    assert checks[f"ptr {world.ip}"][1] == f"{world.ip} -> {HOSTNAME} -> {world.ip}"
    assert "3 1 1 matches" in checks[f"tlsa _25._tcp.{HOSTNAME}"][1]
    # The text form: one line per check
    t = world.check(world.zones())
    assert t.returncode == 0
    lines = t.stdout.splitlines()
    assert f"ok   mx: 10 {HOSTNAME}" in lines
    assert len(lines) == len(checks)


def replace(zones, prefix, *new):
    """ZONES with the records of the main zone starting with PREFIX replaced by NEW."""
    z = {k: list(v) for k, v in zones.items()}
    z[DOMAIN] = [r for r in z[DOMAIN] if not r.startswith(prefix)] + list(new)
    return z


def spf_chain(n):
    """An include chain of N records, each with "a" and the next include: 2n-1 lookups."""
    recs = [f'{DOMAIN}. TXT "v=spf1 include:s1.{DOMAIN} -all"']
    recs += [f's{i}.{DOMAIN}. TXT "v=spf1 a include:s{i + 1}.{DOMAIN} -all"' for i in range(1, n)]
    recs.append(f's{n}.{DOMAIN}. TXT "v=spf1 -all"')
    return recs


CASES = {
    "null mx": ("mx", lambda w, z: replace(z, f"{DOMAIN}. MX", f"{DOMAIN}. MX 0 ."), "null MX"),
    "address": (f"address {HOSTNAME}",
                lambda w, z: replace(z, f"{HOSTNAME}. A", f"{HOSTNAME}. A 192.0.2.77"),
                "not the sending address"),
    "spf syntax": ("spf", lambda w, z: replace(z, f'{DOMAIN}. TXT "v=spf1',
                                               f'{DOMAIN}. TXT "v=spf1 ip4:{w.ip} foo:bar -all"'),
                   'invalid term "foo:bar"'),
    "spf two records": ("spf", lambda w, z: replace(z, "@@", f'{DOMAIN}. TXT "v=spf1 -all"'),
                        "2 records start with"),
    "spf lookups": ("spf", lambda w, z: replace(z, f'{DOMAIN}. TXT "v=spf1', *spf_chain(6)),
                    "more than the 10 of RFC 7208 sec 4.6.4"),
    "spf include without record": ("spf", lambda w, z: replace(
        z, f'{DOMAIN}. TXT "v=spf1', f'{DOMAIN}. TXT "v=spf1 include:nospf.{DOMAIN} -all"'),
        f"nospf.{DOMAIN}: no \"v=spf1\" record"),
    "spf denies this host": ("spf", lambda w, z: replace(z, f'{DOMAIN}. TXT "v=spf1',
                                                         f'{DOMAIN}. TXT "v=spf1 ip4:192.0.2.1 -all"'),
                             f'fail ("-all" of {DOMAIN}): receivers that check SPF refuse mail'),
    "dkim": ("dkim", None, "is not this key's public key"),
    "dmarc": ("dmarc", lambda w, z: replace(z, f"_dmarc.{DOMAIN}.",
                                            f'_dmarc.{DOMAIN}. TXT "v=DMARC1; p=maybe"'),
              "p is not none, quarantine or reject"),
    "mta-sts record": ("mta-sts", lambda w, z: replace(z, f"_mta-sts.{DOMAIN}.",
                                                       f'_mta-sts.{DOMAIN}. TXT "v=STSv1; id=a-b"'),
                       "the id is not 1 to 32 letters and digits"),
    "tls-rpt": ("tls-rpt", lambda w, z: replace(z, f"_smtp._tls.{DOMAIN}.",
                                                f'_smtp._tls.{DOMAIN}. TXT "v=TLSRPTv1; rua=ftp://x"'),
                "rua is not a list of mailto: or https: URIs"),
    "tlsa": (f"tlsa _25._tcp.{HOSTNAME}",
             lambda w, z: replace(z, f"_25._tcp.{HOSTNAME}.", f"_25._tcp.{HOSTNAME}. TLSA 3 1 1 {'ab' * 32}"),
             "none of the 1 TLSA record matches"),
    "ptr": ("ptr", None, "has no A/AAAA record back to"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_broken_record_fails(world, case):
    check, mutate, reason = CASES[case]
    zones = world.zones()
    if case == "dkim":  # a valid key record, but not this key's
        zones = {k: list(v) for k, v in zones.items()}
        zones[DOMAIN] = [r.replace("p=MII", "p=MIJ") if "._domainkey." in r else r for r in zones[DOMAIN]]
    elif case == "ptr":  # the PTR names a host whose address is another
        zones = dict(zones)
        zones[world.reverse_zone()] = [f"{world.ip.split('.')[3]}.{world.reverse_zone()}. PTR other.{DOMAIN}."]
        zones[DOMAIN] = zones[DOMAIN] + [f"other.{DOMAIN}. A 192.0.2.99"]
    else:
        zones = mutate(world, zones)
    p = world.check(zones, "--json")
    checks, data = verdicts(p)
    assert p.returncode == 1, p.stdout
    hits = {k: v for k, v in checks.items() if k.startswith(check)}
    assert any(s == "fail" and reason in r for s, r in hits.values()), (case, hits)
    # A mail host without its address also fails the PTR's way back (FCrDNS).
    assert data["failures"] == (2 if case == "address" else 1), \
        (case, [c for c in data["checks"] if c["status"] == "fail"])


@pytest.mark.parametrize("trouble", ["mx not in policy", "redirect"])
def test_mta_sts_policy_problems_fail(world, trouble):
    if trouble == "redirect":
        world.web.redirect = f"https://mta-sts.{DOMAIN}/moved/mta-sts.txt"
        reason = "redirect to https://mta-sts.example.test/moved/mta-sts.txt refused"
    else:
        world.web.policy = "version: STSv1\nmode: enforce\nmx: mx.elsewhere.example\nmax_age: 86400\n"
        reason = f"the MX host {HOSTNAME} matches no pattern: senders will not deliver to them"
    try:
        p = world.check(world.zones(), "--json")
    finally:
        world.web.redirect = None
        world.web.policy = world.records["mta_sts_policy"]
    checks, data = verdicts(p)
    assert p.returncode == 1
    assert checks["mta-sts"][0] == "fail" and reason in checks["mta-sts"][1], checks["mta-sts"]


@pytest.mark.parametrize("spf,verdict,why", [
    ("v=spf1 mx -all", "ok", f'pass ("mx" of {DOMAIN})'),
    (f"v=spf1 a:{HOSTNAME} -all", "ok", f'pass ("a:{HOSTNAME}" of {DOMAIN})'),
    ("NET/24 -all", "ok", "pass"),
    (f"v=spf1 include:_spf.{DOMAIN} -all", "ok", f'pass ("include:_spf.{DOMAIN}" of {DOMAIN})'),
    (f"v=spf1 redirect=_spf.{DOMAIN}", "ok", f'pass ("a" of _spf.{DOMAIN})'),
    ("v=spf1 ip4:192.0.2.1 ?all", "warn", "neutral"),
    ("v=spf1 ip4:192.0.2.1 ~all", "warn", "softfail"),
    ("v=spf1 exists:%{i}.spf.example.net -all", "warn", "cannot tell"),
])
def test_spf_evaluated_for_the_sending_address(world, spf, verdict, why):
    """The SPF result a receiver would get for this host (RFC 7208 sec 4.6), through mx, a,
    a CIDR range, include and redirect; what depends on macros is not guessed."""
    if spf.startswith("NET"):
        spf = f"v=spf1 ip4:{world.net}0/24 -all"
    extra = [f'_spf.{DOMAIN}. TXT "v=spf1 a -all"', f"_spf.{DOMAIN}. A {world.ip}"]
    p = world.check(replace(world.zones(), f'{DOMAIN}. TXT "v=spf1', f'{DOMAIN}. TXT "{spf}"', *extra),
                    "--json")
    checks, data = verdicts(p)
    assert checks["spf"][0] == "ok", checks["spf"]
    status, reason = checks[f"spf {world.ip}"]
    assert status == verdict and why in reason, (status, reason)


@pytest.mark.skipif(not LDNS_SIGNZONE, reason="ldns-signzone is not installed (t/deps)")
@pytest.mark.parametrize("zone", ["signed", "unsigned"])
def test_tlsa_needs_dnssec(world, zone):
    """With a trust anchor, TLSA records count only in a validated answer (RFC 7672 sec 2.2):
    the same records pass signed and warn unsigned (the anchor is then another zone's)."""
    zones = world.zones()
    if zone == "signed":
        p = world.check({world.reverse_zone(): zones[world.reverse_zone()]}, "--json",
                        signed={DOMAIN: zones[DOMAIN]})
    else:
        p = world.check(zones, "--json", signed={"other.example": ["@ IN TXT \"x\""]})
    checks, data = verdicts(p)
    status, reason = checks[f"tlsa _25._tcp.{HOSTNAME}"]
    if zone == "signed":
        assert status == "ok" and reason.endswith(", DNSSEC-validated"), reason
        assert data["failures"] == 0, p.stdout
    else:
        assert status == "warn" and "not DNSSEC-validated" in reason, reason
