"""Nothing acknowledged is ever lost: 500 messages are sent while smtpd, qmgr and local-mda
are killed with SIGKILL at random moments (and, in the second run, master itself, which is
then started again as an operator would). Every message that got a 250 must end up in the
Maildir. Local delivery is exactly once (local-mda records each copy with its queue ID), so
no message may arrive twice under one queue ID whatever is killed; the duplicates left are
clients retrying after a killed smtpd (or master) never sent the 250 of a message it had
already queued (RFC 5321 sec 6.1): a new queue ID each, at most one per session in flight
at the kill. They are counted and reported."""
import random
import re
import smtplib
import threading
import time

import pytest

from conftest import DOMAIN

ALICE = "alice@" + DOMAIN
MESSAGES = 500
THREADS = 4


def sender(server, seqs, acked, lock, errors):
    for seq in seqs:
        for attempt in range(50):
            try:
                with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=20) as c:
                    c.sendmail("load@remote.test", [ALICE],
                               b"Subject: load %d\r\nX-Seq: %d\r\n\r\nbody %d\r\n" % (seq, seq, seq))
                with lock:
                    acked.add(seq)
                break
            except (smtplib.SMTPException, OSError):
                time.sleep(0.05 * (attempt + 1))
        else:
            errors.append(seq)


def restart_master(server):
    deadline = time.time() + 30
    while time.time() < deadline:
        if server.posthorn("start", check=False).returncode == 0:
            return
        time.sleep(0.2)
    raise AssertionError("master did not restart\n" + server.log()[-3000:])


def killer(server, stop, kills, services):
    rng = random.Random(1234)
    while not stop.is_set():
        time.sleep(rng.uniform(0.02, 0.2))
        service = rng.choice(services)
        if service == "master":
            pid = server.master_pid()
            if pid:
                server.kill(pid)  # declared: the harness tolerates this death only
                kills.append(("master", pid))
                restart_master(server)
            continue
        pids = server.status_pids()
        name = [k for k in pids if k == service or k.endswith(service)]
        if not name or not pids[name[0]]:
            continue
        pid = rng.choice(pids[name[0]])
        try:
            server.kill(pid)  # declared: the harness tolerates this death only
            kills.append((service, pid))
        except ProcessLookupError:
            pass


def seqs_in(msgs):
    out = []
    for m in msgs:
        found = re.search(rb"^X-Seq: (\d+)$", m, re.M)
        assert found, m[:300]
        out.append(int(found.group(1)))
    return out


def queue_ids_in(msgs):
    """The queue ID of each copy, from the Received: header smtpd adds ("id QUEUEID")."""
    out = []
    for m in msgs:
        found = re.search(rb"\sid ([0-9A-F]{18})", m)
        assert found, m[:300]
        out.append(found.group(1).decode())
    return out


@pytest.mark.parametrize("with_master", [False, True], ids=["daemons", "daemons+master"])
def test_kill_daemons_during_load_loses_nothing(instance, with_master):
    # Restart killed services quickly so the test measures loss, not back-off.
    instance.set_conf(service_throttle_time="2s")
    instance.add_user(ALICE)
    instance.start()
    server = instance
    acked, lock, errors, kills = set(), threading.Lock(), [], []
    stop = threading.Event()
    smtp_service = ":%d" % server.ports["smtp"]
    victims = [smtp_service, "qmgr", "local"] + (["master"] if with_master else [])
    k = threading.Thread(target=killer, args=(server, stop, kills, victims))
    k.start()
    chunks = [list(range(i, MESSAGES, THREADS)) for i in range(THREADS)]
    threads = [threading.Thread(target=sender, args=(server, c, acked, lock, errors)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Keep killing while the queue drains, so deliveries are interrupted too.
    deadline = time.time() + 10
    while len(kills) < 15 and time.time() < deadline:
        time.sleep(0.1)
    stop.set()
    k.join()
    assert not errors, f"never accepted: {errors[:10]}"
    assert len(acked) == MESSAGES
    assert len(kills) >= 5, kills
    server.wait_queue_empty(timeout=120)
    msgs = server.messages(ALICE)
    seqs = seqs_in(msgs)
    missing = set(acked) - set(seqs)
    assert not missing, f"lost {len(missing)} acknowledged messages: {sorted(missing)[:20]}"
    dups = len(seqs) - len(set(seqs))
    by_service = {s: sum(1 for k in kills if k[0] == s) for s in ("smtpd", "qmgr", "local")}
    by_service["smtpd"] = sum(1 for k in kills if k[0] == smtp_service)
    print(f"\ncrash test: {len(kills)} kills {by_service}, {MESSAGES} acknowledged, {dups} duplicate deliveries")
    # Exactly-once local delivery: one queue ID, one copy, whatever was killed.
    qids = queue_ids_in(msgs)
    repeated = sorted({q for q in qids if qids.count(q) > 1})
    assert not repeated, f"delivered twice: {repeated[:10]}"
    # The rest are client retries: at most one per sending thread per kill of smtpd/master.
    retried_kills = sum(1 for k in kills if k[0] in (smtp_service, "master"))
    assert dups <= retried_kills * THREADS, (dups, kills)
    assert server.posthorn("check").returncode == 0
