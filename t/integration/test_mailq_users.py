"""mailq for every local user through the showq service (doc/operator.md, "The queue";
doc/ipc.md, "showq"): nobody, who cannot read the spool, lists a queue with active, deferred
and held mail with mailq, sendmail -bp and postqueue -p, in exactly Postfix's layout; when
the mail system is down nobody is told so (EX_UNAVAILABLE) while root reads the spool
directly; showq sends nothing but what mailq shows, streams a large queue in bounded memory,
and drops clients that stall."""
import os
import re
import socket
import subprocess
import sys
import time

from conftest import BIN, run, SANITIZED
from queue_mix import (ALICE, BOB, COMPAT, as_nobody, env_for, json_lines, mixed_queue, need_root,
                       postfix_mailq)
from queue_file import new_queue_id, queue_file_bytes, write_queue_file

LISTINGS = ([BIN / "mailq"], [BIN / "sendmail", "-bp"], [COMPAT / "postqueue", "-p"])


def test_nobody_lists_the_queue(instance):
    need_root()
    q = mixed_queue(instance)
    denied = as_nobody(instance, "ls", instance.spool / "deferred")
    assert denied.returncode != 0 and "Permission denied" in denied.stderr, "nobody reads the spool"
    msgs = json_lines(instance)
    assert sorted((m["queue_name"], m["queue_id"]) for m in msgs) == sorted(
        [("deferred", q["deferred"][0]), ("hold", q["held"][0]), ("hold", q["bounce"]),
         ("active", q["active"])])
    expect = postfix_mailq(msgs)
    for cmd in LISTINGS:
        p = as_nobody(instance, *cmd)
        assert (p.returncode, p.stderr) == (0, ""), (cmd, p.returncode, p.stderr)
        assert p.stdout == expect, (cmd, p.stdout, expect)
    assert run([str(BIN / "mailq")], env=env_for(instance)).stdout == expect  # root: the same

    lines = expect.splitlines()
    assert lines[0] == "----Queue ID-----   --Size-- ---Arrival Time---- --Sender/Recipient------"
    by_id = {line.split()[0]: line for line in lines if re.match(r"^[0-9A-F]{18}", line)}
    assert by_id[q["active"] + "*"].endswith(" act@remote.test")
    assert by_id[q["held"][0] + "!"].endswith(" q@remote.test")
    assert by_id[q["bounce"] + "!"].endswith(" MAILER-DAEMON")
    assert by_id[q["deferred"][0]].endswith(" q@remote.test")
    assert lines.count(" " * 64 + "(mailbox full)") == 2  # the held one keeps its reason
    assert lines.count(" " * 49 + ALICE) == 3 and lines.count(" " * 49 + BOB) == 2
    total = sum(m["message_size"] for m in msgs)
    assert lines[-1] == f"-- {total // 1024} Kbytes in 4 Requests."  # rounded down


def test_when_the_mail_system_is_down(instance):
    need_root()
    mixed_queue(instance)
    expect = postfix_mailq(json_lines(instance))
    instance.stop()
    for cmd in LISTINGS:
        p = as_nobody(instance, *cmd)
        prog = cmd[0].name
        assert p.returncode == 69 and p.stdout == "", (cmd, p.returncode, p.stdout)  # EX_UNAVAILABLE
        assert p.stderr.startswith(f"{prog}: fatal: Queue report unavailable - mail system is down "
                                   "(Connect to the posthorn showq service: "), p.stderr
    p = run([str(BIN / "mailq")], env=env_for(instance))
    assert p.stdout == expect
    assert p.stderr.startswith("mailq: warning: Mail system is down -- accessing queue directly"), p.stderr
    p = instance.posthorn("queue", "list")  # the admin's own command says nothing about it
    assert (p.stdout, p.stderr) == (expect, "")


def raw_showq(inst, request, user=None):
    """Speak the showq protocol by hand (as user), returning everything showq sent."""
    script = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode())
out = b""
while True:
    c = s.recv(65536)
    if not c:
        break
    out += c
sys.stdout.write(out.decode("latin-1"))
"""
    cmd = [sys.executable, "-c", script, str(inst.spool / "public" / "showq"), request]
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def records(text):
    return [dict(line.split("=", 1) for line in rec.split("\n")) for rec in text.split("\n\n") if rec]


def test_showq_sends_only_what_mailq_shows(instance):
    need_root()
    q = mixed_queue(instance)
    st = os.stat(instance.spool / "public")
    assert st.st_mode & 0o005 == 0o005, "public/ lets local users reach the socket"
    assert os.stat(instance.spool / "public" / "showq").st_mode & 0o002, "and connect to it"
    recs = records(raw_showq(instance, r"request=list\n\n", user="nobody"))
    assert recs[0] == {"protocol": "showq", "version": "1"} and recs[-1] == {"end": "ok"}
    names = {k for r in recs[1:-1] for k in r}
    assert names == {"queue", "queue_id", "arrival_time", "message_size", "forced_expire", "sender",
                     "nrcpt", "address", "reason"}
    text = "".join(f"{k}={v}\n" for r in recs for k, v in r.items())
    assert "Subject" not in text and "bbbb" not in text and "body" not in text
    assert {r["queue_id"] for r in recs if "queue_id" in r} == {q["deferred"][0], q["active"], *q["held"]}
    held = records(raw_showq(instance, r"request=list\nqueue=hold\n\n", user="nobody"))
    assert {r["queue_id"] for r in held if "queue_id" in r} == set(q["held"])
    # Anything else is refused: the connection closes after the announcement.
    for bad in (r"request=list\nqueue=deferred\n\n", r"request=show\nqueue_id=" + q["active"] + r"\n\n",
                r"request=list\ncontent=yes\n\n"):
        assert records(raw_showq(instance, bad, user="nobody")) == [{"protocol": "showq", "version": "1"}]
    instance.wait_log("showq client: cannot list queue \"deferred\": closing the connection")


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M).group(1))


def test_showq_streams_a_large_queue_in_bounded_memory(instance):
    """5000 messages of 20 recipients each (a listing of some 8 MB) are listed while the
    client first reads nothing: showq's peak memory grows by far less than the listing."""
    instance.start()
    rcpts = [f"recipient-number-{i:02d}-with-a-long-local-part@destination.example" for i in range(20)]
    data = queue_file_bytes("bulk@remote.test", rcpts, b"Subject: bulk\n\n" + b"y" * 200 + b"\n")
    hold = instance.spool / "hold"
    ids = set()
    while len(ids) < 5000:
        qid = new_queue_id()
        if qid not in ids:
            ids.add(qid)
            write_queue_file(hold / qid, data, like=hold)
    pids = instance.status_pids()["showq"]
    assert len(pids) == 2  # either may serve the client: the growth of both is summed
    before = sum(vm_hwm_kb(pid) for pid in pids)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(str(instance.spool / "public" / "showq"))
    s.sendall(b"request=list\n\n")
    time.sleep(1.5)  # showq fills what the socket takes, then waits
    stalled = sum(vm_hwm_kb(pid) for pid in pids)
    got = bytearray()
    while chunk := s.recv(1 << 20):
        got += chunk
    s.close()
    after = sum(vm_hwm_kb(pid) for pid in pids)
    assert got.endswith(b"end=ok\n\n") and got.count(b"\nnrcpt=20\n") == 5000
    assert len(got) > 7_000_000
    print(f"listing {len(got)} bytes; showq VmHWM {before} kB before, {stalled} kB stalled, {after} kB after")
    if not SANITIZED:  # ASan's quarantine keeps freed memory: its peak says nothing here
        assert after - before < 2048, (before, stalled, after)
    start = time.time()
    out = run([str(BIN / "mailq")], env=env_for(instance), timeout=120).stdout
    print(f"mailq of 5000 messages: {time.time() - start:.2f} s, {len(out)} bytes")
    assert out.endswith(" in 5000 Requests.\n") and out.count("!  ") == 5000


def test_showq_drops_a_client_that_stalls(instance):
    instance.set_conf(showq_timeout="1s")
    instance.start()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(str(instance.spool / "public" / "showq"))
    start = time.time()
    got = b""
    while chunk := s.recv(4096):  # the announcement, then the close
        got += chunk
    assert got == b"protocol=showq\nversion=1\n\n" and time.time() - start < 10
    instance.wait_log("showq client: no progress for 1s: closing the connection")
    s.close()


def test_reload_does_not_wait_for_a_stalled_client(instance):
    """A reload starts the new showq processes at once, while the old ones still hold a
    client that says nothing (it would keep them for showq_timeout, 60 s)."""
    instance.start()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(str(instance.spool / "public" / "showq"))
    assert s.recv(4096) == b"protocol=showq\nversion=1\n\n"
    old = set(instance.status_pids()["showq"])
    instance.reload()
    deadline = time.time() + 10
    while not (set(instance.status_pids().get("showq", [])) - old):
        assert time.time() < deadline, "no new showq generation"
        time.sleep(0.1)
    start = time.time()
    p = run([str(BIN / "mailq")], env=env_for(instance), timeout=30)
    assert (p.stdout, p.stderr) == ("Mail queue is empty\n", "") and time.time() - start < 5
    s.close()
