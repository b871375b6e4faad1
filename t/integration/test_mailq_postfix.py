"""Posthorn's mailq layout against Postfix's own: a private instance of Debian's Postfix
(mx_lab.PostfixPeer, with long queue IDs) defers mail to a dead relay and holds one message;
its postqueue -p must be exactly what queue_mix.postfix_mailq() derives from its postqueue -j
(with Postfix's 17-character ID column). The mailq tests hold Posthorn's output to the same
function (with a 19-character ID column), so Posthorn's layout is Postfix's real one."""
import json
import os
import smtplib
import subprocess
import time

import pytest

from mx_lab import POSTFIX, PostfixPeer, address_block
from queue_mix import postfix_mailq

pytestmark = pytest.mark.skipif(not POSTFIX or os.geteuid() != 0,
                                reason="needs Debian's postfix (t/deps) and root (port 25)")


class LongIdPostfix(PostfixPeer):
    def main_cf(self, uid, gid):
        return super().main_cf(uid, gid) + "enable_long_queue_ids = yes\n"


def postqueue(pf, flag):
    p = subprocess.run(["/usr/sbin/postqueue", "-c", str(pf.dir / "etc"), flag],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def wait_for_queues(pf, names, timeout=60):
    deadline = time.time() + timeout
    while True:
        objs = [json.loads(line) for line in postqueue(pf, "-j").splitlines()]
        if sorted(o["queue_name"] for o in objs) == names:
            return objs
        assert time.time() < deadline, (objs, pf.log()[-3000:])
        time.sleep(0.2)


def test_postfix_mailq_is_the_oracle():
    prefix = address_block()
    pf = LongIdPostfix(prefix + "2", "pf.example", ["bob"], relay={"dead.example": f"[{prefix}3]:25"})
    pf.start()
    try:
        sends = [("q@remote.test", ["r1@dead.example", "r2@dead.example"], 2000),
                 ("", ["r3@dead.example"], 1500), ("s@remote.test", ["r4@dead.example"], 700)]
        for sender, rcpts, size in sends:
            with smtplib.SMTP(pf.addr, 25, timeout=30) as c:
                c.sendmail(sender, rcpts, b"Subject: x\r\n\r\n" + b"x" * size + b"\r\n")
        # Postfix logs status=deferred before its qmgr moves the file from active/ to
        # deferred/; hold only once all three are there, and stop only once the hold shows.
        objs = wait_for_queues(pf, ["deferred"] * 3)
        held = [o["queue_id"] for o in objs if o["sender"] == "s@remote.test"]
        subprocess.run(["/usr/sbin/postsuper", "-c", str(pf.dir / "etc"), "-h", held[0]],
                       check=True, capture_output=True)
        wait_for_queues(pf, ["deferred", "deferred", "hold"])
        # Stopped, nothing moves between the two listings (postqueue reads the queue itself).
        subprocess.run([POSTFIX, "-c", str(pf.dir / "etc"), "stop"], check=True, capture_output=True)
        time.sleep(1)
        text = postqueue(pf, "-p")
        objs = [json.loads(line) for line in postqueue(pf, "-j").splitlines()]
        assert sorted(o["queue_name"] for o in objs) == ["deferred", "deferred", "hold"], objs
        assert any(r.get("delay_reason") for o in objs for r in o["recipients"])
        # postqueue -j's members in Postfix's order, as Posthorn prints them.
        assert all(list(o) == ["queue_name", "queue_id", "arrival_time", "message_size",
                               "forced_expire", "sender", "recipients"] for o in objs)
        assert text == postfix_mailq(objs, id_width=17), (text, postfix_mailq(objs, id_width=17))
    finally:
        pf.stop()
