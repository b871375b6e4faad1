"""A running instance whose queue holds mail in every state mailq shows, for the queue tool
tests (test_mailq_users.py, test_postfix_queue_tools.py): two messages deferred because
alice is over quota ("mailbox full"), one of them then put on hold (its reason stays), a
bounce (null sender) on hold, and a message in active/ (written there by hand after qmgr
started: qmgr only takes active/ back at its start, so it stays there, as if being
delivered). Retries are 300 s away, so nothing moves while a test looks. Also: Postfix's
mailq layout as an independent oracle (postfix_mailq), and running a command as nobody."""
import json
import os
import shutil
import smtplib
import subprocess
import time

import pytest

from conftest import BIN, DOMAIN, run
from queue_file import new_queue_id, queue_file_bytes, write_queue_file

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN
COMPAT = BIN / "compat"


def send(inst, subject, rcpts=(ALICE,), size=2000):
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as c:
        c.sendmail("q@remote.test", list(rcpts),
                   b"Subject: " + subject.encode() + b"\r\n\r\n" + b"x" * size + b"\r\n")


def wait_files(inst, queue, n, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        ids = inst.queue_files(queue)
        if len(ids) >= n:
            return sorted(ids)
        time.sleep(0.1)
    raise AssertionError(f"{queue}: {inst.queue_files()}\n{inst.log()[-3000:]}")


def hand_made(inst, queue, sender, rcpts, content):
    """A valid queue file put straight into SPOOL/queue; returns its ID."""
    qid = new_queue_id()
    spool = inst.spool
    write_queue_file(spool / queue / qid, queue_file_bytes(sender, rcpts, content), like=spool / queue)
    return qid


def mixed_queue(instance):
    """Start instance and fill its queue; returns {"deferred": [id], "held": [id, id],
    "active": id, "bounce": id} ("held" has the held deferred message first)."""
    instance.add_user(ALICE, quota=1000)
    instance.add_user(BOB)
    instance.set_conf(minimal_backoff_time="300s", maximal_backoff_time="600s", queue_run_delay="300s")
    instance.start()
    send(instance, "fills the quota")
    instance.wait_messages(ALICE, 1)
    send(instance, "deferred 0")
    send(instance, "deferred 1", size=3333)
    ids = wait_files(instance, "deferred", 2)
    instance.wait_log("status=deferred")
    instance.posthorn("queue", "hold", ids[1])
    bounce = hand_made(instance, "hold", "", [BOB], b"Subject: bounce\n\n" + b"b" * 1500 + b"\n")
    active = hand_made(instance, "active", "act@remote.test", [BOB, ALICE], b"Subject: a\n\nbody\n")
    return {"deferred": [ids[0]], "held": [ids[1], bounce], "active": active, "bounce": bounce}


def env_for(inst):
    return dict(os.environ, POSTHORN_CONFIG=str(inst.etc))


def need_root():
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root and runuser to run a command as another user")


def as_nobody(inst, *cmd, input=None):
    """cmd run as nobody (who cannot read the spool), with the instance's configuration."""
    return subprocess.run(["runuser", "-u", "nobody", "--", *map(str, cmd)], env=env_for(inst),
                          input=input, capture_output=True, text=True, timeout=60)


def json_lines(inst):
    out = run([str(COMPAT / "postqueue"), "-j"], env=env_for(inst)).stdout
    return [json.loads(line) for line in out.splitlines()]


def postfix_mailq(msgs, id_width=19):
    """What Postfix's postqueue -p prints for these postqueue -j objects, in their order: its
    long-queue-ID layout, with the ID column id_width wide (Postfix: 17; Posthorn: 19, for
    18-character IDs and the status character). test_mailq_postfix.py holds this to a real
    Postfix's output."""
    out = []
    w = id_width
    for i, m in enumerate(msgs):
        if i == 0:
            out.append("%-*s %8s %-19s %s" % (w, "----Queue ID-----", "--Size--",
                                              "---Arrival Time----", "--Sender/Recipient------"))
        else:
            out.append("")
        status = {"active": "*", "hold": "!"}.get(m["queue_name"], "")
        when = time.asctime(time.localtime(m["arrival_time"]))
        out.append("%-*s %8d %19.19s %s" % (w, m["queue_id"] + status, m["message_size"], when,
                                           m["sender"]))
        prev = ""
        for r in m["recipients"]:
            why = r.get("delay_reason", "")
            if why != prev:
                prev = why
                shown = why or "reason unavailable"
                out.append(" " * max(0, 76 - len(shown)) + "(" + shown + ")")
            out.append("%-*s %8s %-19s %s" % (w, "", "", "", r["address"]))
    if not msgs:
        return "Mail queue is empty\n"
    total = sum(m["message_size"] for m in msgs)
    out += ["", "-- %d Kbytes in %d Request%s." % (total // 1024, len(msgs), "" if len(msgs) == 1 else "s")]
    return "\n".join(out) + "\n"
