"""DKIM signing (doc/dkim.md), checked by an implementation that is not ours: Debian's dkimpy
(python3-dkim) verifies every signature Posthorn makes, RSA-SHA256 and Ed25519-SHA256, given
only the TXT records `posthorn dkim keygen` printed (a dnsfunc answers with them; no DNS).

Messages go through the local `sendmail` front end and are read back from the Maildir; the
queue stores LF line ends and the SMTP client will send CRLF, so a delivered file is turned
into CRLF before dkimpy sees it, as a receiving MTA would see it. Also: keygen's files and
output, a message changed after signing fails, a domain without keys is queued unsigned,
the failure policy when the signer does not answer, key rotation, and `posthorn dns records`
(named-checkzone parses it, its DKIM TXT is keygen's, its TLSA is openssl's SPKI hash)."""
import base64
import json
import os
import pwd
import re
import shutil
import signal
import smtplib
import ssl
import stat
import subprocess
import sys
import time

import dkim
import pytest

from conftest import BIN, DOMAIN, run

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"


# --- zone-file text ------------------------------------------------------------------------

def strip_comment(line):
    """line without its ';' comment (a ';' inside a quoted string stays)."""
    quoted = escaped = False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            return line[:i]
    return line


def zone_entries(text):
    """(name, type, rdata) of each record in zone-file text, parenthesised records joined."""
    entries, pending, depth = [], "", 0
    for line in text.splitlines():
        line = strip_comment(line)
        if not line.strip() and depth == 0:
            continue
        pending += " " + line
        depth += line.count("(") - line.count(")")
        if depth == 0:
            fields = pending.split(None, 3)
            assert fields[1] == "IN", pending
            entries.append((fields[0], fields[2], fields[3].replace("(", " ").replace(")", " ")))
            pending = ""
    assert depth == 0, "unbalanced parentheses"
    return entries


def txt_strings(rdata):
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', rdata)
    return [re.sub(r"\\(.)", r"\1", s) for s in strings]


def txt_records(text):
    """{name: joined TXT value}, checking every string is at most 255 bytes."""
    out = {}
    for name, rtype, rdata in zone_entries(text):
        if rtype == "TXT":
            strings = txt_strings(rdata)
            assert strings and all(len(s.encode()) <= 255 for s in strings), rdata
            out[name] = "".join(strings)
    return out


# --- helpers -------------------------------------------------------------------------------

def keygen(inst, domain=DOMAIN, *args):
    """keygen's stdout, which must be zone-file text with exactly one TXT record."""
    out = inst.posthorn("dkim", "keygen", domain, *args).stdout
    recs = txt_records(out)
    assert len(recs) == 1, out
    return recs


def sendmail(inst, message: bytes, *args, check=True):
    env = dict(os.environ, POSTHORN_CONFIG=str(inst.etc))
    p = subprocess.run([str(BIN / "sendmail"), *args], input=message, capture_output=True,
                       env=env, timeout=60)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def on_the_wire(raw: bytes) -> bytes:
    """A delivered (LF) message as it travels over SMTP: CRLF line ends."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def signatures(raw: bytes):
    """The DKIM-Signature fields of a message, as {tag: value} dicts."""
    head = raw.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    fields = re.findall(r"^DKIM-Signature:(.*(?:\n[ \t].*)*)", head, re.M | re.I)
    out = []
    for f in fields:
        tags = {}
        for part in re.sub(r"\s+", "", f).split(";"):
            if "=" in part:
                k, v = part.split("=", 1)
                tags[k] = v
        out.append(tags)
    return out


def verify_all(raw: bytes, records):
    """dkimpy's verdict on each signature of the message (True/False), in order."""
    def dnsfunc(name, timeout=5):
        value = records.get(name.decode())
        return value.encode() if value else None
    msg = on_the_wire(raw)
    results = []
    for idx in range(len(signatures(raw))):
        d = dkim.DKIM(msg)
        try:
            results.append(bool(d.verify(idx=idx, dnsfunc=dnsfunc)))
        except dkim.DKIMException:
            results.append(False)
    return results


def strip_delivery_headers(raw: bytes) -> bytes:
    """Drop the Return-Path and Delivered-To local-mda adds (not signed, not changed)."""
    while raw.startswith((b"Return-Path:", b"Delivered-To:")):
        raw = raw.split(b"\n", 1)[1]
    return raw


@pytest.fixture
def signing(instance):
    """A running instance with alice and bob, RSA and Ed25519 keys for example.test; yields
    (instance, {TXT name: value})."""
    instance.add_user(ALICE)
    instance.add_user(BOB)
    records = {}
    records.update(keygen(instance, DOMAIN, "--type", "rsa"))
    records.update(keygen(instance, DOMAIN, "--type", "ed25519"))
    instance.start()
    yield instance, records


# --- keygen --------------------------------------------------------------------------------

def test_keygen_writes_private_keys_and_prints_their_records(instance):
    keydir = instance.etc / "dkim"
    rsa = keygen(instance, DOMAIN, "--selector", "big", "--bits", "3072")
    ed = keygen(instance, DOMAIN, "--type", "ed25519", "--selector", "ed")
    assert list(rsa) == [f"big._domainkey.{DOMAIN}."]
    assert list(ed) == [f"ed._domainkey.{DOMAIN}."]
    owner = instance.conf("dkim_owner")
    for d in (keydir, keydir / DOMAIN):
        st = os.stat(d)
        assert stat.S_IMODE(st.st_mode) == 0o700 and pwd.getpwuid(st.st_uid).pw_name == owner
    for sel, rec in (("big", rsa), ("ed", ed)):
        key = keydir / DOMAIN / f"{sel}.active.key"
        st = os.stat(key)
        assert stat.S_IMODE(st.st_mode) == 0o600 and pwd.getpwuid(st.st_uid).pw_name == owner
        # The record's p= is the public half of the key file, as openssl derives it.
        der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"],
                             capture_output=True, check=True).stdout
        value = next(iter(rec.values()))
        p = base64.b64decode(value.split("p=", 1)[1])
        if sel == "big":
            assert value.startswith("v=DKIM1; k=rsa; p=") and p == der
            assert len(value) > 255  # so the record really is split
        else:
            assert value.startswith("v=DKIM1; k=ed25519; p=") and p == der[-32:]
    listing = json.loads(instance.posthorn("dkim", "list", "--json").stdout)
    assert [(k["selector"], k["type"], k["bits"], k["state"]) for k in listing] == \
        [("big", "rsa", 3072, "active"), ("ed", "ed25519", 256, "active")]
    assert {k["dns_name"] + ".": k["record"] for k in listing} == {**rsa, **ed}
    # Refused: a taken selector, a bad one, a key too small.
    for args in (["--selector", "big"], ["--selector", "Bad_Sel"], ["--bits", "512"]):
        p = instance.posthorn("dkim", "keygen", DOMAIN, *args, check=False)
        assert p.returncode != 0 and p.stdout == "", (args, p.stdout)


# --- signing -------------------------------------------------------------------------------

MESSAGES = {
    "folded headers": (
        b"From: Alice Example <alice@example.test>\n"
        b"To: bob@example.test,\n   carol@example.test\n"
        b"Subject: a long\n\tfolded    subject   \n"
        b"X-Spaced:    value   with   runs   \n"
        b"\n"
        b"Body line 1\nline with trailing white space  \t\n    indented line\n"),
    "8-bit body": (
        "From: alice@example.test\nTo: bob@example.test\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\nGrüße aus Köln — ✓ ｆｕｌｌ　ｗｉｄｔｈ\n").encode(),
    "empty body": b"From: alice@example.test\nTo: bob@example.test\nSubject: empty\n\n",
    "no body at all": b"From: alice@example.test\nTo: bob@example.test\nSubject: headers only\n",
    "trailing blank lines": (
        b"From: alice@example.test\nTo: bob@example.test\nSubject: blanks\n\n"
        b"text\n\n   \n\t\n\n"),
    "CRLF input": (
        b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: crlf\r\n"
        b"\r\nline one\r\n\r\nline  three  \r\n\r\n"),
    "large body": (
        b"From: alice@example.test\nTo: bob@example.test\nSubject: large\n\n" +
        b"".join(b"line %d with  some   spaces\t\n" % i for i in range(20000)) + b"\n\n"),
}


def test_sendmail_messages_are_signed_with_both_keys_and_verify(signing):
    inst, records = signing
    for n, (what, message) in enumerate(MESSAGES.items(), 1):
        sendmail(inst, message, "-i", BOB)
        raw = inst.wait_messages(BOB, n)[-1]
        sigs = signatures(raw)
        assert sorted(s["a"] for s in sigs) == ["ed25519-sha256", "rsa-sha256"], (what, raw[:1500])
        for s in sigs:
            assert s["d"] == DOMAIN and s["c"] == "relaxed/relaxed" and "l" not in s, what
            assert s["h"].split(":").count("from") == 2, s["h"]  # From oversigned
            assert abs(int(s["t"]) - time.time()) < 300
        assert verify_all(raw, records) == [True, True], (what, raw[:3000])
        # The signatures come first, before the Received field sendmail adds.
        assert strip_delivery_headers(raw).startswith(b"DKIM-Signature:"), what
    # CRLF and LF input of the same message are signed alike (one body hash).
    sendmail(inst, MESSAGES["CRLF input"].replace(b"\r\n", b"\n"), "-i", BOB)
    lf = inst.wait_messages(BOB, len(MESSAGES) + 1)[-1]
    crlf = inst.wait_messages(BOB, len(MESSAGES))[len(MESSAGES) - 2]
    assert {s["bh"] for s in signatures(lf)} == {s["bh"] for s in signatures(crlf)}
    assert "DKIM-Signature field added (s=rsa-" in inst.log()
    assert "DKIM-Signature field added (s=ed25519-" in inst.log()


def test_a_message_changed_after_signing_fails(signing):
    inst, records = signing
    sendmail(inst, MESSAGES["folded headers"], "-i", BOB)
    raw = inst.wait_messages(BOB, 1)[0]
    assert verify_all(raw, records) == [True, True]
    changed = {
        "body": raw.replace(b"Body line 1", b"Body line 2"),
        "signed header": raw.replace(b"folded    subject", b"folded    subjekt"),
        "a second From": raw.replace(b"\nTo:", b"\nFrom: mallory@evil.test\nTo:", 1),
        "appended text": raw + b"P.S. added later\n",
    }
    for what, msg in changed.items():
        assert msg != raw, what
        assert verify_all(msg, records) == [False, False], what
    # A field the signature does not cover may be added (and white space refolded).
    unsigned = raw.replace(b"\nTo:", b"\nX-Added: by a relay\nTo:", 1)
    assert verify_all(unsigned, records) == [True, True]
    refolded = raw.replace(b"Subject: a long\n\tfolded", b"Subject: a long folded")
    assert verify_all(refolded, records) == [True, True]


def test_a_domain_without_keys_is_queued_unsigned(signing):
    inst, _ = signing
    sendmail(inst, b"From: someone@other.test\nSubject: no key\n\nhi\n", "-i", BOB)
    raw = inst.wait_messages(BOB, 1)[0]
    assert signatures(raw) == []
    inst.wait_log("not signed: no DKIM key for other.test")
    sendmail(inst, b"Subject: no From at all\n\nhi\n", "-i", BOB)
    # sendmail adds a From for the invoking user: root@$myorigin, which is example.test.
    raw = inst.wait_messages(BOB, 2)[1]
    assert len(signatures(raw)) == 2


def test_signer_not_answering_follows_the_failure_policy(signing):
    inst, records = signing
    inst.set_conf(dkim_signer_timeout="1s")  # read by sendmail at each run
    pids = inst.status_pids()["dkim"]
    for pid in pids:
        inst.kill(pid, signal.SIGSTOP)
    try:
        start = time.time()
        p = sendmail(inst, MESSAGES["empty body"], "-i", BOB, check=False)
        assert p.returncode == 75, p  # EX_TEMPFAIL: the default policy is tempfail
        assert time.time() - start < 10
        assert b"DKIM signing failed" in p.stderr
        assert inst.queue_files() == [] and inst.messages(BOB) == []
        inst.wait_log("not queued (dkim_failure_policy = tempfail)")
        inst.set_conf(dkim_failure_policy="unsigned")
        sendmail(inst, MESSAGES["empty body"], "-i", BOB)
        raw = inst.wait_messages(BOB, 1)[0]
        assert signatures(raw) == []
        inst.wait_log("queued unsigned (dkim_failure_policy = unsigned)")
    finally:
        for pid in pids:
            inst.kill(pid, signal.SIGCONT)
    inst.set_conf(dkim_failure_policy="tempfail")
    sendmail(inst, MESSAGES["empty body"], "-i", BOB)
    assert verify_all(inst.wait_messages(BOB, 2)[1], records) == [True, True]


def selectors_of(raw):
    return sorted(s["s"] for s in signatures(raw))


def test_rotation_adds_a_selector_then_retires_the_old_one(instance):
    instance.add_user(BOB)
    records = keygen(instance, DOMAIN, "--selector", "old")
    instance.start()
    msg = b"From: alice@example.test\nSubject: rotation\n\nhi\n"
    sendmail(instance, msg, "-i", BOB)
    assert selectors_of(instance.wait_messages(BOB, 1)[0]) == ["old"]
    # A second RSA key waits (pending) until it is activated: it is not yet in DNS.
    out = instance.posthorn("dkim", "keygen", DOMAIN, "--selector", "new").stdout
    assert "pending" in out and "posthorn dkim activate example.test new" in out
    records.update(txt_records(out))
    sendmail(instance, msg, "-i", BOB)
    assert selectors_of(instance.wait_messages(BOB, 2)[1]) == ["old"]
    instance.posthorn("dkim", "activate", DOMAIN, "new")
    sendmail(instance, msg, "-i", BOB)
    raw = instance.wait_messages(BOB, 3)[2]
    assert selectors_of(raw) == ["new", "old"]
    assert verify_all(raw, records) == [True, True]
    p = instance.posthorn("dkim", "delete", DOMAIN, "old", check=False)
    assert p.returncode != 0 and "retire it first" in p.stderr
    instance.posthorn("dkim", "retire", DOMAIN, "old")
    sendmail(instance, msg, "-i", BOB)
    raw = instance.wait_messages(BOB, 4)[3]
    assert selectors_of(raw) == ["new"] and verify_all(raw, records) == [True]
    states = {k["selector"]: k["state"] for k in json.loads(instance.posthorn("dkim", "list", "--json").stdout)}
    assert states == {"old": "retired", "new": "active"}
    instance.posthorn("dkim", "delete", DOMAIN, "old")
    assert [k["selector"] for k in json.loads(instance.posthorn("dkim", "list", "--json").stdout)] == ["new"]


PEER_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
try:
    s.sendall(b"request=sign\nqueue_id=00000000000000BEEF\n\n")
except (BrokenPipeError, ConnectionResetError):  # already closed on us
    pass
out = b""
while True:
    try:
        c = s.recv(4096)
    except ConnectionResetError:  # closed with our request unread
        break
    if not c:
        break
    out += c
sys.stdout.write(repr(out))
"""


def test_the_signer_refuses_a_wrong_peer(signing):
    """SO_PEERCRED: only root, mail_owner and dkim_owner may ask for signatures. private/ is
    0700 and would stop another user first, so the socket is reached through a hard link in
    a directory anyone may search; the check under test is the signer's."""
    inst, _ = signing
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root and runuser to connect as another user")
    side = inst.root / "side"
    side.mkdir()
    os.chmod(side, 0o755)
    os.link(inst.spool / "private" / "dkim", side / "dkim")
    p = subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, "-c", PEER_CLIENT,
                        str(side / "dkim")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "b''", p.stdout  # not even the greeting
    nobody = pwd.getpwnam("nobody").pw_uid
    inst.wait_log(f"refusing a signing connection from uid {nobody}")
    sendmail(inst, MESSAGES["empty body"], "-i", BOB)  # still signing for the others
    assert len(signatures(inst.wait_messages(BOB, 1)[0])) == 2


# --- posthorn dns records ------------------------------------------------------------------

ZONE_HEAD = ("$TTL 3600\n@ IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300\n"
             "@ IN NS ns1.example.test.\nns1 IN A 192.0.2.53\n")


def test_dns_records_load_as_a_zone_and_match_the_keys(instance, tmp_path):
    records = {}
    records.update(keygen(instance, DOMAIN, "--type", "rsa", "--selector", "r1"))
    records.update(keygen(instance, DOMAIN, "--type", "ed25519", "--selector", "e1"))
    out = instance.posthorn("dns", "records", DOMAIN, "--ip", "192.0.2.25", "--ip",
                            "2001:db8::25", "--dmarc-policy", "quarantine").stdout
    zone = tmp_path / "example.test.zone"
    zone.write_text(ZONE_HEAD + out)
    p = run(["named-checkzone", "-k", "fail", "-n", "fail", DOMAIN, str(zone)], check=False)
    assert p.returncode == 0 and "OK" in p.stdout, p.stdout + p.stderr + out
    entries = zone_entries(out)
    by_type = {}
    for name, rtype, rdata in entries:
        by_type.setdefault(rtype, []).append((name, rdata.strip()))
    host = instance.conf("myhostname")
    assert (f"{host}.", "192.0.2.25") in by_type["A"]
    assert (f"{host}.", "2001:db8::25") in by_type["AAAA"]
    assert by_type["MX"] == [(f"{DOMAIN}.", f"10 {host}.")]
    txt = txt_records(out)
    assert txt[f"{DOMAIN}."] == "v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 -all"
    for name, value in records.items():  # every DKIM record exactly as keygen printed it
        assert txt[name] == value
    assert txt[f"_dmarc.{DOMAIN}."] == f"v=DMARC1; p=quarantine; rua=mailto:postmaster@{DOMAIN}"
    assert re.fullmatch(r"v=STSv1; id=[A-Za-z0-9]{1,32}", txt[f"_mta-sts.{DOMAIN}."])
    assert txt[f"_smtp._tls.{DOMAIN}."] == f"v=TLSRPTv1; rua=mailto:postmaster@{DOMAIN}"
    # TLSA 3 1 1: SHA-256 of the certificate's SubjectPublicKeyInfo, computed by openssl.
    cert = instance.conf("smtpd_tls_cert_file")
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         capture_output=True, check=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-r"], input=der, capture_output=True,
                            check=True).stdout.split()[0].decode()
    (name, rdata), = by_type["TLSA"]
    assert name == f"_25._tcp.{host}." and rdata.lower() == f"3 1 1 {digest}"
    # The PTR records to ask for, as comments (another zone), and the MTA-STS policy.
    assert f"25.2.0.192.in-addr.arpa. IN PTR {host}." in out
    assert "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. IN PTR" in out
    assert f";   mx: {host}" in out and ";   mode: testing" in out
    # --json says the same.
    j = json.loads(instance.posthorn("dns", "records", DOMAIN, "--ip", "192.0.2.25", "--ip",
                                     "2001:db8::25", "--dmarc-policy", "quarantine",
                                     "--json").stdout)
    jtxt = {r["name"]: r["data"] for r in j["records"] if r["type"] == "TXT"}
    assert jtxt == txt
    assert all("".join(r["strings"]) == r["data"] and all(len(s) <= 255 for s in r["strings"])
               for r in j["records"] if r["type"] == "TXT")
    assert {p["address"] for p in j["ptr"]} == {"192.0.2.25", "2001:db8::25"}
    assert f"mx: {host}\n" in j["mta_sts_policy"]


def test_dns_records_without_addresses_or_keys(instance, tmp_path):
    """The instance listens on loopback only: no A record is invented, SPF falls back to mx,
    and the missing pieces are said in comments; a retired key is shown commented out."""
    keygen(instance, DOMAIN, "--selector", "gone")
    instance.posthorn("dkim", "retire", DOMAIN, "gone")
    out = instance.posthorn("dns", "records", DOMAIN).stdout
    zone = tmp_path / "z"
    zone.write_text(ZONE_HEAD + out)
    p = run(["named-checkzone", DOMAIN, str(zone)], check=False)
    assert p.returncode == 0, p.stdout + out
    types = [t for _, t, _ in zone_entries(out)]
    assert "A" not in types and "AAAA" not in types
    assert txt_records(out)[f"{DOMAIN}."] == "v=spf1 mx -all"
    assert f"gone._domainkey.{DOMAIN}." not in txt_records(out)
    assert f"; gone._domainkey.{DOMAIN}. IN TXT" in out and "retired" in out
    assert "127.0.0.1 (master.cf) is not a public address" in out


def test_check_finds_exposed_keys_and_a_missing_signer(instance):
    keygen(instance, DOMAIN, "--selector", "k1")
    instance.posthorn("check")
    key = instance.etc / "dkim" / DOMAIN / "k1.active.key"
    os.chmod(key, 0o644)
    p = instance.posthorn("check", check=False)
    assert p.returncode == 1 and f"{key}: mode 0644, expected 0600" in p.stderr, p.stderr
    os.chmod(key, 0o600)
    mastercf = instance.etc / "master.cf"
    text = mastercf.read_text()
    mastercf.write_text(re.sub(r"(?m)^dkim\s.*$", "", text))
    p = instance.posthorn("check", check=False)
    assert p.returncode == 1 and "no dkim-signer service in master.cf" in p.stderr, p.stderr
    instance.set_conf(dkim_failure_policy="unsigned")  # then it is only a warning
    p = instance.posthorn("check", check=False)
    assert p.returncode == 0 and "no dkim-signer service in master.cf" in p.stderr, p.stderr


def test_signer_key_cache_smaller_than_the_domains(instance):
    """dkim_key_cache_size 1 with three domains taking turns: each message still gets its own
    domain's signature (keys are evicted and loaded again), and a domain without keys stays
    unsigned in between."""
    instance.add_user(BOB)
    instance.set_conf(dkim_key_cache_size="1")
    records = {}
    for d in ("example.test", "one.test", "two.test"):
        records.update(keygen(instance, d, "--type", "ed25519", "--selector", "s"))
    instance.start()
    time.sleep(2.5)  # let the key directory's stamp settle, so the cache is really used
    order = ["one.test", "two.test", "none.test", "example.test", "one.test", "one.test", "two.test"]
    for n, d in enumerate(order, 1):
        sendmail(instance, f"From: x@{d}\nSubject: {n}\n\nhi\n".encode(), "-i", BOB)
        raw = instance.wait_messages(BOB, n)[-1]
        sigs = signatures(raw)
        if d == "none.test":
            assert sigs == []
        else:
            assert [s["d"] for s in sigs] == [d] and verify_all(raw, records) == [True], (n, d)


# --- submission -----------------------------------------------------------------------------

def submit(inst, message: bytes, implicit=True):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if implicit:
        c = smtplib.SMTP_SSL("127.0.0.1", inst.ports["smtps"], context=ctx, timeout=60)
    else:
        c = smtplib.SMTP("127.0.0.1", inst.ports["submission"], timeout=60)
        c.starttls(context=ctx)
    with c:
        c.login(ALICE, "secret")
        c.sendmail(ALICE, [BOB], message)


def test_submitted_mail_is_signed_and_verifies(signing):
    """Mail of a user logged in on 465 or 587 is signed by the signer before it is queued
    (lib/smtpserver's signer hook), and dkimpy verifies both signatures."""
    inst, records = signing
    inst.wait_port(inst.ports["smtps"])
    for n, implicit in enumerate((True, False), 1):
        submit(inst, MESSAGES["folded headers"].replace(b"\n", b"\r\n").replace(b"\r\r", b"\r"),
               implicit=implicit)
        raw = inst.wait_messages(BOB, n)[-1]
        sigs = signatures(raw)
        assert sorted(s["a"] for s in sigs) == ["ed25519-sha256", "rsa-sha256"], raw[:1500]
        assert verify_all(raw, records) == [True, True], raw[:3000]


def test_submission_with_the_signer_stopped_gets_451(signing):
    inst, records = signing
    inst.set_conf(dkim_signer_timeout="1s")
    before = set(inst.status_pids()["dkim"])
    inst.reload()
    # The reload is asynchronous: wait for the new generation of signers (the old one's
    # pids can still be listed for a moment), then stop every signer there is.
    deadline = time.time() + 20
    while True:
        now = set(inst.status_pids().get("dkim", []))
        if now and not now & before:
            break
        assert time.time() < deadline, (before, now)
        time.sleep(0.1)
    inst.wait_configured()
    pids = sorted(now)
    for pid in pids:
        inst.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(smtplib.SMTPDataError) as e:
            submit(inst, MESSAGES["empty body"])
        assert e.value.smtp_code == 451 and b"4.7.0" in e.value.smtp_error
        assert inst.messages(BOB) == []
    finally:
        for pid in pids:
            inst.kill(pid, signal.SIGCONT)


def test_mail_from_mynetworks_is_signed_and_other_port_25_mail_is_not(instance):
    """An application server in mynetworks relays through port 25 without logging in; its
    mail is signed as submitted mail is (smtpd's signer hook), and dkimpy verifies it. Mail
    from any other client of port 25 is inbound mail: never signed."""
    from mx_lab import address_block
    p = address_block()
    instance.add_user(ALICE)
    instance.add_user(BOB)
    records = keygen(instance, DOMAIN, "--type", "ed25519")
    instance.set_conf(mynetworks=p + "5")
    instance.start()
    message = (f"From: Alice <{ALICE}>\r\nTo: <{BOB}>\r\nSubject: from the app\r\n"
               "Message-ID: <app1@example.test>\r\n\r\nhello\r\n").encode()
    for n, source in enumerate((p + "5", p + "6"), 1):
        with smtplib.SMTP("127.0.0.1", instance.ports["smtp"], timeout=60,
                          source_address=(source, 0)) as c:
            c.sendmail(ALICE, [BOB], message)
        raw = instance.wait_messages(BOB, n)[-1]
        if source == p + "5":
            assert [s["a"] for s in signatures(raw)] == ["ed25519-sha256"], raw[:1500]
            assert verify_all(raw, records) == [True], raw[:3000]
        else:
            assert signatures(raw) == [], raw[:1500]
