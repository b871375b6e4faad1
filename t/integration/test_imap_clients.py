"""imapd with real IMAP clients that are not ours (doc/imapd.md): curl over imaps:// and imap://
with STARTTLS (verifying the instance's certificate), `openssl s_client -starttls imap`, mbsync
(isync) syncing flags and expunges both ways, offlineimap, and neomutt driven in tmux reading,
flagging and moving a message. Each checks the server's state afterwards with imaplib, and
messages must come back byte-identical to what was delivered."""
import hashlib
import imaplib
import re
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from conftest import HOSTNAME
from test_imap import message, start
from test_pop3 import ALICE, deliver, tls_context


def need(tool):
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed (t/deps installs it)")


def cert_file(inst):
    return inst.conf("smtpd_tls_cert_file")


def login(inst):
    m = imaplib.IMAP4_SSL("127.0.0.1", inst.ports["imaps"], ssl_context=tls_context())
    m.login(ALICE, "secret")
    return m


def server_flags(inst, mailbox="INBOX"):
    """{Message-ID: set of flags} of every message in mailbox, read with imaplib."""
    m = login(inst)
    try:
        typ, _ = m.select(mailbox, readonly=True)
        assert typ == "OK"
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        out = {}
        if typ != "OK" or data == [None]:
            return out
        for item in data:
            if not isinstance(item, tuple):
                continue
            flags = imaplib.ParseFlags(item[0])
            mid = item[1].decode().split(":", 1)[1].strip()
            out[mid] = {f.decode() for f in flags}
        return out
    finally:
        m.logout()


def stored(inst, addr=ALICE):
    """{Message-ID: bytes} of the INBOX files as local-mda wrote them, with CRLF line ends as
    IMAP serves them (the Maildir files have LF)."""
    out = {}
    for raw in inst.messages(addr):
        raw = crlf(raw)
        for line in raw.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                out[line.split(b":", 1)[1].strip().decode()] = raw
                break
    return out


def crlf(raw):
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def wait_for(cond, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


# --- curl -----------------------------------------------------------------------------------

def curl(inst, url, *args, port_name="imaps"):
    port = inst.ports[port_name]
    r = subprocess.run(["curl", "-sS", "--max-time", "30", "--cacert", cert_file(inst),
                        "--resolve", f"{HOSTNAME}:{port}:127.0.0.1", "--user", f"{ALICE}:secret",
                        *args, url.format(host=f"{HOSTNAME}:{port}")],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def test_curl_reads_lists_and_appends_over_verified_tls(instance, tmp_path):
    need("curl")
    inst = start(instance)
    sent = message(1, "a body line\r\nwith two lines")
    deliver(inst, ALICE, [sent])
    # Implicit TLS (993) with the certificate checked against the host name.
    assert curl(inst, "imaps://{host}/INBOX;UID=1") == stored(inst)["<m1@remote.test>"]
    listing = curl(inst, "imaps://{host}/").decode()
    for box in ("INBOX", "Sent", "Drafts", "Trash", "Junk"):
        assert f' {box}\r\n' in listing or f' "{box}"\r\n' in listing, listing
    # STARTTLS on 143, required (--ssl-reqd): curl APPENDs a file (-T) into Drafts.
    draft = b"From: alice <" + ALICE.encode() + b">\r\nSubject: draft\r\n\r\nunfinished\r\n"
    (tmp_path / "draft.eml").write_bytes(draft)
    curl(inst, "imap://{host}/Drafts", "--ssl-reqd", "-T", str(tmp_path / "draft.eml"),
         port_name="imap")
    assert curl(inst, "imap://{host}/Drafts;UID=1", "--ssl-reqd", port_name="imap") == draft


def test_curl_with_a_wrong_password_is_refused(instance):
    need("curl")
    inst = start(instance)
    port = inst.ports["imaps"]
    r = subprocess.run(["curl", "-sS", "--max-time", "30", "-k", "--user", f"{ALICE}:wrong",
                        f"imaps://127.0.0.1:{port}/INBOX"], capture_output=True, timeout=60)
    assert r.returncode == 67, (r.returncode, r.stderr)  # CURLE_LOGIN_DENIED


# --- openssl s_client ---------------------------------------------------------------------

def test_openssl_s_client_starttls_session(instance):
    inst = start(instance)
    deliver(inst, ALICE, [message(2)])
    # -crlf: s_client turns each LF typed into CRLF, as at a terminal.
    script = (f"a1 LOGIN {ALICE} secret\na2 SELECT INBOX\na3 FETCH 1 (RFC822.SIZE FLAGS)\n"
              "a4 STORE 1 +FLAGS (\\Flagged)\na5 LOGOUT\n")
    r = subprocess.run(["openssl", "s_client", "-quiet", "-starttls", "imap", "-crlf",
                        "-connect", f"127.0.0.1:{inst.ports['imap']}", "-verify_return_error",
                        "-CAfile", cert_file(inst), "-verify_hostname", HOSTNAME,
                        "-tls1_2"], input=script.encode(), capture_output=True, timeout=60)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, r.stderr.decode()
    for tag in ("a1", "a2", "a3", "a4", "a5"):
        assert f"\r\n{tag} OK" in out or out.startswith(f"{tag} OK"), out
    assert f"RFC822.SIZE {len(crlf(inst.messages(ALICE)[0]))}" in out, out
    assert server_flags(inst)["<m2@remote.test>"] == {"\\Flagged"}


# --- mbsync ---------------------------------------------------------------------------------

def mbsync_conf(inst, tmp_path):
    local = tmp_path / "local"
    local.mkdir()
    conf = tmp_path / "mbsyncrc"
    conf.write_text(f"""
IMAPAccount test
Host 127.0.0.1
Port {inst.ports['imaps']}
User {ALICE}
Pass secret
SSLType IMAPS
CertificateFile {cert_file(inst)}

IMAPStore remote
Account test

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel test
Far :remote:
Near :local:
Patterns INBOX Archive
Create Both
Expunge Both
SyncState *
""")
    return conf, local


def mbsync(conf):
    r = subprocess.run(["mbsync", "-c", str(conf), "-a"], capture_output=True, timeout=120)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()


def local_files(local, box="INBOX"):
    return sorted((local / box / sub / name) for sub in ("cur", "new")
                  for name in sorted(p.name for p in (local / box / sub).iterdir()))


def with_flags(path, flags):
    """Rename a Maildir file to carry exactly flags (mbsync reads them from the name)."""
    base = path.name.split(":2,")[0]
    new = path.parent.parent / "cur" / f"{base}:2,{''.join(sorted(flags))}"
    path.rename(new)
    return new


def mid_of(path):
    for line in crlf(path.read_bytes()).split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    raise AssertionError(f"no Message-ID in {path}")


def test_mbsync_syncs_messages_flags_and_expunges_both_ways(instance, tmp_path):
    need("mbsync")
    inst = start(instance)
    for i in range(1, 5):
        deliver(inst, ALICE, [message(i)])
    sent = stored(inst)
    conf, local = mbsync_conf(inst, tmp_path)
    mbsync(conf)
    files = {mid_of(p): p for p in local_files(local)}
    # Byte-identical but for the X-TUID header mbsync adds to its own copies.
    assert {mid: re.sub(rb"X-TUID: \S+\r\n", b"", crlf(p.read_bytes()))
            for mid, p in files.items()} == sent

    # Near -> far: one message read, one flagged, one deleted (expunged at the next sync).
    with_flags(files["<m1@remote.test>"], "S")
    with_flags(files["<m2@remote.test>"], "F")
    with_flags(files["<m3@remote.test>"], "T")
    mbsync(conf)
    flags = server_flags(inst)
    assert "<m3@remote.test>" not in flags
    assert flags["<m1@remote.test>"] == {"\\Seen"}
    assert flags["<m2@remote.test>"] == {"\\Flagged"}
    assert flags["<m4@remote.test>"] == set()

    # Far -> near: a flag set and a message expunged by another IMAP client.
    m = login(inst)
    m.select("INBOX")
    typ, data = m.search(None, "HEADER", "Message-ID", "m4@remote.test")
    m.store(data[0].decode(), "+FLAGS", "(\\Answered)")
    typ, data = m.search(None, "HEADER", "Message-ID", "m2@remote.test")
    m.store(data[0].decode(), "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.logout()
    mbsync(conf)
    files = {mid_of(p): p for p in local_files(local)}
    assert set(files) == {"<m1@remote.test>", "<m4@remote.test>"}
    assert files["<m4@remote.test>"].name.endswith(":2,R")
    assert files["<m1@remote.test>"].name.endswith(":2,S")

    # A message written locally is uploaded (APPEND) to the far side's other folder.
    (local / "Archive").mkdir(exist_ok=True)
    for sub in ("cur", "new", "tmp"):
        (local / "Archive" / sub).mkdir(exist_ok=True)
    note = b"From: alice <" + ALICE.encode() + b">\r\nMessage-ID: <local@x>\r\n\r\nlocal\r\n"
    (local / "Archive" / "cur" / "1700000000.1_1.host:2,S").write_bytes(note)
    mbsync(conf)
    assert server_flags(inst, "Archive") == {"<local@x>": {"\\Seen"}}


# --- offlineimap ----------------------------------------------------------------------------

def test_offlineimap_downloads_and_pushes_flags(instance, tmp_path):
    need("offlineimap")
    inst = start(instance)
    for i in range(1, 4):
        deliver(inst, ALICE, [message(i)])
    der = ssl.PEM_cert_to_DER_cert(Path(cert_file(inst)).read_text())
    fingerprint = hashlib.sha256(der).hexdigest()
    local = tmp_path / "mail"
    conf = tmp_path / "offlineimaprc"
    conf.write_text(f"""
[general]
accounts = test
metadata = {tmp_path}/meta

[Account test]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {local}

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = {inst.ports['imaps']}
remoteuser = {ALICE}
remotepass = secret
ssl = yes
cert_fingerprint = {fingerprint}
folderfilter = lambda f: f == 'INBOX'
""")

    def sync():
        r = subprocess.run(["offlineimap", "-c", str(conf), "-o", "-u", "basic"],
                           capture_output=True, timeout=180)
        out = (r.stdout + r.stderr).decode(errors="replace")
        assert r.returncode == 0 and "ERROR" not in out, out

    sync()
    inbox = local / "INBOX"
    files = {mid_of(p): p for p in local_files(local)}
    assert set(files) == {f"<m{i}@remote.test>" for i in range(1, 4)}
    assert crlf(files["<m2@remote.test>"].read_bytes()) == stored(inst)["<m2@remote.test>"]
    with_flags(files["<m2@remote.test>"], "FS")
    sync()
    assert server_flags(inst)["<m2@remote.test>"] == {"\\Seen", "\\Flagged"}
    assert inbox.is_dir()


# --- neomutt in tmux ------------------------------------------------------------------------

class Tmux:
    def __init__(self, tmp_path):
        self.sock = str(tmp_path / "tmux.sock")

    def run(self, *args):
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True,
                              timeout=30)

    def screen(self):
        return self.run("capture-pane", "-p", "-t", "t").stdout

    def keys(self, *keys):
        self.run("send-keys", "-t", "t", *keys)

    def wait(self, text, timeout=20):
        wait_for(lambda: text in self.screen(), f"{text!r} on the screen:\n{self.screen()}",
                 timeout)

    def close(self):
        self.run("kill-server")


def test_neomutt_reads_flags_and_moves_a_message(instance, tmp_path):
    need("neomutt")
    need("tmux")
    inst = start(instance)
    deliver(inst, ALICE, [message(7, "the body neomutt shows")])
    sent = crlf(inst.messages(ALICE)[0])
    rc = tmp_path / "neomuttrc"
    rc.write_text(f"""
set folder = "imaps://127.0.0.1:{inst.ports['imaps']}/"
set imap_user = "{ALICE}"
set spoolfile = "+INBOX"
set imap_pass = "secret"
set ssl_verify_host = no
set certificate_file = "{tmp_path}/certs"
set header_cache = ""
set message_cachedir = ""
set mail_check = 1
set timeout = 1
set confirmappend = no
set sort = date
set pager_stop = yes
set wait_key = no
set move = no
set delete = yes
set tmpdir = "{tmp_path}"
""")
    # The instance's self-signed certificate is trusted by being in certificate_file; its
    # name is mail.example.test, which neomutt cannot resolve, hence 127.0.0.1 and no host check.
    shutil.copy(cert_file(inst), tmp_path / "certs")
    tmux = Tmux(tmp_path)
    env = f"HOME={tmp_path} TERM=xterm LC_ALL=C.UTF-8"
    try:
        r = tmux.run("new-session", "-d", "-s", "t", "-x", "160", "-y", "40",
                     f"env {env} neomutt -n -F {rc}")
        assert r.returncode == 0, r.stderr
        tmux.wait("message 7")
        tmux.keys("Enter")                       # read it
        tmux.wait("the body neomutt shows")
        tmux.keys("q")
        tmux.wait("message 7")
        tmux.keys("F")                           # flag it
        tmux.keys("$")                           # sync
        wait_for(lambda: server_flags(inst).get("<m7@remote.test>") == {"\\Seen", "\\Flagged"},
                 "\\Seen and \\Flagged on the server")
        tmux.keys("s")                           # save (move) to =Archive
        tmux.wait("Save to mailbox")
        tmux.keys("C-u", "=Archive", "Enter")
        tmux.keys("$")
        wait_for(lambda: "<m7@remote.test>" in server_flags(inst, "Archive"), "the move")
        tmux.keys("q")
        wait_for(lambda: "<m7@remote.test>" not in server_flags(inst), "INBOX without it")
    finally:
        tmux.close()
    m = login(inst)
    m.select("Archive", readonly=True)
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    assert data[0][1] == sent
    m.logout()
