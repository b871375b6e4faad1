"""IPC strictness (doc/ipc.md, Encoding; doc/mailstore.md, local-mda): a local client on
SPOOL/private/local and SPOOL/private/qmgr sends a value with %00, a repeated attribute, a
message over 1 MB (IPC_MAX_MESSAGE) and, for local-mda, connects as a user that is neither
root, mail_owner nor vmail_owner. Each is refused (no answer that acts on it, connection
closed, nothing delivered) and the same daemon process goes on serving well-formed requests.
Each malformed request is built so that a reader without that one check would act on it."""
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from conftest import DOMAIN
from queue_file import new_queue_id, queue_file_bytes

ALICE = "alice@" + DOMAIN
IPC_MAX = 1024 * 1024


def connect(inst, name, greeting):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(str(inst.spool / "private" / name))
    got = b""
    while not got.endswith(b"\n\n"):
        chunk = s.recv(4096)
        assert chunk, f"closed before the greeting: {got!r}"
        got += chunk
    assert got == greeting
    return s


def read_to_eof(s):
    """Everything the server sends until it closes (a timeout fails the test). A reset
    (closed with our data unread) is a close too."""
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


def read_message(s):
    """One attribute message (up to its empty line); the connection stays open."""
    out = b""
    while not out.endswith(b"\n\n"):
        chunk = s.recv(65536)
        assert chunk, f"closed after {out!r}"
        out += chunk
    return out


def send_quietly(s, data, fds=()):
    """Send; the server may close early on a refused message (EPIPE/ECONNRESET is fine)."""
    try:
        if fds:
            socket.send_fds(s, [data[:1]], list(fds))
            data = data[1:]
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


@pytest.fixture
def server(instance):
    """Running, with alice@; local-mda's idle timeout far above the 20 s the tests wait, so
    a close they see is a refusal, not the idle timeout."""
    instance.add_user(ALICE)
    instance.set_conf(local_idle_timeout="120s")
    instance.start()
    return instance


# --- qmgr ---------------------------------------------------------------------------------

QMGR_GREETING = b"protocol=qmgr\nversion=1\n\n"


def qmgr_exchange(inst, data):
    s = connect(inst, "qmgr", QMGR_GREETING)
    with s:
        send_quietly(s, data)
        return read_to_eof(s)


def assert_qmgr_serves(inst):
    s = connect(inst, "qmgr", QMGR_GREETING)
    with s:
        s.sendall(b"request=flush\n\n")
        assert read_message(s) == b"status=ok\n\n"


QMGR_BAD = {
    # Decoded without the %00 check, the value would read "flush" as a C string.
    "nul": b"request=flush%00\n\n",
    # Without the repetition check the second line would simply win.
    "repeated": b"request=flush\nrequest=flush\n\n",
}


@pytest.mark.parametrize("case", sorted(QMGR_BAD))
def test_qmgr_refuses_malformed_and_keeps_serving(server, case):
    pids = server.status_pids()["qmgr"]
    assert_qmgr_serves(server)
    reply = qmgr_exchange(server, QMGR_BAD[case])
    assert reply == b"" or reply.startswith(b"status=error\n"), reply
    assert_qmgr_serves(server)
    assert server.status_pids()["qmgr"] == pids


def test_qmgr_closes_over_1mb_without_waiting_for_the_end(server):
    """Over 1 MB with no end in sight: refused at once, not buffered until the idle timeout."""
    pids = server.status_pids()["qmgr"]
    s = connect(server, "qmgr", QMGR_GREETING)
    with s:
        send_quietly(s, b"request=" + b"f" * (IPC_MAX + 4096))
        start = time.time()
        reply = read_to_eof(s)  # 20 s socket timeout; qmgr's idle timeout is 60 s
    assert b"status=ok" not in reply and time.time() - start < 15
    assert_qmgr_serves(server)
    assert server.status_pids()["qmgr"] == pids


# --- local-mda ----------------------------------------------------------------------------

DELIVER_GREETING = b"protocol=deliver\nversion=1\n\n"


def deliver_request(qid, sender="a@remote.test", extra=b""):
    return (b"request=deliver\nqueue_id=%s\nsender=%s\narrival=%d\nnrcpt=1\nrcpt_0=%s\n%s\n"
            % (qid.encode(), sender.encode(), int(time.time()), ALICE.encode(), extra))


def queue_fd(inst, qid, subject):
    path = inst.root / ("qf-" + qid)
    path.write_bytes(queue_file_bytes("a@remote.test", [ALICE],
                                      b"Subject: " + subject.encode() + b"\n\n" + subject.encode() + b"\n"))
    return os.open(path, os.O_RDONLY)


def deliver_exchange(inst, request, fd):
    s = connect(inst, "local", DELIVER_GREETING)
    with s:
        send_quietly(s, request, fds=[fd])
        os.close(fd)
        return read_to_eof(s)


def assert_local_serves(inst, subject):
    """A well-formed request is answered (local-mda keeps the connection for more)."""
    qid = new_queue_id()
    s = connect(inst, "local", DELIVER_GREETING)
    fd = queue_fd(inst, qid, subject)
    with s:
        send_quietly(s, deliver_request(qid), fds=[fd])
        os.close(fd)
        reply = read_message(s)
    assert b"status_0=sent\n" in reply and b"dsn_0=2.0.0\n" in reply, reply
    assert any(subject.encode() in m for m in inst.messages(ALICE))


LOCAL_BAD = {
    # Decoded without the %00 check, the sender would read "a" as a C string: delivered.
    "nul": lambda qid: deliver_request(qid, sender="a%00@remote.test"),
    # Without the repetition check a second sender line would simply win.
    "repeated": lambda qid: deliver_request(qid, extra=b"sender=b@remote.test\n"),
}


@pytest.mark.parametrize("case", sorted(LOCAL_BAD))
def test_local_mda_refuses_malformed_and_keeps_serving(server, case):
    pids = server.status_pids()["local"]
    assert_local_serves(server, "before")
    qid = new_queue_id()
    reply = deliver_exchange(server, LOCAL_BAD[case](qid), queue_fd(server, qid, "malformed"))
    assert reply == b""
    assert_local_serves(server, "after")
    assert len(server.messages(ALICE)) == 2
    assert not any(b"malformed" in m for m in server.messages(ALICE))
    assert f"{qid}" not in server.log()
    assert server.status_pids()["local"] == pids


def test_local_mda_closes_over_1mb_without_waiting_for_the_end(server):
    pids = server.status_pids()["local"]
    qid = new_queue_id()
    s = connect(server, "local", DELIVER_GREETING)
    fd = queue_fd(server, qid, "malformed")
    with s:
        send_quietly(s, b"request=deliver\nsender=" + b"a" * (IPC_MAX + 4096), fds=[fd])
        os.close(fd)
        start = time.time()
        reply = read_to_eof(s)  # 20 s socket timeout; local_idle_timeout is 120 s here
    assert reply == b"" and time.time() - start < 15
    assert_local_serves(server, "after")
    assert len(server.messages(ALICE)) == 1
    assert server.status_pids()["local"] == pids


PEER_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
out = b""
while True:
    c = s.recv(4096)
    if not c:
        break
    out += c
sys.stdout.write(repr(out))
"""


def test_local_mda_refuses_a_wrong_peer(server):
    """SO_PEERCRED: a client that is not root, mail_owner or vmail_owner gets nothing. The
    directory (private/ is 0700) would stop it first, so the socket is reached through a
    second hard link in a directory anyone may search; the check under test is local-mda's."""
    if os.geteuid() != 0:
        pytest.skip("needs root to connect as another user")
    if shutil.which("runuser") is None:
        pytest.skip("runuser not installed")
    pids = server.status_pids()["local"]
    side = server.root / "side"
    side.mkdir()
    os.chmod(side, 0o755)
    os.link(server.spool / "private" / "local", side / "local")
    p = subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, "-c", PEER_CLIENT,
                        str(side / "local")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "b''", p.stdout  # not even the greeting
    server.wait_log("refusing a delivery connection from uid %d" % int(
        subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout))
    assert_local_serves(server, "after")
    assert server.status_pids()["local"] == pids
