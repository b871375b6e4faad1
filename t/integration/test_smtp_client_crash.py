"""kill -9 of smtp-client during a relay load (doc/smtp-client.md, "Crashes"): qmgr defers
the requests of the dead process and master starts a new one, so no message is lost; a
message the peer had accepted when the agent died can be sent again, so duplicates are
possible but bounded by the deliveries in flight at each kill."""
import re
import threading
import time

import pytest

from mx_lab import UNBOUND
from test_smtp_client import ALICE, inject, lab, zone  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(not UNBOUND, reason="unbound is not installed (t/deps)")

MESSAGES = 300
KILLS = 3
CONCURRENCY = 20  # qmgr's default_destination_concurrency_limit: requests in flight at most


def test_kill_smtp_client_during_relay_load(lab):
    peer = lab.peer(2)
    injected = threading.Event()

    def slow(txn):
        # Nothing is delivered before the whole load is queued (a loaded machine, slow to
        # inject, once delivered all 300 before the second kill), then slowly enough for the
        # kills to land mid-way, also when the restarted process is slow to show.
        injected.wait(120)
        time.sleep(0.3)
        return None
    peer.data_reply = slow
    inst = lab.start({"load.example": zone("load.example", [(10, "mx.load.example")],
                                           {"mx.load.example": lab.addr(2)})})
    for i in range(MESSAGES):
        inject(inst, ALICE, [(f"r{i % 7}@load.example", "", "")],
               f"Subject: load {i}\nMessage-ID: <load-{i}@example.test>\n\nmessage {i}\n".encode())
    injected.set()
    killed = []
    deadline = time.time() + 120
    while len(killed) < KILLS and time.time() < deadline:
        pids = inst.status_pids().get("smtp", [])
        if not pids or pids[0] in killed:
            time.sleep(0.05)
            continue
        # kill only while the process is in the middle of deliveries
        while peer.open_transactions < 3 and time.time() < deadline:
            time.sleep(0.005)
        inst.kill(pids[0])
        killed.append(pids[0])
    assert len(killed) == KILLS, f"only {len(killed)} kills; {len(peer.delivered())} delivered"
    inst.wait_queue_empty(timeout=180)
    seen = {}
    for txn in peer.delivered():
        n = int(re.search(rb"Subject: load (\d+)", txn.data).group(1))
        seen[n] = seen.get(n, 0) + 1
    missing = [i for i in range(MESSAGES) if i not in seen]
    assert not missing, f"lost: {missing}"
    duplicates = sum(c - 1 for c in seen.values())
    assert duplicates <= KILLS * CONCURRENCY, duplicates
    log = inst.log()
    assert "status=bounced" not in log
    # the kills hit requests in flight: qmgr deferred them and they were retried
    assert "lost connection with the smtp delivery agent" in log
    print(f"{MESSAGES} messages, {KILLS} kills, {duplicates} duplicates")
