"""Shared fixtures for Posthorn's integration tests.

Every test gets real daemons: `posthorn init` creates an instance in a fresh temporary
directory on 127.0.0.1 with a port offset whose ports are free, `posthorn start` runs it, and
the fixture stops it (and kills anything left) afterwards. Tests talk to it with real clients
(smtplib, swaks, openssl s_client, ...). POSTHORN_BIN names the build's bin directory.
"""
import email
import os
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


def port_free(port, host="127.0.0.1"):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def pick_offset():
    """A port offset for which every standard port + offset is free on 127.0.0.1."""
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(200):
        offset = rng.randrange(20000, 60000 - 1000, 10)
        if all(port_free(p + offset) for p in BASE_PORTS.values()):
            return offset
    raise RuntimeError("no free port range found")


def run(args, check=True, input=None, env=None, timeout=60):
    """Run a command, returning CompletedProcess with text output."""
    p = subprocess.run(args, input=input, capture_output=True, text=True, env=env, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


class Instance:
    """One Posthorn instance in a temporary directory."""

    def __init__(self, root: Path, offset: int):
        self.root = root
        self.offset = offset
        self.etc = root / "etc"
        self.ports = {k: v + offset for k, v in BASE_PORTS.items()}
        self.running = False

    # --- administration -------------------------------------------------------------
    def posthorn(self, *args, check=True, input=None, timeout=60):
        return run([POSTHORN, "-c", str(self.etc), *args], check=check, input=input, timeout=timeout)

    def conf(self, name):
        out = self.posthorn("conf", name).stdout.strip()
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

    def wait_queue_empty(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.queue_files(None):
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
    offset = pick_offset()
    run([POSTHORN, "init", str(root), "--hostname", HOSTNAME, "--domain", DOMAIN,
         "--listen", "127.0.0.1", "--port-offset", str(offset), *extra_init_args])
    inst = Instance(root, offset)
    # Tests run fast: retry deferred mail quickly.
    inst.set_conf(queue_run_delay="1s", minimal_backoff_time="1s", maximal_backoff_time="2s")
    return inst


@pytest.fixture
def instance():
    """A fresh, initialised but not yet started instance (tests tweak config, then start)."""
    inst = make_instance()
    try:
        yield inst
    finally:
        inst.stop()
        inst.kill_all()
        shutil.rmtree(inst.root, ignore_errors=True)


@pytest.fixture
def server(instance):
    """A running instance with users alice@ and bob@example.test (password 'secret')."""
    instance.add_user("alice@" + DOMAIN)
    instance.add_user("bob@" + DOMAIN)
    instance.start()
    return instance


def parse(raw: bytes):
    return email.message_from_bytes(raw)
