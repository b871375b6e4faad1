"""Faults on purpose: a full disk, and the write ordering that makes a 250 survive power loss.

Full disk: the whole instance lives on a small tmpfs. smtpd must answer 452 when space runs
low and accept nothing it cannot store; deliveries that hit ENOSPC defer; once space returns
everything drains. Write ordering: strace records every open/write/fsync/rename of a real
session; the queue file must be fsynced before its rename into incoming/, incoming/ fsynced
before the 250 is written to the client, and the Maildir file fsynced before its rename into
new/, with new/ fsynced after it."""
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import DOMAIN, HOSTNAME, POSTHORN, BIN, Instance, pick_offset, run

ALICE = "alice@" + DOMAIN


@pytest.fixture
def tmpfs_instance():
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = Path(tempfile.mkdtemp(prefix="posthorn-full-"))
    os.chmod(mnt, 0o755)
    run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0755", "tmpfs", str(mnt)])
    inst = None
    try:
        offset = pick_offset()
        run([POSTHORN, "init", str(mnt / "i"), "--hostname", HOSTNAME, "--domain", DOMAIN,
             "--listen", "127.0.0.1", "--port-offset", str(offset)])
        inst = Instance(mnt / "i", offset)
        inst.set_smtp_service(False)  # as make_instance: no smtp-client unless asked for
        inst.set_conf(queue_run_delay="1s", minimal_backoff_time="1s", maximal_backoff_time="2s",
                      message_size_limit="100000")
        inst.add_user(ALICE)
        yield inst, mnt
    finally:
        try:
            if inst:
                inst.close()  # fails the test on a daemon death it did not declare
        finally:
            subprocess.run(["umount", "-l", str(mnt)])
            shutil.rmtree(mnt, ignore_errors=True)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_full_disk_refuses_then_drains(tmpfs_instance):
    inst, mnt = tmpfs_instance
    inst.start()
    ballast = mnt / "ballast"
    # Leave about 400 KB: less than queue_minfree (1.5 x message_size_limit = 150 KB) soon.
    with open(ballast, "wb") as f:
        f.write(b"\0" * max(0, free_bytes(mnt) - 400_000))
    body = b"Subject: fill\r\n\r\n" + (b"z" * 70 + b"\r\n") * 700  # ~50 KB
    accepted, refused = 0, None
    for i in range(40):
        try:
            with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as c:
                c.sendmail("f@remote.test", [ALICE], body.replace(b"fill", b"fill %d" % i))
            accepted += 1
        except smtplib.SMTPResponseException as e:
            refused = e
            break
    assert refused is not None, "the disk never filled up"
    assert refused.smtp_code in (452, 451), refused
    assert accepted >= 1
    # Give space back; everything acknowledged must arrive exactly once.
    ballast.unlink()
    inst.posthorn("queue", "flush")
    msgs = inst.wait_messages(ALICE, accepted, timeout=60)
    inst.wait_queue_empty(timeout=60)
    subjects = sorted(re.search(rb"Subject: (fill \d+)", m).group(1) for m in msgs)
    assert len(subjects) == len(set(subjects)) == accepted
    # And the server takes mail again.
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as c:
        c.sendmail("f@remote.test", [ALICE], b"Subject: after\r\n\r\nspace is back\r\n")
    inst.wait_messages(ALICE, accepted + 1)


def test_deliveries_defer_while_mailbox_disk_is_full(tmpfs_instance):
    """Mail queued while qmgr is stopped meets a completely full disk at delivery time: it
    defers (nothing lost, nothing half-written), then drains once space is back."""
    import signal
    inst, mnt = tmpfs_instance
    inst.start()
    qmgr = inst.status_pids()["qmgr"][0]
    os.kill(qmgr, signal.SIGSTOP)
    try:
        with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as c:
            for i in range(3):
                c.sendmail("f@remote.test", [ALICE], b"Subject: later %d\r\n\r\n" % i + b"y" * 30000 + b"\r\n")
        ballast = mnt / "ballast"
        with open(ballast, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
    finally:
        os.kill(qmgr, signal.SIGCONT)
    inst.wait_log("status=deferred")
    assert inst.messages(ALICE) == []
    ballast.unlink()
    inst.posthorn("queue", "flush")
    msgs = inst.wait_messages(ALICE, 3, timeout=60)
    inst.wait_queue_empty(timeout=60)
    time.sleep(0.5)
    assert len(inst.messages(ALICE)) == 3
    assert sorted(re.search(rb"Subject: (later \d)", m).group(1) for m in msgs) == [b"later 0", b"later 1", b"later 2"]


def strace_lines(prefix):
    """All traced calls of every process/thread (strace -ff writes PREFIX.PID files), merged
    in time order (-ttt timestamps), so no call is split into unfinished/resumed halves."""
    entries = []
    for f in Path(prefix).parent.glob(Path(prefix).name + ".*"):
        for line in f.read_text(errors="replace").splitlines():
            stamp, _, call = line.partition(" ")
            try:
                entries.append((float(stamp), call))
            except ValueError:
                continue
    entries.sort(key=lambda e: e[0])
    return [call for _, call in entries]


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_write_ordering_survives_power_loss(instance):
    instance.add_user(ALICE)
    trace = instance.root / "strace.out"
    master = str(BIN / "master")
    proc = subprocess.Popen(["strace", "-ff", "-ttt", "-qq", "-y", "-s", "64", "-o", str(trace),
                             "-e", "trace=openat,fsync,fdatasync,rename,renameat,renameat2,write,sendto,sendmsg",
                             master, "-c", str(instance.etc), "-f"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        instance.wait_port(instance.ports["smtp"], timeout=30)
        with smtplib.SMTP("127.0.0.1", instance.ports["smtp"], timeout=30) as c:
            c.sendmail("o@remote.test", [ALICE], b"Subject: order\r\n\r\nordered\r\n")
        instance.wait_messages(ALICE, 1)
        # qmgr logs status=sent only once local-mda answered, after its fsync(new/).
        instance.wait_log("status=sent")
    finally:
        instance.running = True
        instance.stop()  # SIGTERM to master; strace exits when its tracees are gone
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    lines = strace_lines(trace)
    spool = str(instance.spool)

    def first(pattern, start=0):
        rx = re.compile(pattern)
        for i in range(start, len(lines)):
            if rx.search(lines[i]):
                return i
        related = [l for l in lines if "fsync" in l or "rename" in l][:40]
        raise AssertionError(f"no line matches {pattern} after line {start}:\n" + "\n".join(related))

    # Queue file: fsync(file) < rename(tmp -> incoming) < fsync(incoming/) < "250 ... queued as".
    qid_line = first(r'(write|sendto|sendmsg)\(.*250 2\.0\.0 Ok: queued as ([0-9A-F]+)')
    qid = re.search(r"queued as ([0-9A-F]+)", lines[qid_line]).group(1)
    f_sync = first(r"f(data)?sync\(\d+<" + re.escape(f"{spool}/tmp/{qid}") + ">")
    f_rename = first(r"rename(at2?)?\(.*" + re.escape(f"tmp/{qid}") + r".*incoming/" + qid)
    d_sync = first(r"fsync\(\d+<" + re.escape(f"{spool}/incoming") + ">\\)", f_rename)
    assert f_sync < f_rename < d_sync < qid_line, (f_sync, f_rename, d_sync, qid_line)

    # Maildir: fsync(tmp file) < rename(tmp -> new) < fsync(new/).
    md = str(instance.maildir(ALICE))
    m_rename = first(r"rename(at2?)?\(.*" + re.escape(md) + r"/tmp/.*" + re.escape(md) + "/new/")
    tmpname = re.search(re.escape(md) + r"/tmp/([^\"]+)\"", lines[m_rename]).group(1)
    m_sync = first(r"f(data)?sync\(\d+<" + re.escape(f"{md}/tmp/{tmpname}") + ">")
    n_sync = first(r"fsync\(\d+<" + re.escape(f"{md}/new") + ">\\)", m_rename)
    assert m_sync < m_rename < n_sync, (m_sync, m_rename, n_sync)


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_write_ordering_delivery_durable_before_sent_and_mark(instance):
    """The second half of the chain (doc/mailstore.md, Delivery 4; doc/queue-format.md,
    Recipient marks): local-mda fsyncs new/ after its Maildir rename and then syncs the index
    (fdatasync/fsync/msync of posthorn-index.lmdb after its last write to it) before it
    sends its `sent` reply to qmgr; qmgr writes the recipient's done-mark (the one-byte
    pwrite of `D` into active/ID) only after it has read that reply."""
    instance.add_user(ALICE)
    trace = instance.root / "strace2.out"
    proc = subprocess.Popen(["strace", "-ff", "-ttt", "-qq", "-y", "-s", "256", "-o", str(trace),
                             "-e", "trace=openat,fsync,fdatasync,msync,rename,renameat,renameat2,"
                                   "write,pwrite64,sendmsg,recvmsg",
                             str(BIN / "master"), "-c", str(instance.etc), "-f"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        instance.wait_port(instance.ports["smtp"], timeout=30)
        with smtplib.SMTP("127.0.0.1", instance.ports["smtp"], timeout=30) as c:
            c.sendmail("o@remote.test", [ALICE], b"Subject: chain\r\n\r\nchained\r\n")
        instance.wait_messages(ALICE, 1)
        instance.wait_queue_empty()
        instance.wait_log("removed")
    finally:
        instance.running = True
        instance.stop()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    lines = strace_lines(trace)
    spool, md = str(instance.spool), str(instance.maildir(ALICE))
    index = re.escape(f"{md}/posthorn-index.lmdb") + ">"

    def find(pattern, start=0, last_before=None):
        """First line matching pattern at or after start; with last_before, the last one
        before that line instead."""
        rx = re.compile(pattern)
        rng = range(last_before - 1, start - 1, -1) if last_before is not None else range(start, len(lines))
        for i in rng:
            if rx.search(lines[i]):
                return i
        related = [l for l in lines if re.search(r"sync|rename|sendmsg|recvmsg|pwrite", l)][:60]
        raise AssertionError(f"no line matches {pattern} (from {start}, before {last_before}):\n"
                             + "\n".join(related))

    m_rename = find(r"rename(at2?)?\(.*" + re.escape(md) + r"/tmp/.*" + re.escape(md) + "/new/")
    reply = find(r"sendmsg\(.*status_0=sent", m_rename)           # local-mda answers
    n_sync = find(r"fsync\(\d+<" + re.escape(f"{md}/new") + r">\)", m_rename)
    last_index_write = find(r"(p?write(64)?)\(\d+<" + index, m_rename, last_before=reply)
    index_sync = find(r"(f(data)?sync\(\d+<" + index + r"|msync\()", last_index_write)
    assert m_rename < n_sync < reply, (m_rename, n_sync, reply)
    assert n_sync < index_sync < reply, (n_sync, index_sync, reply)
    # qmgr: reads the reply, then rewrites R to D in active/ID.
    got = find(r"recvmsg\(.*status_0=sent", reply)
    mark = find(r'pwrite64\(\d+<' + re.escape(spool) + r'/active/[0-9A-F]+>, "D", 1,')
    assert reply < got < mark, (reply, got, mark)
