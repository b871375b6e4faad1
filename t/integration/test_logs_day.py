"""A day of traffic as an operator's pflogsumm sees it (doc/operator.md, "Logs"): mail
received by smtpd and submitted with sendmail (root's and an ordinary user's, both logged
as pickup), delivered to users and through an alias to three members, deferred once and
delivered, bounced (with its notice delivered to the sender), refused at RCPT and at the
end of data. Debian's pflogsumm, given only the log, counts each kind exactly."""
import os
import re
import smtplib
import subprocess
import time

import pytest

from conftest import BIN, DOMAIN
from test_logs_pflogsumm import PFLOGSUMM, fan_out_aliases, pflogsumm

USERS = ["alice", "ann", "ben", "cid"]
ALICE = f"alice@{DOMAIN}"

pytestmark = pytest.mark.skipif(not os.path.exists(PFLOGSUMM), reason="pflogsumm not installed (t/deps)")


def smtp_send(inst, rcpts, subject):
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as c:
        c.sendmail(ALICE, rcpts, f"Subject: {subject}\r\n\r\nbody\r\n".encode())


def sendmail(inst, rcpt, as_nobody=False):
    env = dict(os.environ, POSTHORN_CONFIG=str(inst.etc))
    cmd = ([ "runuser", "-u", "nobody", "--"] if as_nobody else []) + [str(BIN / "sendmail"), rcpt]
    subprocess.run(cmd, input=b"Subject: from a script\n\nbody\n", env=env, check=True, timeout=60)


def refusals(inst):
    """Two recipients refused at RCPT, one message refused at the end of data (too big)."""
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as c:
        c.ehlo()
        c.mail(ALICE)
        assert c.rcpt(f"nobody@{DOMAIN}")[0] == 550
        assert c.rcpt(f"noone@{DOMAIN}")[0] == 550
        c.rset()
        c.mail("<>")
        assert c.rcpt(ALICE)[0] == 250
        assert c.data(b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 70)[0] == 552


def wait_for(inst, pattern, count, timeout=60):
    deadline = time.time() + timeout
    while len(re.findall(pattern, inst.log())) < count:
        assert time.time() < deadline, (pattern, inst.log()[-3000:])
        time.sleep(0.1)


def test_pflogsumm_counts_a_day_of_traffic(instance):
    inst = instance
    fan_out_aliases(inst, USERS, "root: ben\n")
    inst.set_conf(message_size_limit="60000")
    inst.start()
    for i in range(3):
        smtp_send(inst, [ALICE], f"to alice {i}")      # 3 received, 3 delivered
    smtp_send(inst, [f"team@{DOMAIN}"], "to the team")  # 1 received, 3 delivered
    sendmail(inst, "root")                              # pickup (root): 1 received, 1 delivered
    sendmail(inst, f"ben@{DOMAIN}")                     # 1 received, 1 delivered
    sendmail(inst, f"cid@{DOMAIN}", as_nobody=True)     # pickup service: 1 received, 1 delivered
    smtp_send(inst, [f"flaky@{DOMAIN}"], "flaky")       # 1 received, 1 deferred, 1 delivered
    smtp_send(inst, [f"failing@{DOMAIN}"], "failing")   # 1 received, 1 bounced (+1 notice delivered)
    refusals(inst)                                      # 3 rejected; the one refused at the
    # end of data had a queue ID and its client= line first, as in Postfix, so pflogsumm
    # counts it as received too (as it would on a Postfix log): 10 received in all.
    wait_for(inst, r"posthorn/local\[\d+\]: [0-9A-F]+: to=<[^>]+>.* status=sent", 3 + 3 + 3 + 1 + 1)
    wait_for(inst, r"status=bounced", 1)
    wait_for(inst, r"status=deferred", 1)
    inst.wait_queue_empty()
    got, report = pflogsumm(inst.conf("maillog_file"), "posthorn")
    want = {"received": 10, "delivered": 11, "deferred": 1, "bounced": 1, "rejected": 3}
    assert {k: got.get(k) for k in want} == want, report
