"""sendmail for every local user (doc/pickup.md): a user who may not write the spool hands
the message to the pickup service over SPOOL/public/pickup, which names the uid the socket
reports (SO_PEERCRED) in the Received field and the log, whatever the request says. Also
the rest of sendmail(1)'s option set as mutt, bsd-mailx, cron and scripts use it: -bs
driven by smtplib, -bv, -q, -N/-R/-V, -C anywhere, and the sysexits statuses."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import BIN, DOMAIN

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None,
                                reason="needs root and runuser to act as another local user")

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN
SENDMAIL = str(BIN / "sendmail")


def nobody_uid():
    return int(subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout)


def as_nobody(inst, args, data=b"", env=None):
    """sendmail (or another program) run as the unprivileged user nobody."""
    e = dict(os.environ, POSTHORN_CONFIG=str(inst.etc), **(env or {}))
    return subprocess.run(["runuser", "-u", "nobody", "--", *args], input=data,
                          capture_output=True, env=e, timeout=60)


@pytest.fixture
def public_dir():
    """A directory the user nobody may use (pytest's tmp_path is under a 0700 directory)."""
    d = tempfile.mkdtemp(prefix="posthorn-pickup-")
    os.chmod(d, 0o777)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def users(instance):
    instance.add_user(ALICE)
    instance.add_user(BOB)
    instance.start()
    return instance


def test_an_unprivileged_user_submits_through_pickup(users):
    inst = users
    p = as_nobody(inst, [SENDMAIL, "-F", "No Body", ALICE], b"Subject: from nobody\n\nhello\n.\nafter dot\n")
    assert p.returncode == 0, p.stderr
    (msg,) = inst.wait_messages(ALICE, 1)
    head, _, body = msg.partition(b"\n\n")
    uid = nobody_uid()
    assert f"(Posthorn, from userid {uid})".encode() in head, head
    assert b'From: "No Body" <nobody@example.test>' in head or b"From: No Body <nobody@example.test>" in head, head
    assert b"Message-ID: <" in head and b"Date: " in head
    assert body == b"hello\n", body  # the single dot ended the message (no -i)
    inst.wait_log(f"uid={uid} from=<nobody@{DOMAIN}>")
    assert re.search(r"posthorn/pickup\[\d+\]: [0-9A-F]+: uid=%d from=<nobody@" % uid, inst.log())
    # The queue file belonged to mail_owner, never to nobody: nothing of nobody's in the spool.
    assert not list((inst.spool / "tmp").iterdir())


def test_bsd_mailx_sends_through_sendmail(users, tmp_path):
    """bsd-mailx runs /usr/sbin/sendmail, whatever its settings say: in a private mount
    namespace ours is bound over that path (the host's file is not touched)."""
    inst = users
    mail = shutil.which("bsd-mailx")
    if not mail or not shutil.which("unshare"):
        pytest.skip("bsd-mailx or unshare is not installed (t/deps)")
    if not os.path.exists("/usr/sbin/sendmail"):
        pytest.skip("no /usr/sbin/sendmail to bind over")
    script = (f"mount --bind {os.path.realpath(SENDMAIL)} /usr/sbin/sendmail && "
              f"exec runuser -u nobody -- {mail} -s 'mailx subject' {BOB}")
    env = dict(os.environ, POSTHORN_CONFIG=str(inst.etc), HOME=str(tmp_path))
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       input=b"body from mailx\n", capture_output=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    (msg,) = inst.wait_messages(BOB, 1)
    assert b"Subject: mailx subject" in msg and msg.endswith(b"body from mailx\n"), msg
    assert f"from userid {nobody_uid()}".encode() in msg


def test_neomutt_sends_through_sendmail(users, public_dir):
    """mutt in batch mode (no terminal) hands its message to $sendmail, 8-bit body and all."""
    inst = users
    if not shutil.which("neomutt"):
        pytest.skip("neomutt is not installed (t/deps)")
    rc = public_dir / "muttrc"
    rc.write_text(f'set sendmail="{SENDMAIL}"\nset use_from=yes\n'
                  f'set from="No Body <nobody@{DOMAIN}>"\nset record=""\nset charset="utf-8"\n')
    os.chmod(rc, 0o644)
    p = as_nobody(inst, ["neomutt", "-n", "-F", str(rc), "-s", "mutt subject \u2713", "--", ALICE],
                  "body from mutt \u2713\n".encode(), env={"HOME": str(public_dir)})
    assert p.returncode == 0, p.stderr
    (msg,) = inst.wait_messages(ALICE, 1)
    assert b"From: No Body <nobody@example.test>" in msg
    assert msg.endswith("body from mutt \u2713\n".encode()), msg
    assert f"from userid {nobody_uid()}".encode() in msg


def test_a_cron_job_mail_arrives(users):
    """Debian's cron mails a job's output with `sendmail -FCronDaemon -i -B8BITMIME -oem
    USER`; root's mail goes where the aliases send it."""
    inst = users
    (inst.etc / "aliases").write_text(f"root: {ALICE}\n")
    inst.posthorn("conf", "set", f"alias_maps=lmdb:{inst.etc}/aliases")
    inst.posthorn("map", "build", str(inst.etc / "aliases"))
    inst.posthorn("reload")
    time.sleep(1)
    cron = ("From: root (Cron Daemon)\nTo: root\nSubject: Cron <nobody@host> echo hi\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8bit\nX-Cron-Env: <SHELL=/bin/sh>\n\nhi \xe2\x9c\x93\n."
            "\nstill output\n").encode("latin-1")
    p = as_nobody(inst, [SENDMAIL, "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"], cron)
    assert p.returncode == 0, p.stderr
    (msg,) = inst.wait_messages(ALICE, 1)
    assert b"Subject: Cron <nobody@host> echo hi" in msg
    assert msg.endswith("hi \xe2\x9c\x93\n.\nstill output\n".encode("latin-1")), msg  # -i


def test_sendmail_bs_is_an_smtp_session_smtplib_can_drive(users):
    import smtplib
    inst = users
    ours, theirs = socket.socketpair()
    env = dict(os.environ, POSTHORN_CONFIG=str(inst.etc))
    proc = subprocess.Popen(["runuser", "-u", "nobody", "--", SENDMAIL, "-bs"], stdin=theirs,
                            stdout=theirs, env=env)
    theirs.close()

    class Stdio(smtplib.SMTP):
        """smtplib over the socket whose other end is sendmail's stdin and stdout."""
        def _get_socket(self, host, port, timeout):
            return ours

    try:
        s = Stdio()
        code, _ = s.connect("sendmail-bs", 25)
        assert code == 220
        s.ehlo("client.test")
        assert s.has_extn("dsn") and s.has_extn("pipelining") and s.has_extn("8bitmime")
        refused = s.sendmail(f"nobody@{DOMAIN}", [ALICE, "nosuch@bad@@x", f"nosuch@{DOMAIN}"],
                             b"Subject: over -bs\r\n\r\n.leading dot\r\nend\r\n",
                             rcpt_options=["NOTIFY=NEVER"])
        assert sorted(refused) == sorted(["nosuch@bad@@x", f"nosuch@{DOMAIN}"]), refused
        # an unknown user of ours is refused at RCPT, as smtpd does (Postfix's -bs is smtpd)
        assert refused[f"nosuch@{DOMAIN}"][0] == 550 and b"5.1.1" in refused[f"nosuch@{DOMAIN}"][1]
        code, _ = s.mail("<>")
        assert code == 250
        code, _ = s.mail(f"<{BOB}>")
        assert code == 503  # nested MAIL
        s.rset()
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            s.sendmail(BOB, ["@@"], b"x\r\n")
        s.quit()
    finally:
        ours.close()
        assert proc.wait(timeout=30) == 0
    (msg,) = inst.wait_messages(ALICE, 1)
    assert b"Subject: over -bs" in msg and msg.endswith(b"\n.leading dot\nend\n"), msg


def test_bv_reports_without_sending(users):
    inst = users
    p = as_nobody(inst, [SENDMAIL, "-bv", ALICE, f"nosuch@{DOMAIN}", "x@elsewhere.test"])
    assert p.returncode == 67, (p.stdout, p.stderr)  # EX_NOUSER: one is unknown
    out = p.stdout.decode()
    assert f"{ALICE}... deliverable: mailbox {ALICE}" in out
    assert f"nosuch@{DOMAIN}... undeliverable: unknown user" in out
    assert "x@elsewhere.test... deliverable: remote" in out
    p = as_nobody(inst, [SENDMAIL, "-bv", ALICE])
    assert p.returncode == 0
    time.sleep(0.5)
    assert inst.messages(ALICE) == []


def test_bv_follows_aliases_to_the_final_recipients(instance):
    """-bv of an alias names where the mail would end (members of members), and an alias
    loop as the bounce it would be (doc/operator.md)."""
    instance.add_user(ALICE)
    instance.add_user(BOB)
    (instance.etc / "aliases").write_text(
        "team: alice, sub\nsub: bob, far@elsewhere.test\nloopa: loopb\nloopb: loopa\n"
        "self: self, alice\n")
    instance.posthorn("map", "build", str(instance.etc / "aliases"))
    instance.start()
    p = as_nobody(instance, [SENDMAIL, "-bv", f"team@{DOMAIN}", f"self@{DOMAIN}"])
    assert p.returncode == 0, (p.stdout, p.stderr)
    out = p.stdout.decode()
    assert (f"team@{DOMAIN}... deliverable: alias for mailbox {ALICE}, mailbox {BOB}, "
            "remote far@elsewhere.test") in out, out
    assert f"self@{DOMAIN}... deliverable: alias for mailbox {ALICE}\n" in out, out
    p = as_nobody(instance, [SENDMAIL, "-bv", f"loopa@{DOMAIN}"])
    assert p.returncode == 67, (p.stdout, p.stderr)
    assert "undeliverable: alias loop: loopa@" in p.stdout.decode(), p.stdout


def test_q_flushes_for_any_user(users):
    p = as_nobody(users, [SENDMAIL, "-q"])
    assert p.returncode == 0, p.stderr
    users.wait_log(f"uid={nobody_uid()}: flush requested")


def test_dsn_options_reach_the_queue(users):
    """-N success and -V ENVID: the success notification comes back to the sender with the
    envelope ID; -R hdrs is accepted."""
    inst = users
    p = as_nobody(inst, [SENDMAIL, "-f", BOB, "-N", "success,failure", "-R", "hdrs", "-V",
                         "env-42", ALICE], b"Subject: dsn\n\nbody\n")
    assert p.returncode == 0, p.stderr
    inst.wait_messages(ALICE, 1)
    (dsn,) = inst.wait_messages(BOB, 1)
    assert b"Original-Envelope-Id: env-42" in dsn, dsn
    assert b"Action: delivered" in dsn


@pytest.mark.parametrize("args,data,status", [
    (["a b@@c"], b"x\n", 65),                       # EX_DATAERR: not an address
    (["-f", "bad address@", ALICE], b"x\n", 65),
    ([], b"Subject: none\n\n", 64),                   # EX_USAGE: no recipients
    (["-t"], b"Subject: none\n\n", 64),
    (["-Z", ALICE], b"x\n", 64),                      # unknown option
    (["-bd"], b"", 64),                               # no daemon mode
    (["-N", "sometimes", ALICE], b"x\n", 64),
    ([ALICE, "-C", "/nonexistent/posthorn"], b"x\n", 78),  # EX_CONFIG; -C after a recipient
])
def test_exit_statuses(users, args, data, status):
    p = as_nobody(users, [SENDMAIL, *args], data)
    assert p.returncode == status, (p.returncode, p.stderr)
    assert p.stderr.startswith(b"sendmail: "), p.stderr


def test_pickup_down_is_a_temporary_failure(users):
    users.stop()
    p = as_nobody(users, [SENDMAIL, ALICE], b"Subject: later\n\nx\n")
    assert p.returncode == 75, p.stderr  # EX_TEMPFAIL: cron and scripts retry later
    assert b"pickup" in p.stderr


def raw_request(inst, attrs, fds=()):
    """One pickup request from a client of our own; the answer, or b'' when closed."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(str(inst.spool / "public" / "pickup"))
    greeting = b""
    while not greeting.endswith(b"\n\n"):
        greeting += s.recv(4096)
    data = "".join(f"{k}={v}\n" for k, v in attrs).encode() + b"\n"
    if fds:
        socket.send_fds(s, [data[:1]], list(fds))
        data = data[1:]
    s.sendall(data)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
        if out.endswith(b"\n\n"):
            break
    s.close()
    return out


def test_pickup_refuses_what_sendmail_would_never_send(users):
    """A hand-made client: a pipe instead of the message, an attribute the protocol does not
    have (a uid of its own choosing), a bad recipient. Nothing is queued and the service
    goes on serving."""
    inst = users
    base = [("request", "submit"), ("sender", ALICE), ("nrcpt", "1"), ("rcpt_0", BOB)]
    r, w = os.pipe()
    os.write(w, b"Subject: pipe\n\nx\n")
    os.close(w)
    assert b"status=65" in raw_request(inst, base, [r])
    os.close(r)
    memfd = os.memfd_create("m")
    os.write(memfd, b"Subject: spoof\n\nx\n")
    assert raw_request(inst, base + [("uid", "0")], [memfd]) == b""  # closed
    assert b"status=65" in raw_request(inst, [("request", "submit"), ("sender", ALICE),
                                              ("nrcpt", "1"), ("rcpt_0", "a b@@c")], [memfd])
    reply = raw_request(inst, base, [memfd])
    assert b"status=0" in reply and b"queue_id=" in reply, reply
    (msg,) = inst.wait_messages(BOB, 1)
    assert b"Subject: spoof" in msg and b"(Posthorn, from userid 0)" in msg
    os.close(memfd)


def test_front_ends_take_C_anywhere(users):
    """sendmail -bp -C DIR, mailq -C DIR and newaliases -C DIR read DIR's configuration (no
    POSTHORN_CONFIG here); without one they exit 78 (EX_CONFIG) naming the directory."""
    inst = users
    env = {k: v for k, v in os.environ.items() if k != "POSTHORN_CONFIG"}
    (inst.etc / "aliases").write_text(f"root: {ALICE}\n")
    for args in ([str(BIN / "sendmail"), "-bp", "-C", str(inst.etc)],
                 [str(BIN / "mailq"), "-C", str(inst.etc)],
                 [str(BIN / "newaliases"), "-C", str(inst.etc / "main.cf")]):
        p = subprocess.run(args, capture_output=True, env=env, timeout=60)
        assert p.returncode == 0, (args, p.stdout, p.stderr)
    p = subprocess.run([str(BIN / "newaliases"), "-C", "/nonexistent/etc"], capture_output=True,
                       env=env, timeout=60)
    assert p.returncode == 78 and p.stderr.startswith(b"newaliases: "), p.stderr
    assert b"/nonexistent/etc" in p.stderr


def test_qR_flushes_the_mail_for_one_domain(users):
    """sendmail -qR SITE (as root): only the deferred mail with a recipient in SITE goes back
    to incoming (the log names what moved)."""
    inst = users
    # No retry of its own may take the deferred mail away while -qR looks at it.
    inst.set_conf(queue_run_delay="300s", minimal_backoff_time="300s", maximal_backoff_time="600s")
    inst.reload()
    inst.wait_log("reload -- version")
    inst.wait_configured()
    env = dict(os.environ, POSTHORN_CONFIG=str(inst.etc))
    ids = {}
    for dom in ("one.example", "two.example"):
        p = subprocess.run([SENDMAIL, "-v", f"x@{dom}"], input=b"Subject: away\n\nx\n", env=env,
                           capture_output=True, check=True)
        ids[dom] = p.stderr.decode().split()[-1]
    deadline = time.time() + 30
    while len(inst.queue_files("deferred")) < 2:
        assert time.time() < deadline, inst.queue_files()
        time.sleep(0.1)
    p = subprocess.run([SENDMAIL, "-qR", "one.example"], capture_output=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    moved = re.findall(r"posthorn/sendmail\[\d+\]: ([0-9A-F]+): moved to incoming", inst.log())
    assert moved == [ids["one.example"]], (moved, ids)
