"""pop3d: RFC 1939/2449/2595/5034 behaviour with poplib and raw sockets on a real instance.
Mail goes in through smtpd and comes out of POP3 byte-identical. Also the privilege split
(login part as mail_owner, mailbox part as vmail_owner), the maildrop lock, UPDATE
semantics, UIDL stability across a restart, and the error paths. The helpers here are
shared by test_pop3_clients.py and test_pop3_big.py."""
import base64
import os
import poplib
import pwd
import smtplib
import socket
import ssl
import time

import pytest

from conftest import DOMAIN, body_of

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN


# --- helpers ------------------------------------------------------------------------

def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def start_pop3(instance, **conf):
    """Users alice and bob, fast failure replies, then start and wait for the POP3 ports."""
    settings = {"login_failure_delay": "0"}
    settings.update(conf)
    instance.set_conf(**settings)
    instance.add_user(ALICE)
    instance.add_user(BOB)
    instance.start()
    instance.wait_port(instance.ports["pop3"])
    instance.wait_port(instance.ports["pop3s"])
    return instance


@pytest.fixture
def pop3(instance):
    """A running instance whose POP3 service allows plaintext logins (loopback tests)."""
    return start_pop3(instance, login_allow_plaintext_auth="yes")


@pytest.fixture
def pop3_strict(instance):
    """A running instance with the default policy: no plaintext authentication."""
    return start_pop3(instance)


def deliver(inst, rcpt, messages, timeout=60):
    """Send messages (bytes with CRLF) in one SMTP session; wait until all are stored."""
    before = len(inst.messages(rcpt))
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], local_hostname="client.test", timeout=60) as s:
        for m in messages:
            s.sendmail("sender@remote.test", [rcpt], m)
    inst.wait_messages(rcpt, before + len(messages), timeout=timeout)


def sample_messages(n=3, tag="m"):
    out = []
    for i in range(n):
        out.append((f"From: Sender <sender@remote.test>\r\nTo: {ALICE}\r\n"
                    f"Subject: {tag} {i}\r\nMessage-ID: <{tag}-{i}@remote.test>\r\n\r\n"
                    f"Hello {i}.\r\n.leading dot\r\n..two dots\r\n.\r\nnot the end\r\n"
                    f"trailing space \r\n\r\nlast line {i}\r\n").encode())
    return out


def login(inst, user=ALICE, password="secret", tls=None):
    """tls: None plaintext, "stls", or "implicit" (port 995)."""
    if tls == "implicit":
        p = poplib.POP3_SSL("127.0.0.1", inst.ports["pop3s"], timeout=30, context=tls_context())
    else:
        p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
        if tls == "stls":
            p.stls(tls_context())
    p.user(user)
    p.pass_(password)
    return p


def login_retry(inst, **kw):
    """Log in, retrying while an ended session's lock is still being released."""
    deadline = time.time() + 10
    while True:
        try:
            return login(inst, **kw)
        except poplib.error_proto as e:
            if b"IN-USE" not in e.args[0] or time.time() > deadline:
                raise
            time.sleep(0.1)


def retr_bytes(p, n):
    """RETR through poplib: lines are dot-unstuffed; put the CRLFs back."""
    resp, lines, octets = p.retr(n)
    return b"".join(line + b"\r\n" for line in lines), resp


def fetched_equals_sent(fetched, sent):
    """What POP3 served, minus the headers Posthorn adds, is exactly what was sent."""
    assert body_of(fetched) == sent


def same_messages(fetched, sent):
    """Every message sent was fetched byte-identical (local-mda processes deliver in
    parallel, so the maildrop's order need not be the order of sending)."""
    assert sorted(body_of(f) for f in fetched) == sorted(sent)


class Raw:
    """A raw POP3 connection for exact bytes and error paths."""

    def __init__(self, inst, implicit_tls=False):
        self.sock = socket.create_connection(("127.0.0.1", inst.ports["pop3s" if implicit_tls else "pop3"]),
                                             timeout=30)
        if implicit_tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")
        self.greeting = self.line()

    def line(self):
        data = self.f.readline(100000)
        assert data, "connection closed"
        return data

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.line()

    def multi(self):
        """A multi-line body after +OK: raw bytes with stuffing undone, up to the '.'."""
        out = []
        while True:
            line = self.line()
            if line == b".\r\n":
                return b"".join(out)
            out.append(line[1:] if line.startswith(b".") else line)

    def starttls(self):
        self.f.close()
        self.sock = tls_context().wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            return self.f.readline() == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass


# --- delivery and retrieval -------------------------------------------------------

@pytest.mark.parametrize("tls", [None, "stls", "implicit"])
def test_poplib_fetches_byte_identical(pop3, tls):
    sent = sample_messages(3, tag=f"t{tls}")
    deliver(pop3, ALICE, sent)
    p = login(pop3, tls=tls)
    count, size = p.stat()
    assert count == 3
    listing = {int(n): int(o) for n, o in (x.split() for x in p.list()[1])}
    fetched = []
    for i in range(1, 4):
        data, resp = retr_bytes(p, i)
        fetched.append(data)
        assert len(data) == listing[i] == int(resp.split()[1]), "LIST/RETR octets differ from the bytes sent"
    same_messages(fetched, sent)
    assert size == sum(listing.values())
    assert p.quit().startswith(b"+OK")
    pop3.wait_log("Disconnected: Logged out top=0/0, retr=3/")
    log = pop3.log()
    assert f"Login: user=<{ALICE}>, method=USER, rip=127.0.0.1, lip=127.0.0.1" in log
    if tls:
        assert f"Login: user=<{ALICE}>, method=USER, rip=127.0.0.1, lip=127.0.0.1, TLS" in log
    assert "secret" not in log


def test_raw_retr_is_crlf_and_dot_stuffed(pop3):
    deliver(pop3, ALICE, sample_messages(1))
    r = Raw(pop3)
    assert r.cmd(f"USER {ALICE}").startswith(b"+OK")
    assert r.cmd("PASS secret") == b"+OK Logged in.\r\n"
    assert r.cmd("RETR 1").startswith(b"+OK")
    raw = []
    while True:
        line = r.line()
        if line == b".\r\n":
            break
        raw.append(line)
    assert all(l.endswith(b"\r\n") and b"\n" not in l[:-1] for l in raw)
    assert b"...\r\n" not in raw and b"..leading dot\r\n" in raw and b"...two dots\r\n" in raw
    assert b"..\r\n" in raw  # the lone "." line of the body
    r.cmd("QUIT")
    r.close()


def test_top_returns_headers_and_n_lines(pop3):
    msg = (b"Subject: top\r\nX-A: 1\r\n\r\nbody 1\r\n.body 2\r\nbody 3\r\nbody 4\r\n")
    deliver(pop3, ALICE, [msg])
    p = login(pop3)
    head = body_of(b"".join(l + b"\r\n" for l in p.top(1, 0)[1]))
    assert head == b"Subject: top\r\nX-A: 1\r\n\r\n"
    two = body_of(b"".join(l + b"\r\n" for l in p.top(1, 2)[1]))
    assert two == b"Subject: top\r\nX-A: 1\r\n\r\nbody 1\r\n.body 2\r\n"
    many = body_of(b"".join(l + b"\r\n" for l in p.top(1, 100)[1]))
    assert many == msg
    p.quit()


def test_uidl_is_stable_across_sessions_and_restart(pop3):
    deliver(pop3, ALICE, sample_messages(3))
    p = login(pop3)
    first = p.uidl()[1]
    one = p.uidl(2)
    p.quit()
    assert len(set(u.split()[1] for u in first)) == 3
    assert one.split()[1:] == first[1].split()
    pop3.stop()
    pop3.start()
    pop3.wait_port(pop3.ports["pop3"])
    p = login_retry(pop3)
    assert p.uidl()[1] == first
    p.quit()
    # New mail gets a new UIDL; old ones keep theirs.
    deliver(pop3, ALICE, sample_messages(1, tag="new"))
    p = login_retry(pop3)
    again = p.uidl()[1]
    assert again[:3] == first and len(again) == 4
    p.quit()


def test_uidl_format_parameter(pop3):
    """pop3d_uidl_format: the default keeps Posthorn's "UIDVALIDITY-UID"; Dovecot's
    "%08Xu%08Xv" (what posthorn migrate sets) gives the same numbers in hex, UID first;
    "%f" the Maildir base names; a template pop3d cannot serve is refused by check."""
    deliver(pop3, ALICE, sample_messages(2))
    p = login(pop3)
    plain = [u.split()[1].decode() for u in p.uidl()[1]]
    p.quit()
    pairs = [tuple(int(x) for x in u.split("-")) for u in plain]
    assert all(len(u.split("-")) == 2 for u in plain) and pairs[0][0] == pairs[1][0]
    pop3.set_conf(pop3d_uidl_format="%08Xu%08Xv")
    pop3.reload()
    pop3.wait_configured()
    p = login_retry(pop3)
    hexed = [u.split()[1].decode() for u in p.uidl()[1]]
    one = p.uidl(2).split()[2].decode()
    p.quit()
    assert hexed == [f"{uid:08x}{uv:08x}" for uv, uid in pairs] and one == hexed[1]
    pop3.set_conf(pop3d_uidl_format="%f")
    pop3.reload()
    pop3.wait_configured()
    p = login_retry(pop3)
    names = sorted(u.split()[1].decode() for u in p.uidl()[1])
    p.quit()
    md = pop3.maildir(ALICE)
    files = sorted(f.name.split(":2,")[0] for d in ("new", "cur") for f in (md / d).iterdir())
    assert names == files
    (pop3.etc / "main.cf").write_text((pop3.etc / "main.cf").read_text() + "pop3d_uidl_format = %m\n")
    r = pop3.posthorn("check", check=False)
    assert r.returncode == 1 and "pop3d_uidl_format = %m: %m (an MD5 of the headers) exists for mbox only" in r.stderr


# --- UPDATE state -------------------------------------------------------------------

def test_dele_quit_removes_exactly_those(pop3):
    sent = sample_messages(4)
    deliver(pop3, ALICE, sent)
    p = login(pop3)
    uidls = [u.split()[1] for u in p.uidl()[1]]
    kept = [retr_bytes(p, i)[0] for i in (1, 3)]
    same_messages(kept + [retr_bytes(p, i)[0] for i in (2, 4)], sent)
    p.dele(2)
    p.dele(4)
    with pytest.raises(poplib.error_proto):
        p.retr(2)  # deleted messages cannot be retrieved
    assert p.stat()[0] == 2
    assert p.quit().startswith(b"+OK")
    assert len(pop3.messages(ALICE)) == 2
    p = login_retry(pop3)
    assert [u.split()[1] for u in p.uidl()[1]] == [uidls[0], uidls[2]]
    assert [retr_bytes(p, 1)[0], retr_bytes(p, 2)[0]] == kept
    p.quit()
    pop3.wait_log("del=2/4")


def test_dele_rset_and_dropped_connection_remove_nothing(pop3):
    deliver(pop3, ALICE, sample_messages(3))
    p = login(pop3)
    p.dele(1)
    p.dele(2)
    assert p.rset().startswith(b"+OK")
    assert p.stat()[0] == 3
    p.quit()
    assert len(pop3.messages(ALICE)) == 3
    r = Raw(pop3)
    r.cmd(f"USER {ALICE}")
    assert r.cmd("PASS secret").startswith(b"+OK")
    assert r.cmd("DELE 1").startswith(b"+OK")
    assert r.cmd("DELE 3").startswith(b"+OK")
    r.close()  # no QUIT: no UPDATE
    p = login_retry(pop3)
    assert p.stat()[0] == 3
    p.quit()
    assert len(pop3.messages(ALICE)) == 3


def test_concurrent_session_gets_in_use(pop3):
    deliver(pop3, ALICE, sample_messages(1))
    first = login(pop3)
    r = Raw(pop3)
    r.cmd(f"USER {ALICE}")
    reply = r.cmd("PASS secret")
    assert reply.startswith(b"-ERR [IN-USE]"), reply
    # Still in the AUTHORIZATION state: once the first session ends, logging in works.
    assert r.cmd("STAT").startswith(b"-ERR")
    first.quit()
    deadline = time.time() + 10
    while True:
        r.cmd(f"USER {ALICE}")
        reply = r.cmd("PASS secret")
        if reply.startswith(b"+OK") or time.time() > deadline:
            break
        time.sleep(0.1)
    assert reply == b"+OK Logged in.\r\n"
    assert r.cmd("STAT").startswith(b"+OK 1 ")
    r.cmd("QUIT")
    # Another user's mailbox is not locked by alice's session.
    a = login_retry(pop3)
    b = login(pop3, user=BOB)
    assert b.stat()[0] == 0
    a.quit()
    b.quit()


def test_mail_arriving_during_a_session_shows_up_next_time(pop3):
    deliver(pop3, ALICE, sample_messages(1))
    p = login(pop3)
    deliver(pop3, ALICE, sample_messages(1, tag="later"))  # local-mda is not blocked
    assert p.stat()[0] == 1
    p.quit()
    p = login_retry(pop3)
    assert p.stat()[0] == 2
    p.quit()


# --- authentication ----------------------------------------------------------------

def b64(s):
    return base64.b64encode(s.encode()).decode()


def test_sasl_plain_and_login(pop3):
    r = Raw(pop3)
    assert r.cmd(f"AUTH PLAIN {b64(chr(0) + ALICE + chr(0) + 'secret')}") == b"+OK Logged in.\r\n"
    r.cmd("QUIT")
    r.close()
    r = Raw(pop3)  # continuation, with an authorization identity equal to the user
    assert r.cmd("AUTH PLAIN") == b"+ \r\n"
    deadline = time.time() + 10
    reply = r.cmd(b64(ALICE + chr(0) + ALICE + chr(0) + "secret"))
    while reply.startswith(b"-ERR [IN-USE]") and time.time() < deadline:
        time.sleep(0.1)
        reply = r.cmd(f"AUTH PLAIN {b64(chr(0) + ALICE + chr(0) + 'secret')}")
    assert reply.startswith(b"+OK"), reply
    r.cmd("QUIT")
    r.close()
    r = Raw(pop3)
    assert r.cmd("AUTH LOGIN") == b"+ VXNlcm5hbWU6\r\n"
    assert r.cmd(b64(BOB)) == b"+ UGFzc3dvcmQ6\r\n"
    assert r.cmd(b64("secret")).startswith(b"+OK")
    r.cmd("QUIT")
    r.close()
    r = Raw(pop3)  # cancel, bad base64, other identity, unknown mechanism
    assert r.cmd("AUTH PLAIN") == b"+ \r\n"
    assert r.cmd("*").startswith(b"-ERR")
    assert r.cmd("AUTH PLAIN !!!!").startswith(b"-ERR")
    assert r.cmd(f"AUTH PLAIN {b64(BOB + chr(0) + ALICE + chr(0) + 'secret')}").startswith(b"-ERR [AUTH]")
    assert r.cmd("AUTH CRAM-MD5").startswith(b"-ERR")
    assert r.cmd("CAPA").startswith(b"+OK")
    assert b"SASL PLAIN LOGIN\r\n" in r.multi()
    r.cmd("QUIT")
    log = pop3.log()
    assert f"Login: user=<{ALICE}>, method=PLAIN" in log and f"Login: user=<{BOB}>, method=LOGIN" in log


def test_wrong_password_and_unknown_user_keep_the_session(pop3):
    r = Raw(pop3)
    for user, pw in ((ALICE, "wrong"), ("nobody@" + DOMAIN, "secret"), ("x" * 400, "x")):
        assert r.cmd(f"USER {user}").startswith(b"+OK")
        reply = r.cmd(f"PASS {pw}")
        assert reply == b"-ERR [AUTH] Authentication failed.\r\n", reply
    assert r.cmd("PASS secret").startswith(b"-ERR")  # USER is needed again
    r.cmd(f"USER {ALICE}")
    assert r.cmd("PASS secret") == b"+OK Logged in.\r\n"
    r.cmd("QUIT")
    log = pop3.log()
    assert f"authentication failed: user=<{ALICE}>, method=USER, rip=127.0.0.1" in log
    assert "wrong" not in log


def test_failure_delay_and_limit(instance):
    inst = start_pop3(instance, login_allow_plaintext_auth="yes", login_failure_delay="1s",
                      login_max_failures="3")
    r = Raw(inst)
    r.cmd(f"USER {ALICE}")
    t = time.time()
    assert r.cmd("PASS wrong").startswith(b"-ERR [AUTH]")
    assert time.time() - t >= 0.9, "the failure reply was not delayed"
    # A NOOP sent during the delay is answered after it, in order.
    t = time.time()
    r.send(f"USER {ALICE}\r\nPASS wrong\r\nNOOP\r\n".encode())
    assert r.line().startswith(b"+OK")
    assert r.line().startswith(b"-ERR [AUTH]")
    assert r.line().startswith(b"-ERR")  # NOOP is not valid before login
    assert time.time() - t >= 0.9
    r.cmd(f"USER {ALICE}")
    assert r.cmd("PASS wrong").startswith(b"-ERR [AUTH] Authentication failed. Too many")
    assert r.closed()


def test_plaintext_auth_refused_before_stls(pop3_strict):
    r = Raw(pop3_strict)
    assert r.cmd("CAPA").startswith(b"+OK")
    caps = r.multi()
    assert b"STLS\r\n" in caps and b"USER\r\n" not in caps and b"SASL" not in caps
    assert r.cmd(f"USER {ALICE}").startswith(b"-ERR")
    assert r.cmd(f"AUTH PLAIN {b64(chr(0) + ALICE + chr(0) + 'secret')}").startswith(b"-ERR")
    # Commands pipelined behind STLS are discarded, never run inside TLS (RFC 2595 sec 4).
    r.send(b"STLS\r\nCAPA\r\n")
    assert r.line() == b"+OK Begin TLS negotiation now.\r\n"
    r.starttls()
    assert r.cmd("CAPA").startswith(b"+OK")
    caps = r.multi()
    assert b"STLS\r\n" not in caps and b"USER\r\n" in caps and b"SASL PLAIN LOGIN\r\n" in caps
    r.cmd(f"USER {ALICE}")
    assert r.cmd("PASS secret") == b"+OK Logged in.\r\n"
    assert r.cmd("STAT") == b"+OK 0 0\r\n"
    r.cmd("QUIT")
    p = login(pop3_strict, tls="implicit")
    assert p.stat() == (0, 0)
    p.quit()


# --- protocol errors ----------------------------------------------------------------

def test_errors_keep_the_session_usable(pop3):
    deliver(pop3, ALICE, sample_messages(2))
    r = Raw(pop3)
    assert r.cmd("FOO").startswith(b"-ERR")            # unknown command
    assert r.cmd("STAT").startswith(b"-ERR")           # wrong state
    assert r.cmd("NOOP " + "x" * 5000).startswith(b"-ERR Line too long")
    assert r.cmd("USER").startswith(b"-ERR")           # missing argument
    assert r.cmd("APOP alice 0123").startswith(b"-ERR")
    r.cmd(f"USER {ALICE}")
    assert r.cmd("PASS secret").startswith(b"+OK")
    assert r.cmd("BAR baz").startswith(b"-ERR")
    assert r.cmd("USER x").startswith(b"-ERR")         # wrong state
    assert r.cmd("STLS").startswith(b"-ERR")
    assert r.cmd("RETR 0").startswith(b"-ERR")
    assert r.cmd("RETR 3").startswith(b"-ERR")
    assert r.cmd("RETR x").startswith(b"-ERR")
    assert r.cmd("TOP 1").startswith(b"-ERR")
    assert r.cmd("LIST 1 2").startswith(b"-ERR")
    assert r.cmd("DELE 99999999999").startswith(b"-ERR")
    assert r.cmd("X" * 5000).startswith(b"-ERR Line too long")
    assert r.cmd("noop") == b"+OK\r\n"               # keywords are case-insensitive
    assert r.cmd("LIST 2").startswith(b"+OK 2 ")
    assert r.cmd("CAPA").startswith(b"+OK")
    caps = r.multi()
    assert b"TOP\r\n" in caps and b"UIDL\r\n" in caps and b"PIPELINING\r\n" in caps
    assert b"IMPLEMENTATION Posthorn\r\n" in caps and b"USER" not in caps
    assert r.cmd("QUIT") == b"+OK Logging out.\r\n"
    assert r.closed()


def test_too_many_errors_close_the_session(pop3):
    r = Raw(pop3)
    for _ in range(19):
        assert r.cmd("FOO").startswith(b"-ERR")
    assert r.cmd("FOO").startswith(b"-ERR")
    assert r.line().startswith(b"-ERR Too many errors")
    assert r.closed()


@pytest.mark.parametrize("implicit", [False, True])
def test_pipelined_login_and_commands(pop3, implicit):
    deliver(pop3, ALICE, sample_messages(2))
    r = Raw(pop3, implicit_tls=implicit)
    r.send(f"USER {ALICE}\r\nPASS secret\r\nSTAT\r\nLIST\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n".encode())
    assert r.line().startswith(b"+OK")
    assert r.line() == b"+OK Logged in.\r\n"
    assert r.line().startswith(b"+OK 2 ")
    assert r.line().startswith(b"+OK")
    assert r.multi().count(b"\r\n") == 2
    assert r.line().startswith(b"+OK")
    assert body_of(r.multi()) in sample_messages(2)
    assert r.line().startswith(b"+OK")
    assert r.line().startswith(b"+OK")
    assert r.closed()
    assert len(pop3.messages(ALICE)) == 1


# --- privilege separation -------------------------------------------------------------

def proc_uid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError(f"no Uid in /proc/{pid}/status")


def test_login_and_mailbox_parts_run_as_their_users(pop3):
    # Once a session has been served, every process has dropped its privileges.
    login(pop3).quit()
    login(pop3, tls="implicit").quit()
    pids = pop3.status_pids()
    login_pids = pids[f"127.0.0.1:{pop3.ports['pop3']}"] + pids[f"127.0.0.1:{pop3.ports['pop3s']}"]
    box_pids = pids["pop3-mailbox"]
    assert login_pids and box_pids
    if os.geteuid() != 0:
        pytest.skip("as non-root every process runs as the test's user: nothing to compare")
    mail_uid = pwd.getpwnam(pop3.conf("mail_owner")).pw_uid
    vmail_uid = pwd.getpwnam(pop3.conf("vmail_owner")).pw_uid
    assert mail_uid != vmail_uid and 0 not in (mail_uid, vmail_uid)
    deadline = time.time() + 5  # a process just started may not have dropped privileges yet
    while time.time() < deadline and not (all(proc_uid(p) == mail_uid for p in login_pids) and
                                          all(proc_uid(p) == vmail_uid for p in box_pids)):
        time.sleep(0.1)
    assert all(proc_uid(p) == mail_uid for p in login_pids)
    assert all(proc_uid(p) == vmail_uid for p in box_pids)
    # A session really is served by both: the login line from pop3-login, the summary from pop3.
    pop3.wait_log("Disconnected: Logged out")
    lines = pop3.log().splitlines()
    login_pid = [l for l in lines if "Login: user=<" in l][-1].split("[")[1].split("]")[0]
    box_pid = [l for l in lines if "Disconnected: Logged out" in l][-1].split("[")[1].split("]")[0]
    assert "posthorn/pop3-login[" in "\n".join(lines) and int(login_pid) in login_pids
    assert int(box_pid) in box_pids


def test_timeouts_and_dropped_tls_session(instance):
    inst = start_pop3(instance, login_allow_plaintext_auth="yes", pop3d_idle_timeout="2s",
                      login_timeout="2s")
    deliver(inst, ALICE, sample_messages(2))
    # A TLS session (served through the login process's proxy) dropped after DELE.
    r = Raw(inst, implicit_tls=True)
    r.cmd(f"USER {ALICE}")
    assert r.cmd("PASS secret").startswith(b"+OK")
    assert r.cmd("DELE 1").startswith(b"+OK")
    r.close()
    p = login_retry(inst, tls="implicit")
    assert p.stat()[0] == 2
    assert p.dele(2).startswith(b"+OK")
    # Idle past pop3d_idle_timeout: the session ends without UPDATE (the server closes the
    # connection: read to EOF, past any goodbye line).
    inst.wait_log("Disconnected: Inactivity")
    p.sock.settimeout(30)
    while p.file.readline():
        pass
    with pytest.raises((poplib.error_proto, OSError, EOFError)):
        p.noop()
        p.quit()
    assert len(inst.messages(ALICE)) == 2
    # No login within login_timeout.
    r = Raw(inst)
    t = time.time()
    assert r.line().startswith(b"-ERR Disconnected")
    assert r.closed() and time.time() - t < 5


def test_old_master_cf_mailbox_line_still_works(instance):
    # An instance created before pop3d was split runs the mailbox part as
    # "pop3d -o pop3_role=mailbox": pop3d then execs pop3d-mailbox, which serves the session
    # and warns what to change in master.cf.
    cf = instance.etc / "master.cf"
    text = cf.read_text()
    assert "pop3d-mailbox" in text
    cf.write_text(text.replace("pop3d-mailbox", "pop3d -o pop3_role=mailbox"))
    inst = start_pop3(instance, pop3_allow_plaintext_auth="yes")
    deliver(inst, ALICE, sample_messages(1))
    p = login(inst)
    assert p.stat()[0] == 1
    p.quit()
    inst.wait_log("Disconnected: Logged out")
    assert 'runs "pop3d -o pop3_role=mailbox": replace that command with "pop3d-mailbox"' in inst.log()
