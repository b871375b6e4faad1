"""posthorn migrate (doc/migration.md) from a real Dovecot (Debian's dovecot-imapd and
dovecot-pop3d, run privately on loopback high ports): Dovecot's own tools make the Maildirs
(dovecot-lda delivers, IMAP sets flags, keywords, folders, subscriptions and expunges, POP3
serves UIDLs, doveadm pw makes the password hashes), a Postfix main.cf and its text tables
list domains, mailboxes and aliases; after the migration IMAP and POP3 against Posthorn
must show the same UIDVALIDITY, UIDs, next UIDs, flags, keywords, folders, subscriptions
and UIDLs, the users log in with their old passwords, the source files are untouched,
unusable lines are named file:line, a dry run changes nothing and a second run adds
nothing."""
import hashlib
import imaplib
import os
import poplib
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import pick_offset

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
LDA = "/usr/lib/dovecot/dovecot-lda"
pytestmark = pytest.mark.skipif(not (os.path.exists(DOVECOT) and os.path.exists(LDA) and os.geteuid() == 0),
                                reason="needs Debian's dovecot-imapd and dovecot-pop3d, and root")

USERS = {"alice@example.test": ("SHA512-CRYPT", "alice pw"),
         "bob@example.test": ("BLF-CRYPT", "bob:pw with spaces"),
         "carol@example.test": ("ARGON2ID", "carol pw")}
FOLDER_UTF8 = "Büro"
FOLDER = "B&APw-ro"  # modified UTF-7, as IMAP4rev1 clients and Dovecot's Maildir name it


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"port {port} never opened")


class Dovecot:
    def __init__(self, root: Path):
        self.root = root
        off = pick_offset()
        self.imap, self.pop3 = 143 + off, 110 + off
        for d in ("run", "state", "log", "mail", "home"):
            (root / d).mkdir(parents=True)
        shutil.chown(root / "mail", "nobody", "nogroup")
        shutil.chown(root / "home", "nobody", "nogroup")
        self.conf = root / "dovecot.conf"
        self.conf.write_text(f"""
instance_name = dovecot-migtest-{off}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/log/dovecot.log
listen = 127.0.0.1
protocols = imap pop3
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
mail_location = maildir:{root}/mail/%d/%n
passdb {{
  driver = passwd-file
  args = scheme=CRYPT username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/home/%d/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")

    def hash(self, scheme, password):
        out = subprocess.run(["doveadm", "-c", str(self.conf), "pw", "-s", scheme, "-p", password],
                             capture_output=True, text=True, check=True).stdout.strip()
        assert out.startswith("{" + scheme + "}"), out
        return out

    def start(self):
        subprocess.run([DOVECOT, "-c", str(self.conf)], check=True)
        wait_port(self.imap)
        wait_port(self.pop3)

    def stop(self):
        subprocess.run(["doveadm", "-c", str(self.conf), "stop"], capture_output=True)
        pidfile = self.root / "run" / "master.pid"
        deadline = time.time() + 20
        while pidfile.exists() and time.time() < deadline:
            time.sleep(0.1)

    def deliver(self, user, subject, body="Hello.\n"):
        msg = (f"From: sender@remote.test\nTo: {user}\nSubject: {subject}\n"
               f"Message-ID: <{subject.replace(' ', '-')}@remote.test>\n\n{body}").encode()
        subprocess.run([LDA, "-c", str(self.conf), "-d", user, "-f", "sender@remote.test"],
                       input=msg, check=True, capture_output=True)


def imap_state(port, user, password, folders):
    """{folder: (UIDVALIDITY, UIDNEXT, [(uid, flags)])} and the subscribed names."""
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(user, password)
    state = {}
    for f in folders:
        typ, _ = m.select(f'"{f}"', readonly=True)
        assert typ == "OK", (user, f)
        uv = int(m.untagged_responses["UIDVALIDITY"][0])
        nxt = int(m.untagged_responses["UIDNEXT"][0])
        msgs = []
        typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
        for line in data:
            if not line:
                continue
            mo = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\) UID (\d+)", line)
            if mo:
                uid = int(mo.group(1) or mo.group(4))
                flags = (mo.group(2) if mo.group(2) is not None else mo.group(3)).split()
                msgs.append((uid, sorted(f.decode() for f in flags if f != b"\\Recent")))
        state[f] = (uv, nxt, sorted(msgs))
        m.close()
    typ, data = m.lsub('""', "*")
    # the names subscribed: Posthorn's imapd also lists INBOX as subscribed, always, and a
    # \Noselect parent of a subscribed name (doc/imapd.md); neither is in the file
    subs = sorted(re.search(rb'"([^"]*)"$|(\S+)$', d).group(0).strip(b'"').decode()
                  for d in data if d and b"\\Noselect" not in d)
    subs = [n for n in subs if n != "INBOX"]
    m.logout()
    return state, subs


def pop3_uidls(port, user, password):
    p = poplib.POP3("127.0.0.1", port)
    p.user(user)
    p.pass_(password)
    uidls = [u.decode() for u in p.uidl()[1]]
    p.quit()
    return uidls


def tree_digest(root):
    """Every file under root with its content hash and mtime: the source must stay as it is."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            st = os.lstat(p)
            with open(p, "rb") as fh:
                out[p] = (hashlib.sha256(fh.read()).hexdigest(), st.st_mtime_ns)
    return out


@pytest.fixture
def dovecot():
    root = Path(tempfile.mkdtemp(prefix="migtest.", dir="/tmp"))
    os.chmod(root, 0o755)
    d = Dovecot(root)
    try:
        yield d
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


def make_source(dv):
    """Users, mail, flags, keywords, folders and subscriptions made by Dovecot; the Postfix
    side's main.cf and tables. Returns what Dovecot showed, per user."""
    lines = ["# Dovecot passwd-file", ""]
    for user, (scheme, pw) in USERS.items():
        lines.append(f"{user}:{dv.hash(scheme, pw)}::::{dv.root}/home/x::userdb_quota_rule=*:storage=1G")
    lines.append("dave@example.test:{CRAM-MD5}e02d374fde0dc75a17a557039a3a5338c7743304777dccd376f332bee68d2cf6")
    (dv.root / "passwd").write_text("\n".join(lines) + "\n")
    dv.start()
    for i in range(5):
        dv.deliver("alice@example.test", f"alice {i}")
    for i in range(2):
        dv.deliver("bob@example.test", f"bob {i}")
    m = imaplib.IMAP4("127.0.0.1", dv.imap)
    m.login("alice@example.test", "alice pw")
    m.select("INBOX")
    m.store("1", "+FLAGS", "(\\Deleted)")
    m.expunge()                                             # a gap in the UIDs
    m.store("1", "+FLAGS", "(\\Seen)")
    m.store("2", "+FLAGS", "(\\Flagged \\Answered $Label1)")
    m.store("3", "+FLAGS", "(Important $Label1)")
    for f in ("Sent", "Archive.2024", FOLDER):
        assert m.create(f'"{f}"')[0] == "OK"
    m.append("Sent", "(\\Seen)", None, b"From: alice@example.test\r\nSubject: sent\r\n\r\nsent\r\n")
    m.append(f'"{FOLDER}"', "(\\Draft Work)", None, b"Subject: draft\r\n\r\nx\r\n")
    m.subscribe("Sent")
    m.subscribe(f'"{FOLDER}"')
    m.subscribe("Archive.2024")
    m.logout()
    folders = {"alice@example.test": ["INBOX", "Sent", "Archive.2024", FOLDER],
               "bob@example.test": ["INBOX"], "carol@example.test": []}
    seen = {}
    for user, fl in folders.items():
        pw = USERS[user][1]
        seen[user] = imap_state(dv.imap, user, pw, fl) if fl else None
    uidls = {u: pop3_uidls(dv.pop3, u, USERS[u][1]) for u in ("alice@example.test", "bob@example.test")}
    dv.stop()
    pf = dv.root / "postfix"
    pf.mkdir()
    (pf / "main.cf").write_text(f"""# the Postfix side
virtual_mailbox_domains = example.test other.test
virtual_mailbox_base = {dv.root}/mail
virtual_mailbox_maps = hash:$config_directory/vmailbox
virtual_alias_maps = hash:$config_directory/virtual
""")
    (pf / "vmailbox").write_text("alice@example.test example.test/alice/\n"
                                 "bob@example.test  example.test/bob/\n"
                                 "carol@example.test example.test/carol/\n"
                                 "erin@example.test example.test/erin\n")
    (pf / "virtual").write_text("# aliases\ninfo@example.test alice@example.test,\n"
                                "  bob@example.test\n@other.test carol@example.test\n"
                                "evil@example.test |/bin/sh\n")
    return folders, seen, uidls


def test_migrate_from_dovecot(dovecot, instance):
    folders, seen, uidls = make_source(dovecot)
    before = tree_digest(dovecot.root / "mail")
    args = ["migrate", "--postfix", str(dovecot.root / "postfix"),
            "--passwd-file", str(dovecot.root / "passwd")]
    # a dry run says what it would do and changes nothing
    r = instance.posthorn(*args, "--dry-run", check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "would add user alice@example.test" in r.stdout
    assert "alice@example.test: INBOX: would import 4 of 4 messages" in r.stdout
    assert instance.posthorn("user", "list").stdout.strip() == ""
    assert not (instance.mailbase / "example.test" / "alice").exists()

    r = instance.posthorn(*args, check=False)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    passwd = dovecot.root / "passwd"
    # every problem by file:line; dave's unusable hash keeps him out
    assert f"{passwd}:6: dave@example.test: unsupported password scheme {{CRAM-MD5}}" in r.stderr
    assert f"{dovecot.root}/postfix/vmailbox:4: erin@example.test: " in r.stderr and "mbox" in r.stderr
    assert f"{dovecot.root}/postfix/virtual:5: evil@example.test: target \"|/bin/sh\" is not an address" in r.stderr
    users = instance.posthorn("user", "list").stdout
    assert "alice@example.test" in users and "carol@example.test" in users and "dave@" not in users
    assert "quota 1073741824" in users
    assert instance.posthorn("map", "query", f"lmdb:{instance.etc}/aliases", "info@example.test").stdout.strip() \
        == "alice@example.test, bob@example.test"
    assert "evil" not in (instance.etc / "aliases").read_text()
    assert instance.conf("pop3d_uidl_format") == "%08Xu%08Xv"
    assert tree_digest(dovecot.root / "mail") == before, "the source Maildirs changed"

    # again: nothing new
    r2 = instance.posthorn(*args, check=False)
    assert "added" not in r2.stdout and "imported 0 of 4 messages" in r2.stdout, r2.stdout
    assert r2.stderr.count("\n") == r.stderr.count("\n")

    instance.set_conf(login_allow_plaintext_auth="yes", login_failure_delay="0")
    instance.start()
    instance.wait_port(instance.ports["imap"])
    instance.wait_port(instance.ports["pop3"])
    for user, fl in folders.items():
        if not fl:
            continue
        got = imap_state(instance.ports["imap"], user, USERS[user][1], fl)
        assert got == seen[user], (user, got, seen[user])
    for user, want in uidls.items():
        assert pop3_uidls(instance.ports["pop3"], user, USERS[user][1]) == want
    # carol had no mail but logs in with her Argon2 password
    m = imaplib.IMAP4("127.0.0.1", instance.ports["imap"])
    m.login("carol@example.test", "carol pw")
    m.logout()
    with pytest.raises(imaplib.IMAP4.error):
        m = imaplib.IMAP4("127.0.0.1", instance.ports["imap"])
        m.login("bob@example.test", "wrong")


def postfix_dir(tmp_path, main_cf):
    pf = tmp_path / "postfix"
    pf.mkdir()
    (pf / "main.cf").write_text("virtual_mailbox_domains = example.test\n" + main_cf)
    return pf


def test_mynetworks_is_carried_over_item_by_item(instance, tmp_path):
    """Servers that relayed through Postfix without logging in keep doing so: its addresses
    and networks are copied; a table, a file or a name is left out with a warning (that only
    trusts less)."""
    pf = postfix_dir(tmp_path, "mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128,\n"
                               "  192.0.2.0/24 hash:/etc/postfix/network_table\n"
                               "  /etc/postfix/trusted web1.example.test 198.51.100.7\n")
    r = instance.posthorn("migrate", "--postfix", str(pf), "--dry-run", check=False)
    assert "would set mynetworks = " in r.stdout, r.stdout + r.stderr
    assert instance.conf("mynetworks") == ""
    r = instance.posthorn("migrate", "--postfix", str(pf), check=False)
    out = r.stdout + r.stderr
    want = "127.0.0.0/8, [::ffff:127.0.0.0]/104, [::1]/128, 192.0.2.0/24, 198.51.100.7"
    assert instance.conf("mynetworks") == want, out
    for left in ("hash:/etc/postfix/network_table", "/etc/postfix/trusted", "web1.example.test"):
        assert f'{pf}/main.cf: mynetworks: "{left}" not carried over' in r.stderr, out
    assert instance.posthorn("check", check=False).returncode == 0
    # again: nothing changes, nothing is said twice
    r = instance.posthorn("migrate", "--postfix", str(pf), check=False)
    assert "set mynetworks" not in r.stdout and instance.conf("mynetworks") == want


def test_a_mynetworks_exception_carries_nothing_over(instance, tmp_path):
    """Postfix's "!192.0.2.7" inside 192.0.2.0/24 cannot be said in Posthorn's list, and
    leaving it out would trust 192.0.2.7: nothing is copied, and the run fails."""
    pf = postfix_dir(tmp_path, "mynetworks = !192.0.2.7 192.0.2.0/24\n")
    r = instance.posthorn("migrate", "--postfix", str(pf), check=False)
    assert r.returncode == 1
    assert f'{pf}/main.cf: mynetworks: "!192.0.2.7": an exception' in r.stderr, r.stderr
    assert instance.conf("mynetworks") == ""


def test_postfix_default_mynetworks_is_explained_not_copied(instance, tmp_path):
    pf = postfix_dir(tmp_path, "")
    r = instance.posthorn("migrate", "--postfix", str(pf), check=False)
    assert "sets no mynetworks: Postfix trusted this host's own networks" in r.stdout, r.stdout
    assert instance.conf("mynetworks") == ""
