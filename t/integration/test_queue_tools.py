"""Queue tools: mailq / queue list, show, hold, release, delete, requeue, flush, on mail that
is deferred because the recipient is over quota."""
import json
import os
import re
import smtplib
import time

from conftest import BIN, DOMAIN, run
from spool_check import wait_spool_clean

ALICE = "alice@" + DOMAIN


def send(server, subject, size=2000):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as c:
        c.sendmail("q@remote.test", [ALICE], b"Subject: " + subject.encode() + b"\r\n\r\n" + b"x" * size + b"\r\n")


def deferred_ids(server, n, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        ids = server.queue_files("deferred")
        if len(ids) >= n:
            return sorted(ids)
        time.sleep(0.1)
    raise AssertionError(f"not deferred: {server.queue_files()}\n{server.log()[-3000:]}")


def setup_over_quota(instance, n):
    instance.add_user(ALICE, quota=1000)
    instance.set_conf(minimal_backoff_time="300s", maximal_backoff_time="600s", queue_run_delay="300s")
    instance.start()
    send(instance, "fills the quota")
    instance.wait_messages(ALICE, 1)
    for i in range(n):
        send(instance, f"deferred {i}")
    return deferred_ids(instance, n)


def test_quota_defers_then_delivers_after_raise(instance):
    ids = setup_over_quota(instance, 1)
    instance.wait_log("status=deferred")
    # doc/mailstore.md, local-mda: quota reached -> defer, 4.2.2, "mailbox full".
    deferred = re.compile(re.escape(ids[0]) + r": to=<" + re.escape(ALICE) +
                          r">, relay=local, .*dsn=4\.2\.2, status=deferred \(mailbox full\)$")
    assert any(deferred.search(l) for l in instance.log().splitlines()), instance.log()[-3000:]
    assert len(instance.messages(ALICE)) == 1
    instance.posthorn("user", "quota", ALICE, "10m")
    instance.posthorn("queue", "flush")
    instance.wait_messages(ALICE, 2)
    wait_spool_clean(instance)


def test_mailq_shape_and_json(instance):
    ids = setup_over_quota(instance, 2)
    out = instance.posthorn("queue", "list").stdout
    env = dict(os.environ, POSTHORN_CONFIG=str(instance.etc))
    mailq = run([str(BIN / "mailq")], env=env).stdout
    assert mailq.splitlines()[0] == out.splitlines()[0] and all(q in mailq for q in ids)
    assert out.splitlines()[0].startswith("----Queue ID-----")  # Postfix's long-ID heading
    for qid in ids:
        assert qid in out
    assert "q@remote.test" in out and ALICE in out
    assert "Requests." in out.splitlines()[-1]
    data = json.loads(instance.posthorn("queue", "list", "--json").stdout)
    assert sorted(m["queue_id"] for m in data) == ids
    assert all(m["queue_name"] == "deferred" for m in data)
    show = instance.posthorn("queue", "show", ids[0]).stdout
    assert "Subject: deferred" in show and "q@remote.test" in show


def test_hold_release_delete_requeue(instance):
    ids = setup_over_quota(instance, 2)
    instance.posthorn("queue", "hold", ids[0])
    assert ids[0] in instance.queue_files("hold")
    assert "!" in [l for l in instance.posthorn("queue", "list").stdout.splitlines() if l.startswith(ids[0])][0]
    instance.posthorn("queue", "release", ids[0])
    assert ids[0] not in instance.queue_files("hold")
    instance.posthorn("queue", "delete", ids[1])
    assert ids[1] not in instance.queue_files()
    instance.posthorn("queue", "requeue", "ALL")
    instance.posthorn("user", "quota", ALICE, "10m")
    instance.posthorn("queue", "flush")
    msgs = instance.wait_messages(ALICE, 2)
    wait_spool_clean(instance)
    assert len(instance.messages(ALICE)) == 2
    assert all(b"deferred 1" not in m for m in msgs)


def test_bad_queue_ids_are_refused(instance):
    """Queue IDs name files: anything but 18 upper-case hex digits is refused before it
    reaches a path (doc/queue-format.md, Queue IDs). Every bad ID below points at a file that
    exists, so a missing check would find it and act on it."""
    instance.start()
    spool = instance.spool
    victims = {spool / "victim": b"spool level\n", instance.root / "victim": b"instance level\n"}
    for path, data in victims.items():
        path.write_bytes(data)
    lower = "6614bad38fb4cebafb"  # the right shape in lower case, placed in hold/
    (spool / "hold" / lower).write_bytes(b"not a queue file\n")
    bad_ids = ["../victim", "../../victim", "..", lower, "6614BAD38FB4CEBAF", "6614BAD38FB4CEBAFB/"]
    for op in ("delete", "hold", "release", "requeue", "show"):
        for bad in bad_ids:
            p = instance.posthorn("queue", op, bad, check=False)
            assert p.returncode != 0, (op, bad, p.stdout)
            assert f'"{bad}" is not a queue ID' in p.stderr, (op, bad, p.stderr)
            assert "spool level" not in p.stdout and "instance level" not in p.stdout
    for path, data in victims.items():
        assert path.read_bytes() == data
    assert (spool / "hold" / lower).read_bytes() == b"not a queue file\n"
    assert sorted(p.name for p in spool.iterdir() if p.is_file()) == ["victim"]
