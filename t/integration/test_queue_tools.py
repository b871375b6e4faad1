"""Queue tools: mailq / queue list, show, hold, release, delete, requeue, flush, on mail that
is deferred because the recipient is over quota."""
import json
import os
import smtplib
import time

from conftest import BIN, DOMAIN, run

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
    assert "quota" in instance.log().lower() or "full" in instance.log().lower()
    assert len(instance.messages(ALICE)) == 1
    instance.posthorn("user", "quota", ALICE, "10m")
    instance.posthorn("queue", "flush")
    instance.wait_messages(ALICE, 2)
    instance.wait_queue_empty()
    assert ids


def test_mailq_shape_and_json(instance):
    ids = setup_over_quota(instance, 2)
    out = instance.posthorn("queue", "list").stdout
    env = dict(os.environ, POSTHORN_CONFIG=str(instance.etc))
    mailq = run([str(BIN / "mailq")], env=env).stdout
    assert mailq.splitlines()[0] == out.splitlines()[0] and all(q in mailq for q in ids)
    assert out.splitlines()[0].startswith("-Queue ID-")
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
    instance.wait_queue_empty()
    time.sleep(0.5)
    assert len(instance.messages(ALICE)) == 2
    assert all(b"deferred 1" not in m for m in msgs)


def test_bad_queue_ids_are_refused(instance):
    instance.start()
    for bad in ("../../etc/passwd", "ABC", "0123456789ABCDEF0/"):
        p = instance.posthorn("queue", "delete", bad, check=False)
        assert p.returncode != 0
