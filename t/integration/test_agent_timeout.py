"""qmgr's agent timeout (doc/ipc.md, doc/queue-format.md): a delivery agent that does not
answer within qmgr_ipc_timeout leaves its recipients deferred (4.3.0), never marked done; the
message stays queued and is delivered, exactly once, when the agent works again. The agent
is frozen with SIGSTOP (every local-mda process) and thawed with SIGCONT."""
import re
import signal
import smtplib

from conftest import DOMAIN

ALICE = "alice@" + DOMAIN


def test_agent_timeout_defers_then_delivers(instance):
    instance.set_conf(qmgr_ipc_timeout="10s")  # the smallest allowed
    instance.add_user(ALICE)
    instance.start()
    agents = instance.status_pids()["local"]
    assert agents
    for pid in agents:
        instance.kill(pid, signal.SIGSTOP)
    try:
        with smtplib.SMTP("127.0.0.1", instance.ports["smtp"], timeout=30) as c:
            code, msg = c.ehlo("client.test")
            c.mail("s@remote.test")
            c.rcpt(ALICE)
            code, msg = c.data(b"Subject: frozen agent\r\n\r\nwaits for the agent\r\n")
        assert code == 250, msg
        qid = re.search(rb"queued as ([0-9A-F]+)", msg).group(1).decode()
        instance.wait_log(f"{qid}: to=<{ALICE}>", timeout=40)
        line = next(ln for ln in instance.log().splitlines() if f"{qid}: to=<{ALICE}>" in ln)
        assert "dsn=4.3.0, status=deferred" in line and "timed out" in line, line
        # Deferred, not lost: the queue file is still there and nothing was delivered.
        assert instance.queued(qid), (instance.queue_files(), instance.log()[-3000:])
        assert instance.messages(ALICE) == []
    finally:
        for pid in agents:
            instance.kill(pid, signal.SIGCONT)
    instance.wait_messages(ALICE, 1)
    instance.wait_queue_empty()
    msgs = instance.messages(ALICE)
    assert len(msgs) == 1 and b"waits for the agent" in msgs[0]
    assert f"{qid}: to=<{ALICE}>" in instance.log() and "status=sent" in instance.log()
