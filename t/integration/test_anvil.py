"""The anvil service (doc/anvil.md): login limits that hold across sessions, login processes and
services, connection limits across smtpd processes, and what happens when anvil is gone.

The attack these tests replay: many sessions opened first from one address, each then trying a
password, so that a per-session or per-process count never sees more than a few failures."""
import re
import socket
import ssl
import threading
import time

import pytest

from conftest import DOMAIN
from test_pop3 import ALICE, BOB, start_pop3, tls_context

REFUSAL = b"-ERR [SYS/TEMP] Too many failed logins from your address, try later.\r\n"
FAILED = re.compile(r"(pop3-login)\[(\d+)\]: authentication failed: user=<([^>]*)>")
REFUSED = re.compile(r"(pop3-login)\[(\d+)\]: login refused: user=<([^>]*)>")


class Pop:
    """A POP3 session from a chosen loopback source address, plaintext or TLS from the start."""

    def __init__(self, inst, tls=False, source="127.0.0.1", refused_ok=False):
        port = inst.ports["pop3s" if tls else "pop3"]
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60,
                                             source_address=(source, 0))
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")
        self.greeting = self.line()
        assert self.greeting.startswith(b"+OK") or (refused_ok and self.greeting == REFUSAL), \
            self.greeting

    def line(self):
        return self.f.readline(10000)

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def cmd(self, text):
        self.send(text)
        return self.line()

    def login(self, user, password):
        assert self.cmd(f"USER {user}").startswith(b"+OK")
        return self.cmd(f"PASS {password}")

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass


def failures_logged(inst):
    return FAILED.findall(inst.log())


def start(instance, **conf):
    settings = {"login_allow_plaintext_auth": "yes", "login_failure_delay": "0",
                "login_failure_delay_limit": "0"}
    settings.update(conf)
    return start_pop3(instance, **settings)


def test_parallel_guessing_across_login_processes(instance):
    """30 sessions opened first, on the plaintext and the TLS service (two login processes),
    then 29 wrong passwords at once and the right one last: anvil lets at most
    login_max_failures of them be checked, and refuses the right one after that."""
    inst = start(instance, login_max_failures="5")
    sessions = [Pop(inst, tls=i % 2 == 1) for i in range(30)]
    for s in sessions:
        assert s.cmd(f"USER {ALICE}").startswith(b"+OK")
    for s in sessions[:29]:
        s.send("PASS wrong")
    replies = [s.line() for s in sessions[:29]]
    last = sessions[29].cmd("PASS secret")
    failed = [r for r in replies if r.startswith(b"-ERR [AUTH] Authentication failed")]
    refused = [r for r in replies if r == REFUSAL]
    assert len(failed) + len(refused) == 29, replies
    assert len(failed) == 5, replies
    assert last == REFUSAL, last
    checked = failures_logged(inst)
    assert len(checked) == 5, checked
    inst.wait_log(f"login refused: user=<{ALICE}>, method=USER, rip=127.0.0.1, "
                  "too many failed logins from this address")
    # Both services' processes took part: the count is not per process.
    pids = {m[1] for m in FAILED.findall(inst.log()) + REFUSED.findall(inst.log())}
    assert len(pids) >= 2, inst.log()[-3000:]
    for s in sessions:
        s.close()


def test_refused_until_the_penalty_passes(instance):
    inst = start(instance, login_max_failures="2", login_penalty_time="3s")
    for _ in range(2):
        s = Pop(inst)
        assert s.login(ALICE, "wrong").startswith(b"-ERR [AUTH] Authentication failed")
        s.close()
    t0 = time.monotonic()
    # Refused: at the connect by a login process that counted the failures itself, or at
    # the login by anvil, whichever process takes the connection.
    s = Pop(inst, refused_ok=True)
    assert s.greeting == REFUSAL or s.login(ALICE, "secret") == REFUSAL
    s.close()
    # The refusal is a decision, not a check: it repeats without adding a failure.
    assert len(failures_logged(inst)) == 2
    time.sleep(max(0.0, 3.5 - (time.monotonic() - t0)))
    s = Pop(inst)
    assert s.login(ALICE, "secret").startswith(b"+OK"), inst.log()[-3000:]
    s.cmd("QUIT")


def fail_twice(inst):
    for tls in (False, True):
        s = Pop(inst, tls=tls)
        assert s.login(ALICE, "wrong").startswith(b"-ERR [AUTH] Authentication failed")
        s.close()


def assert_refused(inst, tls, source="127.0.0.1"):
    p = Pop(inst, tls=tls, refused_ok=True, source=source)
    assert p.greeting == REFUSAL or p.login(ALICE, "secret") == REFUSAL, inst.log()[-3000:]
    p.close()


@pytest.mark.parametrize("how", ["reload", "stop and start"])
def test_login_failures_survive_a_reload_or_restart(instance, how):
    """A reload, or a stop and a start, replaces anvil and every login process: the new anvil
    takes the failures over from SPOOL/private/anvil.state, so the address stays refused (it
    used to start from zero, a fresh set of guesses)."""
    inst = start(instance, login_max_failures="2")
    fail_twice(inst)
    old = inst.status_pids()["anvil"]
    if how == "reload":
        inst.reload()
        inst.wait_log("saved the sending counts of 0 users and 3 login failure counts")
        deadline = time.monotonic() + 30
        while inst.status_pids().get("pop3-login") and time.monotonic() < deadline:
            time.sleep(0.2)  # the old login processes leave (their own counts with them)
    else:
        inst.stop()
        assert "saved the sending counts of 0 users and 3 login failure counts" in inst.log()
        inst.start()
        inst.wait_port(inst.ports["pop3"])
    for tls in (False, True):
        assert_refused(inst, tls)
    assert inst.status_pids()["anvil"] != old
    inst.wait_log("took over 3 counts (sending limits, login failures)")
    assert "did not exit cleanly" not in inst.log()
    assert len(failures_logged(inst)) == 2


def test_login_failures_outlive_an_anvil_crash(instance):
    """anvil killed -9 saves nothing; the next one finds its predecessor's mark and for
    login_penalty_time says it may lack failures. A session opened before the crash then
    sends the right password: the login process's own count (two failures) refuses it,
    where it used to take the fresh anvil's zero and check the password; and the login
    process hands its count to the new anvil, which then refuses the address in the other
    login process as well."""
    from test_login_limits import one_login_process
    one_login_process(instance)
    inst = start(instance, login_max_failures="2")
    early = Pop(inst)
    assert early.cmd(f"USER {ALICE}").startswith(b"+OK")
    early_tls = Pop(inst, tls=True)  # the other login process, which sees no failure
    assert early_tls.cmd(f"USER {ALICE}").startswith(b"+OK")
    for _ in range(2):
        s = Pop(inst)
        assert s.login(ALICE, "wrong").startswith(b"-ERR [AUTH] Authentication failed")
        s.close()
    inst.kill(inst.status_pids()["anvil"][0])
    # Another address's logins bring the new anvil up and connect the process to it (the
    # first may find anvil gone: the process tries again at most once a second).
    for _ in range(2):
        time.sleep(1.1)
        other = Pop(inst, source="127.0.0.2")
        assert other.login(ALICE, "secret").startswith(b"+OK")
        other.cmd("QUIT")
    inst.wait_log("did not exit cleanly")
    assert early.cmd("PASS secret") == REFUSAL
    # Refused by the new anvil, which took the count over from this process (or, had it
    # not yet, by the process's own count: "(this process's count: anvil restarted)").
    inst.wait_log(f"login refused: user=<{ALICE}>, method=USER, rip=127.0.0.1, too many "
                  "failed logins from this address")
    assert_refused(inst, False)  # the process's count was not lowered to anvil's zero
    # The process that counted the failures told the new anvil when it reconnected, so the
    # other process's session is refused too.
    inst.wait_log("login failures of 127.0.0.1 taken over from a login process: 2")
    assert early_tls.cmd("PASS secret") == REFUSAL
    assert len(failures_logged(inst)) == 2


def test_state_file_is_read_strictly(instance):
    """A damaged or hostile anvil.state: a good line is taken over; counts out of range and
    an over-long line are skipped, and the rest of the over-long line, which looks like a
    good line, is not read as one."""
    key = lambda addr: f"addr {len(addr)}:{addr}"
    chunk = 2 * 512 + 64 + 255  # what anvil reads of a line at a time
    long_line = "fail\t" + "A" * (chunk - 5) + f"fail\t{key('127.0.0.4')}\t2\t0\n"
    lines = [f"anvil-state 1 {int(time.time() * 1000)}\n",
             f"fail\t{key('127.0.0.1')}\t2\t0\n",
             f"fail\t{key('127.0.0.2')}\t99999999999\t0\n",
             f"fail\t{key('127.0.0.3')}\t5\t9223372036854775807\n",
             f"fail\t{key('127.0.0.3')}\t5\t-1\n",
             long_line,
             f"fail\tconn 9:127.0.0.5\t5\t0\n",
             "junk\0junk\n",  # a NUL does not end the line early: the next one is read
             f"fail\t{key('127.0.0.6')}\t2\t0\n"]
    state = instance.spool / "private" / "anvil.state"
    state.write_text("".join(lines))
    inst = start(instance, login_max_failures="2")
    assert_refused(inst, False)  # 127.0.0.1: the good line
    assert_refused(inst, False, source="127.0.0.6")
    inst.wait_log("login failures); 5 malformed lines skipped")
    for n in (2, 3, 4, 5):
        s = Pop(inst, source=f"127.0.0.{n}")
        assert s.login(ALICE, "secret").startswith(b"+OK"), (n, inst.log()[-2000:])
        s.cmd("QUIT")
    assert not state.exists()


@pytest.mark.parametrize("kind", ["junk", "fifo", "old"])
def test_unusable_state_file_is_logged_and_ignored(instance, kind):
    """A state file that is not one, a FIFO (which must not block anvil) or a file saved more
    than a day ago: anvil says so and starts from zero."""
    import os
    state = instance.spool / "private" / "anvil.state"
    if kind == "fifo":
        os.mkfifo(state)
    elif kind == "junk":
        state.write_bytes(b"\x7fELF\0\1\2 binary junk\n")
    else:
        state.write_text(f"anvil-state 1 {int(time.time() * 1000) - 2 * 86400 * 1000}\n"
                         "fail\taddr 9:127.0.0.1\t2\t0\n")
    inst = start(instance, login_max_failures="2", anvil_timeout="5s")
    s = Pop(inst)
    t = time.monotonic()
    assert s.login(ALICE, "secret").startswith(b"+OK")
    assert time.monotonic() - t < 3, "anvil did not answer"
    s.cmd("QUIT")
    why = {"junk": "not an anvil state file", "fifo": "not a regular file",
           "old": "saved more than a day ago"}[kind]
    inst.wait_log(f"anvil.state: {why}")


def test_malformed_sasl_login_asks_anvil_first(instance):
    """An AUTH PLAIN message that names no account fails without a password check, but only
    after anvil was asked: over the limit it gets the refusal, and the failures logged do
    not grow (it used to be counted and answered "Authentication failed" at once)."""
    import base64
    inst = start(instance, login_max_failures="2")
    early = Pop(inst, tls=True)
    fail_twice(inst)
    empty = base64.b64encode(b"\0\0pw").decode()
    assert early.cmd(f"AUTH PLAIN {empty}") == REFUSAL
    assert len(failures_logged(inst)) == 2
    # Under the limit it counts as a failure, logged with the name it gave (none here).
    fresh = Pop(inst, source="127.0.0.2")
    assert fresh.cmd(f"AUTH PLAIN {empty}").startswith(b"-ERR [AUTH] Authentication failed")
    inst.wait_log("authentication failed: user=<(invalid name)>, method=PLAIN, rip=127.0.0.2")


def test_success_clears_only_its_own_account(instance):
    """A success from an address forgets that address's failures for that account only, also
    in a login process other than the one that saw them: under load the attempts spread over
    both POP3 login processes, and one process's own count used to refuse the address at
    connect although anvil had forgiven (lib/auth/auth_attempt.c, sync_local_count)."""
    inst = start(instance, login_max_failures="4")

    def attempt(user, password):
        s = Pop(inst, refused_ok=True)
        if s.greeting == REFUSAL:
            s.close()
            return REFUSAL
        r = s.login(user, password)
        if r.startswith(b"+OK"):
            s.cmd("QUIT")
        s.close()
        return r

    # Alice mistypes twice, then gets in: her two failures are forgotten ...
    for _ in range(2):
        assert attempt(ALICE, "typo").startswith(b"-ERR [AUTH] Authentication failed")
    assert attempt(ALICE, "secret").startswith(b"+OK")
    # ... so three guesses at bob are still checked (2 + 3 would pass the limit of 4).
    for _ in range(3):
        assert attempt(BOB, "guess").startswith(b"-ERR [AUTH] Authentication failed")
    # A success for alice does not wipe what the address did against bob.
    assert attempt(ALICE, "secret").startswith(b"+OK")
    assert attempt(BOB, "guess").startswith(b"-ERR [AUTH] Authentication failed")
    assert attempt(ALICE, "secret") == REFUSAL
    assert attempt(BOB, "secret") == REFUSAL


def timed_failure(inst, user, source="127.0.0.1"):
    s = Pop(inst, source=source)
    assert s.cmd(f"USER {user}").startswith(b"+OK")
    t = time.monotonic()
    r = s.cmd("PASS wrong")
    elapsed = time.monotonic() - t
    assert r.startswith(b"-ERR [AUTH] Authentication failed"), r
    s.close()
    return elapsed


def test_delay_grows_with_failures_and_is_capped(instance):
    """Before a check anvil makes the session wait login_failure_delay doubled per earlier
    failure (of the address, or of the account from anywhere), up to the limit."""
    from test_login_limits import one_login_process
    one_login_process(instance)  # one process: its first check also makes the dummy hash
    inst = start(instance, login_max_failures="20", login_failure_delay="1s",
                 login_failure_delay_limit="2s")
    timed_failure(inst, f"warm@{DOMAIN}", source="127.0.0.9")
    # A failure reply is held back login_failure_delay (1 s) after a check: the base. The
    # check itself (an Argon2 hash) varies with the machine's load, more under ASan: the
    # quicker of two fresh accounts from fresh addresses, so that one slow hash does not
    # make every later wait look short.
    base = min(timed_failure(inst, f"dave@{DOMAIN}", source="127.0.0.8"),
               timed_failure(inst, f"erin@{DOMAIN}", source="127.0.0.7"))
    extra = [timed_failure(inst, ALICE) - base for _ in range(4)]
    for got, want in zip(extra, [0, 1, 2, 2]):  # 0, 1, 2 failures, then 4 s capped at 2 s
        assert want - 0.3 <= got < want + 0.6, (base, extra)
    # The account's failures slow a guess at it from a fresh address too.
    got = timed_failure(inst, ALICE, source="127.0.0.2") - base
    assert 1.7 <= got < 2.6, (base, got)
    # A fresh address and a fresh account wait only for the reply delay.
    assert timed_failure(inst, f"carol@{DOMAIN}", source="127.0.0.3") - base < 0.6


def without_anvil(inst):
    mcf = inst.etc / "master.cf"
    lines = [l for l in mcf.read_text().splitlines() if not l.startswith("anvil ")]
    mcf.write_text("\n".join(lines) + "\n")


def test_without_anvil_logins_are_slowed_not_opened(instance):
    from test_login_limits import one_login_process
    without_anvil(instance)
    one_login_process(instance)
    out = instance.posthorn("check", check=False)
    assert "no anvil service" in out.stdout + out.stderr, out  # the operator is told
    inst = start(instance, login_max_failures="2", login_failure_delay="1s")
    s = Pop(inst)
    t = time.monotonic()
    assert s.login(ALICE, "secret").startswith(b"+OK")
    assert time.monotonic() - t >= 0.95, "a login without anvil must wait login_failure_delay"
    s.cmd("QUIT")
    for _ in range(2):
        s = Pop(inst)
        assert s.login(BOB, "wrong").startswith(b"-ERR [AUTH] Authentication failed")
        s.close()
    # The process's own count still refuses the address.
    r = socket.create_connection(("127.0.0.1", inst.ports["pop3"]), timeout=30)
    assert r.makefile("rb").readline() == REFUSAL
    r.close()


def test_without_anvil_a_success_forgives_nothing(instance):
    """The process's own count is per address: a success with one's own account used to clear
    it, so a guesser with an account could interleave logins and guess for ever."""
    from test_login_limits import one_login_process
    without_anvil(instance)
    one_login_process(instance)
    inst = start(instance, login_max_failures="3")
    for user, password in ((BOB, "wrong"), (BOB, "wrong"), (ALICE, "secret"), (BOB, "wrong")):
        s = Pop(inst)
        r = s.login(user, password)
        assert r.startswith(b"+OK" if password == "secret" else b"-ERR [AUTH] Authentication failed")
        s.close()
    r = socket.create_connection(("127.0.0.1", inst.ports["pop3"]), timeout=30)
    assert r.makefile("rb").readline() == REFUSAL
    r.close()


def test_hung_anvil_times_out_and_logins_go_on_slowed(instance):
    inst = start(instance, anvil_timeout="1s", login_failure_delay="1s")
    s = Pop(inst)
    assert s.login(ALICE, "secret").startswith(b"+OK")  # connects the login process to anvil
    s.cmd("QUIT")
    anvil = inst.status_pids()["anvil"][0]
    inst.kill(anvil, signal_stop())
    try:
        s = Pop(inst)
        t = time.monotonic()
        assert s.login(ALICE, "secret").startswith(b"+OK")
        elapsed = time.monotonic() - t
        assert 1.9 <= elapsed < 5, elapsed  # anvil_timeout, then login_failure_delay
        s.cmd("QUIT")
        inst.wait_log("anvil: no answer within anvil_timeout")
    finally:
        inst.kill(anvil, signal_cont())


def signal_stop():
    import signal
    return signal.SIGSTOP


def signal_cont():
    import signal
    return signal.SIGCONT


class AnvilClient:
    """A daemon's side of SPOOL/private/anvil, spoken by hand."""

    def __init__(self, inst):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(inst.spool / "private" / "anvil"))
        self.f = self.sock.makefile("rb")
        assert self.read() == {"protocol": "anvil", "version": "1"}

    def read(self):
        out = {}
        while True:
            line = self.f.readline()
            if line in (b"", b"\n"):
                return out if line else None
            k, _, v = line.decode().rstrip("\n").partition("=")
            out[k] = v

    def ask(self, **attrs):
        self.sock.sendall("".join(f"{k}={v}\n" for k, v in attrs.items()).encode() + b"\n")
        return self.read()

    def login(self, addr="192.0.2.1", user="u@x.test", max_failures=2):
        return self.ask(request="login", addr=addr, user=user, max_failures=max_failures,
                        delay=0, delay_limit=0)

    def close(self):
        self.f.close()  # the file holds the descriptor open too
        self.sock.close()


def test_counts_are_shared_and_released_with_their_holder(pop3_anvil):
    inst = pop3_anvil
    a, b = AnvilClient(inst), AnvilClient(inst)
    assert a.ask(request="connect", service="smtp", addr="192.0.2.1")["count"] == "1"
    assert b.ask(request="connect", service="smtp", addr="192.0.2.1")["count"] == "2"
    assert b.ask(request="connect", service="other", addr="192.0.2.1")["count"] == "1"
    b.close()  # a process that goes away releases everything it held
    deadline = time.time() + 5
    while (n := a.ask(request="connect", service="smtp", addr="192.0.2.1")["count"]) != "2":
        assert time.time() < deadline, n
        a.ask(request="disconnect", service="smtp", addr="192.0.2.1")
        time.sleep(0.05)
    # Logins: two attempts may be checked at once with max_failures 2; a third waits.
    c = AnvilClient(inst)
    assert a.login()["status"] == "ok"
    assert c.login()["status"] == "ok"
    assert a.login()["status"] == "wait"
    c.close()  # its reservation is released with it
    deadline = time.time() + 5
    while (r := a.login())["status"] == "wait":
        assert time.time() < deadline
        time.sleep(0.05)
    assert r["status"] == "ok"
    for _ in range(2):
        assert a.ask(request="login_done", addr="192.0.2.1", user="u@x.test", result="failed",
                     reserved="yes")["status"] == "ok"
    r = a.login()
    assert r["status"] == "refuse" and r["failures"] == "2", r
    # Other addresses are not affected.
    assert a.login(addr="192.0.2.2")["status"] == "ok"
    a.close()


@pytest.mark.parametrize("bad", [
    "request=connect\nservice=s\naddr=a\nextra=1\n\n",       # unknown attribute
    "request=connect\nservice=s\n\n",                         # missing attribute
    "request=login\naddr=a\nmax_failures=x\ndelay=0\ndelay_limit=0\n\n",
    "request=login_done\naddr=a\nresult=maybe\nreserved=yes\n\n",
    "request=shutdown\n\n",
    "request=connect\nrequest=connect\nservice=s\naddr=a\n\n",  # repeated attribute
])
def test_malformed_requests_close_the_connection(pop3_anvil, bad):
    c = AnvilClient(pop3_anvil)
    c.sock.sendall(bad.encode())
    assert c.read() is None
    # anvil goes on serving everyone else.
    d = AnvilClient(pop3_anvil)
    assert d.ask(request="connect", service="s", addr="a")["status"] == "ok"


@pytest.fixture
def pop3_anvil(instance):
    return start(instance)


SMTP_REFUSAL = re.compile(rb"^421 4\.7\.0 \S+ Error: too many connections from 127\.0\.0\.1\r\n$")


def smtp_greeting(inst):
    s = socket.create_connection(("127.0.0.1", inst.ports["smtp"]), timeout=30)
    return s, s.makefile("rb").readline()


def test_smtpd_connection_count_across_processes(instance):
    instance.set_conf(smtpd_client_connection_count_limit="3")
    instance.start()
    held = []
    for _ in range(3):
        s, g = smtp_greeting(instance)
        assert g.startswith(b"220 "), g
        held.append(s)
    s, g = smtp_greeting(instance)
    assert SMTP_REFUSAL.match(g), g
    s.close()
    instance.wait_log("Connection concurrency limit exceeded: 4 from localhost[127.0.0.1]")
    held.pop().close()
    deadline = time.time() + 10
    while True:  # the disconnect reaches anvil shortly after the close
        s, g = smtp_greeting(instance)
        s.close()
        if g.startswith(b"220 "):
            break
        assert time.time() < deadline, g
        time.sleep(0.1)
    for s in held:
        s.close()


def test_smtpd_connection_rate(instance):
    instance.set_conf(smtpd_client_connection_rate_limit="3", anvil_rate_time_unit="60s")
    instance.start()  # the harness's own readiness probe is the first connection
    greetings = []
    for _ in range(4):
        s, g = smtp_greeting(instance)
        greetings.append(g)
        s.close()
    ok = [g for g in greetings if g.startswith(b"220 ")]
    assert len(ok) == 2 and SMTP_REFUSAL.match(greetings[-1]), greetings
    instance.wait_log("Connection rate limit exceeded: 4 from localhost[127.0.0.1]")


# --- submission's AUTH (doc/submission.md): the same limits, counted with POP3's and IMAP's ---

SUB_FAILED = re.compile(r"(?:submission|smtps)/smtpd\[(\d+)\]: authentication failed: user=<([^>]*)>, method=PLAIN")
SUB_REFUSED = re.compile(r"(?:submission|smtps)/smtpd\[(\d+)\]: login refused: user=<([^>]*)>, method=PLAIN")


def start_submission_limits(instance, **conf):
    from submission_client import start_submission
    return start_submission(instance, **conf)


def submission_session(inst, implicit):
    from submission_client import Smtp
    s = Smtp(inst, implicit=implicit)
    s.ehlo()
    if not implicit:
        s.starttls()
        s.ehlo()
    return s


def test_parallel_guessing_against_submission_auth(instance):
    """30 sessions opened first on 587 (STARTTLS) and 465 (TLS), two submission services with
    their own processes, then 29 wrong passwords at once and the right one last: at most
    login_max_failures are checked, the rest and the right one are refused, and the log says
    why."""
    from submission_client import plain
    inst = start_submission_limits(instance, login_max_failures="5")
    sessions = [submission_session(inst, implicit=i % 2 == 1) for i in range(30)]
    for s in sessions[:29]:
        s.send(f"AUTH PLAIN {plain(ALICE, 'wrong')}")
    replies = [s.reply() for s in sessions[:29]]
    last = sessions[29].cmd(f"AUTH PLAIN {plain(ALICE, 'secret')}")
    failed = [r for r in replies if r[0] == 535 and r[1][0].startswith("535 5.7.8")]
    refused = [r for r in replies if r[0] == 421 and "too many failed logins" in r[1][0]]
    assert len(failed) + len(refused) == 29, replies
    assert len(failed) == 5, replies
    assert last[0] == 421 and "too many failed logins from 127.0.0.1" in last[1][0], last
    assert len(SUB_FAILED.findall(inst.log())) == 5, inst.log()[-4000:]
    inst.wait_log(f"login refused: user=<{ALICE}>, method=PLAIN, rip=127.0.0.1, "
                  "too many failed logins from this address")
    # Both services' processes took part: the count is not per process.
    pids = {m[0] for m in SUB_FAILED.findall(inst.log()) + SUB_REFUSED.findall(inst.log())}
    assert len(pids) >= 2, inst.log()[-3000:]
    for s in sessions:
        s.close()


def test_submission_refused_until_the_penalty_passes(instance):
    inst = start_submission_limits(instance, login_max_failures="2", login_penalty_time="3s")
    for i in range(2):
        s = submission_session(inst, implicit=i == 1)
        assert s.auth_plain(ALICE, "wrong")[0] == 535
        s.close()
    t0 = time.monotonic()
    s = submission_session(inst, implicit=True)
    code, lines = s.auth_plain(ALICE, "secret")
    assert code == 421 and "too many failed logins" in lines[0], lines
    s.close()
    assert len(SUB_FAILED.findall(inst.log())) == 2  # a refusal checks nothing
    # POP3 from the same address is refused too: one count for every service.
    p = Pop(inst, tls=True, refused_ok=True)
    assert p.greeting == REFUSAL or p.login(ALICE, "secret") == REFUSAL
    p.close()
    time.sleep(max(0.0, 3.5 - (time.monotonic() - t0)))
    s = submission_session(inst, implicit=False)
    assert s.auth_plain(ALICE, "secret")[0] == 235, inst.log()[-3000:]
    s.cmd("QUIT")


def test_full_table_falls_back_without_opening(instance):
    """anvil's table full (here filled by hand to anvil_max_entries): a new address's logins
    are judged by the login process's own count, which counts its checks under way as anvil
    does, so ten parallel guesses get three checks, not ten; both sides log why."""
    from test_login_limits import one_login_process
    one_login_process(instance)
    inst = start(instance, anvil_max_entries="100", login_max_failures="3")
    filler = AnvilClient(inst)
    for i in range(100):
        assert filler.login(addr=f"192.0.2.{i}", user=f"u{i}@x.test")["status"] in ("ok", "full")
    sessions = [Pop(inst, source="127.0.0.9") for _ in range(10)]
    for s in sessions:
        assert s.cmd(f"USER {ALICE}").startswith(b"+OK")
    for s in sessions:
        s.send("PASS wrong")
    replies = [s.line() for s in sessions]
    failed = [r for r in replies if r.startswith(b"-ERR [AUTH] Authentication failed")]
    refused = [r for r in replies if r == REFUSAL]
    assert len(failed) == 3 and len(refused) == 7, replies
    late = Pop(inst, source="127.0.0.9", refused_ok=True)
    assert late.greeting == REFUSAL or late.login(ALICE, "secret") == REFUSAL
    inst.wait_log("table full (anvil_max_entries=100)")
    inst.wait_log("anvil: its table is full (anvil_max_entries); using this process's own limits")
    for s in sessions + [late]:
        s.close()
    filler.close()
