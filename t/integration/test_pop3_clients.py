"""pop3d with real POP3 clients: curl (pop3:// with and without STLS, pop3s://, SASL PLAIN and
LOGIN) and fetchmail (keep and delete mode, POP3S and STLS). Every message sent
through smtpd must come out byte-identical, less the headers Posthorn (and fetchmail) add."""
import getpass
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import DOMAIN, body_of
from test_pop3 import ALICE, BOB, deliver, login_retry, pop3, pop3_strict, sample_messages  # noqa: F401

CURL = shutil.which("curl")
FETCHMAIL = shutil.which("fetchmail")


def curl(inst, url_path, *args, scheme="pop3", user=ALICE, check=True):
    port = inst.ports["pop3s" if scheme == "pop3s" else "pop3"]
    cmd = [CURL, "-sS", "-k", "--max-time", "30", "-u", f"{user}:secret", *args,
           f"{scheme}://127.0.0.1:{port}/{url_path}"]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    if check:
        assert p.returncode == 0, f"{cmd}: {p.returncode} {p.stderr!r}"
    return p


@pytest.mark.skipif(not CURL, reason="curl is not installed")
def test_curl_pop3_and_pop3s(pop3_strict):
    inst = pop3_strict
    sent = sample_messages(3, tag="curl")
    deliver(inst, ALICE, sent)
    listing = curl(inst, "", "--ssl-reqd").stdout.decode().split("\r\n")
    sizes = dict(line.split() for line in listing if line)
    assert len(sizes) == 3
    variants = [("pop3", ["--ssl-reqd"]),                      # STLS, curl's SASL choice
                ("pop3", ["--ssl-reqd", "--login-options", "AUTH=PLAIN"]),
                ("pop3s", ["--login-options", "AUTH=LOGIN"]),
                ("pop3s", [])]
    for scheme, args in variants:
        fetched = [curl(inst, str(n), *args, scheme=scheme).stdout for n in (1, 2, 3)]
        assert [len(f) for f in fetched] == [int(sizes[str(n)]) for n in (1, 2, 3)]
        assert sorted(body_of(f) for f in fetched) == sorted(sent), (scheme, args)
    # Without TLS the password is refused (login_allow_plaintext_auth = no).
    assert curl(inst, "1", check=False).returncode != 0
    log = inst.log()
    assert f"Login: user=<{ALICE}>, method=PLAIN" in log and "method=LOGIN" in log
    assert "secret" not in log


@pytest.mark.skipif(not CURL, reason="curl is not installed")
def test_curl_plaintext_when_allowed_and_dele(pop3):
    sent = sample_messages(2, tag="plain")
    deliver(pop3, BOB, sent)
    fetched = [curl(pop3, str(n), user=BOB).stdout for n in (1, 2)]
    assert sorted(body_of(f) for f in fetched) == sorted(sent)
    uidl = curl(pop3, "", "-X", "UIDL", user=BOB).stdout.decode().split()
    assert len(uidl) == 4
    curl(pop3, "1", "-X", "DELE", "-I", user=BOB)  # curl sends QUIT: UPDATE removes it
    assert len(pop3.messages(BOB)) == 1


def strip_added_headers(raw: bytes) -> bytes:
    """Drop the leading Return-Path, Delivered-To and Received fields (Posthorn's and
    fetchmail's own Received), continuation lines included."""
    lines = raw.split(b"\n")
    i = 0
    while i < len(lines) and lines[i].split(b":", 1)[0].lower() in (b"return-path", b"delivered-to", b"received"):
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            i += 1
    return b"\n".join(lines[i:])


def fetchmail(inst, user, keep, tls, workdir: Path):
    out = workdir / "out"
    out.mkdir(exist_ok=True)
    home = workdir / "home"
    home.mkdir(mode=0o700, exist_ok=True)
    if tls == "implicit":
        port, sslopts = inst.ports["pop3s"], "ssl no sslcertck"
    else:
        port, sslopts = inst.ports["pop3"], "sslproto 'tls1.2+' no sslcertck"
    rc = home / "fetchmailrc"
    rc.write_text(
        "set no bouncemail\nset no spambounce\nset no syslog\n"
        f"poll 127.0.0.1 service {port} protocol POP3 auth password uidl:\n"
        f"  user \"{user}\" there with password \"secret\" is \"{getpass.getuser()}\" here\n"
        f"  options {'keep' if keep else 'nokeep'} {sslopts}\n"
        f"  mda \"sh -c 'cat > {out}/msg.$$'\"\n")
    rc.chmod(0o600)
    env = dict(os.environ, FETCHMAILHOME=str(home), HOME=str(home))
    p = subprocess.run([FETCHMAIL, "-f", str(rc), "--nodetach", "-v"], capture_output=True,
                       text=True, env=env, timeout=120)
    # 0: mail fetched, 1: no mail
    assert p.returncode in (0, 1), f"fetchmail failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    files = sorted(out.iterdir())
    got = [strip_added_headers(f.read_bytes()) for f in files]
    for f in files:
        f.unlink()
    return got, p


@pytest.mark.skipif(not FETCHMAIL, reason="fetchmail is not installed (Debian package fetchmail)")
@pytest.mark.parametrize("tls", ["implicit", "stls"])
def test_fetchmail_keep_then_delete(pop3_strict, tls):
    inst = pop3_strict
    sent = sample_messages(3, tag=f"fm{tls}")
    deliver(inst, ALICE, sent)
    lf = sorted(m.replace(b"\r\n", b"\n") for m in sent)  # fetchmail hands LF text to the MDA
    work = Path(tempfile.mkdtemp(prefix="posthorn-fetchmail-"))
    try:
        got, p = fetchmail(inst, ALICE, keep=True, tls=tls, workdir=work)
        assert sorted(got) == lf, p.stdout + p.stderr
        assert "STLS" in p.stdout or tls == "implicit"
        assert len(inst.messages(ALICE)) == 3
        # Delete mode: the same messages again (fetchmail's uidl state is not kept between
        # these runs' modes), then the maildrop is empty.
        (work / "home" / ".fetchids").unlink(missing_ok=True)
        got, p = fetchmail(inst, ALICE, keep=False, tls=tls, workdir=work)
        assert sorted(got) == lf, p.stdout + p.stderr
        assert inst.messages(ALICE) == []
        got, p = fetchmail(inst, ALICE, keep=False, tls=tls, workdir=work)
        assert got == [] and p.returncode == 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    inst.wait_log("del=3/3")
