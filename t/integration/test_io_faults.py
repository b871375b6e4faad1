"""I/O faults and crash points, injected with t/faultinject (LD_PRELOAD, POSTHORN_FAULT).

Each test starts an instance whose master passes the fault spec to every child; the spec
names the one daemon (prog=) and the one call that fails (errno=) or kills it (action=).
The promises come from doc/smtpd.md, doc/queue-format.md and doc/mailstore.md:
- smtpd answers 451 4.3.0 and acknowledges nothing when the queue file's write, fsync,
  close or rename, or the fsync of incoming/, fails: no file is left in the queue, the
  message is never delivered, and the next message goes through;
- local-mda answers a temporary failure when a sync after its index commit fails (the
  fsync of new/, or LMDB's fdatasync of the index itself): the message stays queued and,
  once the fault is gone, ends up in the mailbox exactly once, with one index entry;
- a failed done-mark write in qmgr leaves the recipient pending on disk: it is retried
  (and, exactly-once, not delivered twice), never lost;
- a crash between queueing a DSN or a forwarded copy and marking the recipient queues it
  at most twice, never loses it (kill -9 at the crash point)."""
import os
import re
import shutil
import signal
import smtplib
import time
from pathlib import Path

import pytest

from conftest import BIN, DOMAIN, POSTHORN, run

ALICE, BOB = "alice@" + DOMAIN, "bob@" + DOMAIN
SHIM = BIN.parent / "t" / "libfaultinject.so"

pytestmark = pytest.mark.skipif(not SHIM.exists(), reason=f"{SHIM} not built")


def fault_dir(inst):
    """A directory every daemon user may create its once-files in."""
    d = inst.root / "faults"
    d.mkdir(exist_ok=True)
    os.chmod(d, 0o777)
    return d


def start_with_fault(inst, spec):
    env = dict(os.environ, LD_PRELOAD=str(SHIM), POSTHORN_FAULT=spec)
    run([POSTHORN, "-c", str(inst.etc), "start"], env=env)
    inst.running = True
    inst.wait_port(inst.ports["smtp"])


def wait_for(what, pred, inst, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}\nlog tail:\n{inst.log()[-4000:]}")


def send(inst, sender, rcpts, subject):
    """One message; returns the queue ID from the 250 reply (raises on any refusal)."""
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as c:
        c.ehlo("client.test")
        c.mail(sender)
        for r in rcpts:
            code, msg = c.rcpt(r)
            assert code == 250, (r, code, msg)
        code, msg = c.data(f"Subject: {subject}\r\n\r\nbody of {subject}\r\n".encode())
        if code != 250:
            raise smtplib.SMTPDataError(code, msg)
    return re.search(rb"queued as ([0-9A-F]+)", msg).group(1).decode()


def spool_files(inst, spool):
    """Every file in the queue directories a message can be in, tmp/ included."""
    out = []
    for q in ("tmp", "incoming", "active", "deferred", "hold", "corrupt"):
        d = spool / q
        if d.is_dir():
            out += [f"{q}/{p.name}" for p in d.iterdir()]
    return out


def add_aliases(inst, text):
    path = inst.etc / "aliases"
    path.write_text(path.read_text() + text)
    inst.posthorn("map", "build", str(path))


# --- smtpd: a failed commit is a 451 and nothing else -----------------------------------

COMMIT_FAULTS = [  # (call, path under the spool, errno)
    ("write", "tmp/*", "ENOSPC"),
    ("fsync", "tmp/*", "EIO"),
    ("close", "tmp/*", "EIO"),
    ("renameat", "tmp/*", "EIO"),
    ("fsync", "incoming", "EIO"),
]


@pytest.mark.parametrize("call,where,err", COMMIT_FAULTS, ids=[f"{c}-{w.split('/')[0]}" for c, w, _ in COMMIT_FAULTS])
def test_smtpd_commit_failure_is_451_and_nothing_queued(instance, call, where, err):
    instance.add_user(ALICE)
    spool = instance.spool
    once = fault_dir(instance) / "fired"
    start_with_fault(instance, f"prog=smtpd,call={call},path={spool}/{where},errno={err},once={once}")
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(instance, "s@remote.test", [ALICE], "refused")
    assert e.value.smtp_code == 451 and b"4.3.0" in e.value.smtp_error, e.value
    assert once.exists(), "the fault never fired"
    # Nothing acknowledged, so nothing may stay: not in the queue, not in the mailbox.
    assert spool_files(instance, spool) == []
    assert instance.messages(ALICE) == []
    # The fault is spent: the next message is accepted and is the only one delivered.
    send(instance, "s@remote.test", [ALICE], "accepted")
    instance.wait_messages(ALICE, 1)
    instance.wait_queue_empty()
    msgs = instance.messages(ALICE)
    assert len(msgs) == 1 and b"Subject: accepted" in msgs[0], msgs
    assert spool_files(instance, spool) == []


# --- local-mda: a failed sync after the commit is a temporary failure --------------------

def test_local_mda_tempfails_when_post_commit_sync_fails(instance):
    instance.add_user(ALICE)
    armed = fault_dir(instance) / "armed"
    armed.touch()
    newdir = instance.maildir(ALICE) / "new"
    start_with_fault(instance, f"prog=local-mda,call=fsync,path={newdir},errno=EIO,armed={armed}")
    qid = send(instance, "s@remote.test", [ALICE], "synced later")
    instance.wait_log(f"{qid}: to=<{ALICE}>")
    line = [l for l in instance.log().splitlines() if f"{qid}: to=<{ALICE}>" in l][0]
    assert "status=deferred" in line and "Input/output error" in line, line
    # The message stays queued (doc/mailstore.md: it is in the mailbox, not yet reported).
    assert instance.queued(qid), instance.queue_files()
    assert len(instance.messages(ALICE)) == 1
    # Fault gone: the retry syncs, reports the first copy, and the queue drains.
    armed.unlink()
    instance.posthorn("queue", "flush")
    instance.wait_log(f"{qid}: to=<{ALICE}>, relay=local")
    instance.wait_queue_empty()
    sent = [l for l in instance.log().splitlines() if f"{qid}: to=<{ALICE}>" in l and "status=sent" in l]
    assert len(sent) == 1, instance.log()[-3000:]
    assert "(repeated request)" in instance.log()
    assert len(instance.messages(ALICE)) == 1


def mdb_records(index, db):
    """(key, value) bytes of every record of the named database DB in the LMDB file INDEX."""
    out = run(["mdb_dump", "-n", "-s", db, str(index)]).stdout.splitlines()
    body = [l.strip() for l in out[out.index("HEADER=END") + 1:out.index("DATA=END")]]
    return [(bytes.fromhex(k), bytes.fromhex(v)) for k, v in zip(body[0::2], body[1::2])]


def index_state(inst, addr):
    """INBOX as the index sees it: ([base names of the message records], [delivery ids])
    (doc/mailstore.md, The index: a message value is u8 version, u32 flags, u64 modseq, u64
    size, u64 vsize, in version 2 also u64 keywords and u64 INTERNALDATE, then the base name;
    a delivered key is u64 born, delivery id)."""
    index = inst.maildir(addr) / "posthorn-index.lmdb"
    name_at = {1: 29, 2: 45}
    msgs = [v[name_at[v[0]]:].decode() for k, v in mdb_records(index, "messages")
            if k.startswith(b"INBOX\0")]
    ids = [k[8:].decode() for k, v in mdb_records(index, "delivered")]
    return msgs, ids


def inbox_files(inst, addr):
    """{base name: content} of the INBOX's message files (new/ and cur/)."""
    md = inst.maildir(addr)
    return {p.name.split(":2,")[0]: p.read_bytes()
            for sub in ("new", "cur") if (md / sub).is_dir() for p in (md / sub).iterdir()}


@pytest.mark.skipif(shutil.which("mdb_dump") is None, reason="mdb_dump (lmdb-utils) not installed")
def test_local_mda_tempfails_when_index_sync_fails(instance):
    """doc/mailstore.md, Delivery 4-5: the index commit is made durable after the writer
    lock is released (mdb_env_sync, an fdatasync of posthorn-index.lmdb: strace shows LMDB
    syncs the index with fdatasync, no msync, as the environment has no MDB_WRITEMAP). When
    that sync fails, local-mda answers defer (4.3.0), not sent: the message stays queued
    although it is already in the mailbox and the index, and the retry reports that copy
    (exactly-once) instead of writing a second one. Nothing bounces, nothing is lost."""
    instance.add_user(ALICE)
    # The deferred message waits for `queue flush`, so its state in between can be read.
    instance.set_conf(minimal_backoff_time="3600s", maximal_backoff_time="3600s")
    faults = fault_dir(instance)
    armed, once = faults / "armed", faults / "fired"
    index = instance.maildir(ALICE) / "posthorn-index.lmdb"
    # Armed, a delivery into an existing index syncs it twice in local-mda: the commit's
    # data sync inside mdb_txn_commit (1st; failing it fails the commit instead), then the
    # post-commit sync (2nd). Counting starts when armed; once= makes it fire one time only.
    start_with_fault(instance, f"prog=local-mda,call=fdatasync|fsync|msync,path={index},nth=2,"
                               f"errno=EIO,armed={armed},once={once}")
    # First message, unarmed: creates the index (its creation syncs too, hence not armed).
    first = send(instance, "s@remote.test", [ALICE], "first")
    instance.wait_log(f"{first}: removed")
    armed.touch()
    qid = send(instance, "s@remote.test", [ALICE], "synced later")
    instance.wait_log(f"{qid}: to=<{ALICE}>")
    assert once.exists(), "the fault never fired"
    pid, call, path = once.read_text().split()
    assert call in ("fdatasync", "fsync", "msync") and path == str(index), once.read_text()
    mine = [l for l in instance.log().splitlines() if f"{qid}: to=<{ALICE}>" in l]
    assert len(mine) == 1 and "status=deferred" in mine[0] and "dsn=4.3.0" in mine[0] \
        and "Input/output error" in mine[0], mine
    # Deferred, not bounced or lost: the queue file waits in deferred/ ...
    wait_for("the message deferred", lambda: (instance.spool / "deferred" / qid).exists(), instance)
    # ... while the commit stands (the failing sync came after it): the copy is in the
    # Maildir and in the index, with its delivery record.
    files = inbox_files(instance, ALICE)
    late = [b for b, c in files.items() if b"Subject: synced later" in c]
    msgs, ids = index_state(instance, ALICE)
    assert len(late) == 1 and len(files) == 2, files.keys()
    assert sorted(msgs) == sorted(files) and msgs.count(late[0]) == 1, (msgs, files.keys())
    assert ids.count(f"{qid}:{ALICE}".lower()) == 1, ids
    # The retry (the fault is spent) syncs, finds the first copy and reports it: sent.
    instance.posthorn("queue", "flush")
    instance.wait_log(f"{qid}: removed")
    instance.wait_queue_empty()
    log = instance.log()
    mine = [l for l in log.splitlines() if f"{qid}: to=<{ALICE}>" in l]
    assert [("deferred" in l, "sent" in l) for l in mine] == [(True, False), (False, True)], mine
    assert f"{qid}: {ALICE}: already delivered to " in log and "(repeated request)" in log
    assert "status=bounced" not in log and "sender non-delivery notification" not in log
    # Exactly one copy in the Maildir, exactly one index entry and one delivery record.
    files = inbox_files(instance, ALICE)
    late = [b for b, c in files.items() if b"Subject: synced later" in c]
    msgs, ids = index_state(instance, ALICE)
    assert len(late) == 1 and len(files) == 2, files.keys()
    assert sorted(msgs) == sorted(files) and msgs.count(late[0]) == 1, (msgs, files.keys())
    assert ids.count(f"{qid}:{ALICE}".lower()) == 1, ids


# --- qmgr: a failed done-mark leaves the recipient pending --------------------------------

def queue_records(path):
    """(type, payload) of a queue file's envelope records (doc/queue-format.md)."""
    data, off, out = path.read_bytes(), 0, []
    while off + 5 <= len(data):
        t, n = chr(data[off]), int.from_bytes(data[off + 1:off + 5], "big")
        out.append((t, data[off + 5:off + 5 + n]))
        off += 5 + n
        if t == "M":
            break
    return out


def rcpt_states(path):
    """{address: 'R' (pending) or 'D' (done)} from a queue file; {} while it is elsewhere."""
    try:
        recs = queue_records(path)
    except FileNotFoundError:
        return {}
    return {p.split(b"\0")[0].decode(): t for t, p in recs if t in "RD"}


def test_qmgr_failed_mark_write_retries_recipient(instance):
    instance.add_user(ALICE)
    add_aliases(instance, f"pipe@{DOMAIN}: :include:/nonexistent.list\n")  # defers (4.3.5): the file stays
    spool = instance.spool
    once = fault_dir(instance) / "fired"
    start_with_fault(instance, f"prog=qmgr,call=pwrite,path={spool}/active/*,errno=EIO,once={once}")
    qid = send(instance, "s@remote.test", [ALICE, "pipe@" + DOMAIN], "mark me")
    instance.wait_log(f"{qid}: cannot mark <{ALICE}> done")
    wait_for("the message deferred", lambda: (spool / "deferred" / qid).exists(), instance)
    # On disk alice is still pending: the mark never happened, so she is retried.
    assert rcpt_states(spool / "deferred" / qid) == {ALICE: "R", "pipe@" + DOMAIN: "R"}
    # The retry repeats her request; local-mda recognises it: one copy, never lost, never two.
    instance.wait_log(f"{qid}: {ALICE}: already delivered", timeout=30)
    wait_for("alice marked done", lambda: rcpt_states(spool / "deferred" / qid).get(ALICE) == "D",
             instance)
    assert len(instance.messages(ALICE)) == 1


# --- qmgr: crash between queueing a DSN / forwarded copy and the mark ---------------------

CRASH_POINTS = {
    # kill -9 at qmgr's first write of the new queue file: nothing queued yet
    "before-queued": ("call=write,path={spool}/tmp/*,action=kill", 1),
    # kill -9 right after the fsync of incoming/: the copy is durable, the mark is not made
    "queued-not-marked": ("call=fsync,path={spool}/incoming,action=kill-after", 2),
}


def kill_spec(inst, point):
    spec, expected = CRASH_POINTS[point]
    once = fault_dir(inst) / "fired"
    inst.set_conf(service_restart_delay="1s")
    return f"prog=qmgr,{spec.format(spool=inst.spool)},once={once}", once, expected


def wait_qmgr_killed(inst, once):
    wait_for("the crash point reached", lambda: once.exists() and once.read_text().strip(), inst)
    # The fault library wrote "PID CALL PATH": that death is the test's own doing.
    inst.expect_deaths(int(once.read_text().split()[0]), sig=signal.SIGKILL)
    inst.wait_log("qmgr pid")
    assert re.search(r"/qmgr pid \d+ killed by signal 9", inst.log()), inst.log()[-3000:]


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_crash_between_dsn_and_mark(instance, point):
    instance.add_user(BOB)
    add_aliases(instance, f"ghost@{DOMAIN}: missing@{DOMAIN}\n")  # bounces 5.1.1 at delivery
    spec, once, expected = kill_spec(instance, point)
    start_with_fault(instance, spec)
    qid = send(instance, BOB, ["ghost@" + DOMAIN], "bounce me")
    wait_qmgr_killed(instance, once)
    # The restarted qmgr finishes the job: the original goes, the DSN(s) reach bob.
    wait_for("the original removed", lambda: f"{qid}: removed" in instance.log(), instance)
    instance.wait_messages(BOB, expected)
    instance.wait_queue_empty()
    dsns = [m for m in instance.messages(BOB) if qid.encode() in m]
    assert len(dsns) == len(instance.messages(BOB)) == expected, instance.log()[-3000:]


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_crash_between_forward_and_mark(instance, point):
    instance.add_user(BOB)
    add_aliases(instance, f"fwd@{DOMAIN}: {BOB}, far@remote.test\n")
    spec, once, expected = kill_spec(instance, point)
    start_with_fault(instance, spec)
    qid = send(instance, "s@remote.test", ["fwd@" + DOMAIN], "forward me")
    wait_qmgr_killed(instance, once)
    wait_for("the original removed", lambda: f"{qid}: removed" in instance.log(), instance)
    spool = instance.spool

    def copies():  # forwarded copies wait in the queue (there is no smtp transport yet)
        out = []
        for q in ("incoming", "active", "deferred"):
            for p in (spool / q).iterdir():
                recs = queue_records(p)
                if (b"forwarded_by=fwd@" + DOMAIN.encode()) in [v for t, v in recs if t == "A"]:
                    out.append(p.name)
        return out
    wait_for(f"{expected} forwarded copies", lambda: len(copies()) >= expected, instance)
    assert len(copies()) == expected, copies()
    assert len(instance.messages(BOB)) == 1  # the local target: exactly once
