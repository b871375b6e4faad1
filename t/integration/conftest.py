"""Shared fixtures for Posthorn's integration tests.

Every test gets real daemons: `posthorn init` creates an instance in a fresh temporary
directory on 127.0.0.1 with a port offset whose ports this process holds a lock on (and found
free), `posthorn start` runs it, and the fixture stops it (and kills anything left)
afterwards. Tests talk to it with real clients (smtplib, swaks, openssl s_client, ...).
POSTHORN_BIN names the build's bin directory.

Teardown fails the test when a daemon ended abnormally (master logs "process ... pid N killed
by signal S" or "... exit status N") unless the test caused it through Instance.kill() or
declared it with Instance.expect_deaths(); under the sanitizers (POSTHORN_SANITIZED=1) every
ASan/UBSan report file a process wrote (log_path=ROOT/sanitizer/...) fails the test too.
"""
import email
import fcntl
import os
import re
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

BIN = Path(os.environ.get("POSTHORN_BIN", Path(__file__).resolve().parents[2] / "build" / "bin"))
POSTHORN = str(BIN / "posthorn")
DOMAIN = "example.test"
HOSTNAME = "mail.example.test"
BASE_PORTS = {"smtp": 25, "submission": 587, "smtps": 465, "pop3": 110, "pop3s": 995,
              "imap": 143, "imaps": 993}


PORT_LOCK_DIR = Path(tempfile.gettempdir()) / "posthorn-test-ports"
OFFSETS = range(10000, 31000, 10)  # every port + offset stays below the ephemeral range


def port_free(port, host="127.0.0.1"):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


class PortReservation:
    """An exclusive flock on PORT_LOCK_DIR/PORT for each standard port + offset, held until
    release() or the end of the process: two test processes (ctest runs files in parallel,
    other worktrees too) can never hold one port, whatever their offsets."""

    def __init__(self, offset, fds):
        self.offset = offset
        self._fds = fds

    def release(self):
        for fd in self._fds:
            os.close(fd)
        self._fds = []


def lock_dir():
    """PORT_LOCK_DIR, shared by every user running tests (sticky, world-writable)."""
    try:
        PORT_LOCK_DIR.mkdir()
        os.chmod(PORT_LOCK_DIR, 0o1777)  # mkdir's mode is cut by the umask
    except FileExistsError:
        pass
    return PORT_LOCK_DIR


def lock_port(port):
    """The descriptor holding PORT's lock, or None when another process holds it. Read-only
    is enough for flock, so a lock file another user created works too."""
    path = lock_dir() / str(port)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o444)
    except PermissionError:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except OSError:
        os.close(fd)
        return None


def try_reserve(offset):
    """A PortReservation for OFFSET when every port is unlocked and free, else None."""
    fds = []
    for port in sorted(p + offset for p in BASE_PORTS.values()):
        fd = lock_port(port)
        if fd is None or not port_free(port):
            if fd is not None:
                os.close(fd)
            PortReservation(offset, fds).release()
            return None
        fds.append(fd)
    return PortReservation(offset, fds)


def reserve_offset(candidates=None):
    """Lock the ports of the first usable offset of CANDIDATES (default: random ones)."""
    if candidates is None:
        rng = random.Random(os.getpid() ^ int(time.time() * 1000))
        candidates = [rng.choice(OFFSETS) for _ in range(400)]
    for offset in candidates:
        r = try_reserve(offset)
        if r:
            return r
    raise RuntimeError("no free port range found")


_held_for_process = []


def pick_offset():
    """A port offset whose ports stay locked for this process's life (for instances a test
    builds by hand; make_instance releases its lock at teardown)."""
    r = reserve_offset()
    _held_for_process.append(r)
    return r.offset


def run(args, check=True, input=None, env=None, timeout=60):
    """Run a command, returning CompletedProcess with text output."""
    p = subprocess.run(args, input=input, capture_output=True, text=True, env=env, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def process_running(pid):
    """The process exists and is not a zombie (an ended process that the container's init
    has not reaped yet: `posthorn stop` counts that as stopped)."""
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, FileNotFoundError):
        return False
    return stat[stat.rindex(")") + 2] != "Z"


LIVE_INSTANCES = []  # instances not yet closed: a failing test shows the end of their logs


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report ends with the last lines of every live instance's log, so a
    failure in CI says what the daemons saw (the instance is removed right after)."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        for inst in LIVE_INSTANCES:
            tail = "\n".join(inst.log().splitlines()[-80:])
            rep.sections.append((f"maillog of {inst.root} (last 80 lines)", tail))


class Instance:
    """One Posthorn instance in a temporary directory."""

    def __init__(self, root: Path, offset: int, reservation=None):
        self.root = root
        self.offset = offset
        self.reservation = reservation
        self.etc = root / "etc"
        self.ports = {k: v + offset for k, v in BASE_PORTS.items()}
        self.running = False
        self.expected_deaths = {}  # pid -> the signal that ends it (None: any end)
        self.saved_env = watch_sanitizers(root / "sanitizer")
        LIVE_INSTANCES.append(self)

    # --- administration -------------------------------------------------------------
    def posthorn(self, *args, check=True, input=None, timeout=60):
        return run([POSTHORN, "-c", str(self.etc), *args], check=check, input=input, timeout=timeout)

    def conf(self, name):
        out = self.posthorn("conf", "-x", name).stdout.strip()
        if out == name + " =":  # an empty value
            return ""
        assert out.startswith(name + " = "), out
        return out[len(name) + 3:]

    def set_conf(self, **params):
        for k, v in params.items():
            self.posthorn("conf", "set", f"{k}={v}")

    def start(self):
        self.posthorn("start")
        self.running = True
        self.wait_port(self.ports["smtp"])

    def stop(self):
        if self.running:
            self.posthorn("stop", check=False, timeout=60)
            self.running = False

    def reload(self):
        self.posthorn("reload")

    SMTP_SERVICE = re.compile(r"^(#?)(smtp\s+unix\s.*smtp-client.*)$", re.M)

    def set_smtp_service(self, on):
        """Turn master.cf's smtp service (smtp-client) on or off (before start or reload)."""
        path = self.etc / "master.cf"
        text = path.read_text()
        new, n = self.SMTP_SERVICE.subn(("" if on else "#") + r"\2", text)
        assert n == 1, "master.cf has no smtp-client service line"
        path.write_text(new)

    def enable_smtp_client(self, resolver, **params):
        """Run smtp-client, asking the DNS server RESOLVER ("127.0.0.1@PORT", a loopback
        server the test started) and validating nothing unless the test sets
        dns_trust_anchor_file; PARAMS are more main.cf settings."""
        self.set_conf(**{"dns_resolver": resolver, "dns_trust_anchor_file": "", **params})
        self.set_smtp_service(True)

    def add_user(self, addr, password="secret", quota=None):
        args = ["user", "add", addr, "--password-stdin"]
        if quota is not None:
            args += ["--quota", str(quota)]
        self.posthorn(*args, input=password + "\n")

    def status_pids(self):
        """{service: [pids]} from `posthorn status`."""
        out = self.posthorn("status", check=False).stdout
        pids = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[1] in ("inet", "unix"):
                pids[parts[0]] = [int(p) for p in parts[2:] if p.isdigit()]
        return pids

    def master_pid(self):
        pidfile = Path(self.conf("queue_directory")) / "pid" / "master.pid"
        try:
            return int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    # --- observation ----------------------------------------------------------------
    @property
    def spool(self):
        return Path(self.conf("queue_directory"))

    @property
    def mailbase(self):
        return Path(self.conf("virtual_mailbox_base"))

    def log(self):
        try:
            return Path(self.conf("maillog_file")).read_text(errors="replace")
        except OSError:
            return ""

    def maildir(self, addr):
        local, domain = addr.split("@")
        return self.mailbase / domain / local

    def messages(self, addr):
        """Raw bytes of every message in the INBOX (new/ and cur/), oldest first."""
        md = self.maildir(addr)
        files = []
        for sub in ("new", "cur"):
            d = md / sub
            if d.is_dir():
                files += [p for p in d.iterdir() if p.is_file()]
        files.sort(key=lambda p: (p.stat().st_mtime, p.name))
        return [p.read_bytes() for p in files]

    def wait_messages(self, addr, count, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            msgs = self.messages(addr)
            if len(msgs) >= count:
                return msgs
            time.sleep(0.05)
        raise AssertionError(f"{addr}: {len(self.messages(addr))} messages, expected {count}\n"
                             f"log tail:\n{self.log()[-4000:]}")

    def queue_files(self, queue=None):
        queues = [queue] if queue else ["incoming", "active", "deferred", "hold"]
        out = []
        for q in queues:
            d = self.spool / q
            if d.is_dir():
                out += [p.name for p in d.iterdir()]
        return out

    def queued(self, qid, looks=3):
        """Is qid in a queue directory? Asked of several listings: one reads the directories
        one after the other, so a message qmgr moves from deferred/ to active/ in between is
        in neither."""
        return any(qid in self.queue_files() for _ in range(looks))

    def wait_queue_empty(self, timeout=30):
        """Until no queue directory holds a message, seen three times in a row: one listing
        reads the directories one after the other, so a message qmgr moves from deferred/ to
        active/ in between is in neither (a retried message taken for gone)."""
        deadline = time.time() + timeout
        empty = 0
        while time.time() < deadline:
            empty = empty + 1 if not self.queue_files(None) else 0
            if empty == 3:
                return
            time.sleep(0.05)
        raise AssertionError(f"queue not empty: {self.queue_files()}\n{self.log()[-4000:]}")

    def wait_log(self, text, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log():
                return
            time.sleep(0.05)
        raise AssertionError(f"log never showed {text!r}\n{self.log()[-4000:]}")

    def wait_port(self, port, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"port {port} never opened\n{self.log()[-4000:]}")

    def wait_configured(self, timeout=30):
        """Every daemon master started has read its configuration: it has opened the log
        file, which the service skeleton does right after loading main.cf (a test that breaks
        main.cf must not catch a process still starting, which would read the broken file)."""
        logfile = os.path.realpath(self.conf("maillog_file"))
        deadline = time.time() + timeout
        while True:
            waiting = []
            for pids in self.status_pids().values():
                for pid in pids:
                    try:
                        fds = os.listdir(f"/proc/{pid}/fd")
                        if not any(os.path.realpath(f"/proc/{pid}/fd/{fd}") == logfile for fd in fds):
                            waiting.append(pid)
                    except OSError:
                        pass  # gone or not ours to look at
            if not waiting:
                return
            if time.time() > deadline:
                raise AssertionError(f"daemons {waiting} never opened {logfile}")
            time.sleep(0.05)

    # --- deaths the test causes ------------------------------------------------------
    def kill(self, pid, sig=signal.SIGKILL):
        """Send SIG to a daemon, declaring the death it causes (see check_deaths)."""
        if sig not in (signal.SIGSTOP, signal.SIGCONT, 0):
            self.expected_deaths[pid] = int(sig)
        os.kill(pid, sig)

    def expect_deaths(self, *pids, sig=None):
        """Declare that daemons PIDS end abnormally because of the test (by SIG, or any end)."""
        for pid in pids:
            self.expected_deaths[pid] = sig

    def unexpected_deaths(self):
        """Master's log lines of abnormal ends the test did not declare."""
        out = []
        for m in DEATH_LINE.finditer(self.log()):
            pid, sig = int(m.group("pid")), m.group("sig")
            if pid in self.expected_deaths:
                want = self.expected_deaths[pid]
                if want is None or (sig is not None and int(sig) == want):
                    continue
            out.append(m.group(0))
        return out

    def sanitizer_reports(self):
        d = self.root / "sanitizer"
        if not d.is_dir():
            return []
        return [f"{p.name}:\n{p.read_text(errors='replace')[:3000]}" for p in sorted(d.iterdir())]

    def close(self):
        """Stop everything, remove the instance and fail when a daemon ended abnormally
        without the test declaring it, or a sanitizer reported anything."""
        if self in LIVE_INSTANCES:
            LIVE_INSTANCES.remove(self)
        try:
            self.stop()
            self.kill_all()
            deaths, reports = self.unexpected_deaths(), self.sanitizer_reports()
            tail = "\n".join(self.log().splitlines()[-60:]) if deaths else ""
        finally:
            restore_env(self.saved_env)
            self.saved_env = None
            if self.reservation:
                self.reservation.release()
        shutil.rmtree(self.root, ignore_errors=True)
        problems = []
        if deaths:
            problems.append("daemons died without the test causing it (see master/spawn.c):\n  "
                            + "\n  ".join(deaths) + "\nthe end of the log:\n" + tail)
        if reports:
            problems.append("sanitizer reports:\n" + "\n".join(reports))
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)

    def kill_all(self):
        """Kill every process still running from this instance (by its config path)."""
        marker = str(self.etc)
        for pid_dir in Path("/proc").iterdir():
            if not pid_dir.name.isdigit():
                continue
            try:
                cmdline = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                environ = (pid_dir / "environ").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline or f"POSTHORN_CONFIG={marker}" in environ:
                try:
                    os.kill(int(pid_dir.name), signal.SIGKILL)
                except OSError:
                    pass


# master/spawn.c logs every abnormal end of a child in one of these two shapes.
DEATH_LINE = re.compile(r"process (?P<cmd>\S+) pid (?P<pid>\d+) "
                        r"(?:killed by signal (?P<sig>\d+)|exit status (?P<status>\d+))")
SANITIZED = os.environ.get("POSTHORN_SANITIZED") == "1"
SANITIZER_VARS = ("ASAN_OPTIONS", "UBSAN_OPTIONS")


def watch_sanitizers(report_dir):
    """Under the sanitizers, make every process started from here on (posthorn, master and
    through it every daemon) write its ASan/UBSan reports to REPORT_DIR/{asan,ubsan}.PID
    (daemon stderr is /dev/null). Returns the environment to restore, or None."""
    if not SANITIZED:
        return None
    report_dir.mkdir(exist_ok=True)
    os.chmod(report_dir, 0o1777)  # daemons run as mail_owner and vmail_owner
    saved = {k: os.environ.get(k) for k in SANITIZER_VARS}
    for var, name in zip(SANITIZER_VARS, ("asan", "ubsan")):
        base = [o for o in (saved[var] or "").split(":") if o and not o.startswith("log_path=")]
        os.environ[var] = ":".join(base + [f"log_path={report_dir / name}"])
    return saved


def restore_env(saved):
    for k, v in (saved or {}).items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def close_quietly(*things):
    """Close each file or socket, ignoring the errors of a connection already gone."""
    for t in things:
        try:
            t.close()
        except OSError:
            pass


def body_of(raw: bytes) -> bytes:
    """The message as the client sent it: drop the headers Posthorn prepends
    (Return-Path, Delivered-To, Received) from a delivered Maildir file."""
    msg = raw
    for name in (b"Return-Path:", b"Delivered-To:", b"Received:"):
        if msg.startswith(name):
            end = msg.find(b"\n")
            while end != -1 and msg[end + 1:end + 2] in (b" ", b"\t"):
                end = msg.find(b"\n", end + 1)
            msg = msg[end + 1:]
    return msg


def make_instance(extra_init_args=()):
    root = Path(tempfile.mkdtemp(prefix="posthorn-test-"))
    os.chmod(root, 0o755)  # the daemons' own users must be able to reach the instance
    reservation = reserve_offset()
    offset = reservation.offset
    try:
        run([POSTHORN, "init", str(root), "--hostname", HOSTNAME, "--domain", DOMAIN,
             "--listen", "127.0.0.1", "--port-offset", str(offset), *extra_init_args])
    except BaseException:
        reservation.release()
        shutil.rmtree(root, ignore_errors=True)
        raise
    inst = Instance(root, offset, reservation)
    # No test reaches the DNS or port 25 by accident: the smtp transport (smtp-client) is
    # off unless a test turns it on with enable_smtp_client(), pointing it at its own
    # loopback DNS server. Mail for other domains then waits in the queue, as before.
    inst.set_smtp_service(False)
    # Tests run fast: retry deferred mail quickly, and hash passwords at a cost of about 3 ms,
    # not the 0.2 s of one core of the default (the suite adds and logs in users over two
    # thousand times; test_login_limits checks the default cost where it matters).
    inst.set_conf(queue_run_delay="1s", minimal_backoff_time="1s", maximal_backoff_time="2s",
                  argon2_memory_cost="4096", argon2_time_cost="1")
    return inst


@pytest.fixture
def instance():
    """A fresh, initialised but not yet started instance (tests tweak config, then start)."""
    inst = make_instance()
    try:
        yield inst
    finally:
        inst.close()


@pytest.fixture
def server(instance):
    """A running instance with users alice@ and bob@example.test (password 'secret')."""
    instance.add_user("alice@" + DOMAIN)
    instance.add_user("bob@" + DOMAIN)
    instance.start()
    return instance


def parse(raw: bytes):
    return email.message_from_bytes(raw)


def pytest_sessionfinish(session, exitstatus):
    """A file whose every test was skipped exits 77, which ctest reports as skipped (not
    passed; t/CMakeLists.txt sets SKIP_RETURN_CODE)."""
    stats = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = stats.stats if stats else {}
    if exitstatus == 0 and stats.get("skipped") and not stats.get("passed"):
        session.exitstatus = 77
