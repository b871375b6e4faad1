"""pop3d at size: a 2,000-message maildrop lists (STAT, LIST, UIDL) and retrieves correctly
and fast, and a 20 MB message is served byte-identical (streamed by pop3d, not held in
memory: its mailbox process stays far below the message size)."""
import os
import time

from conftest import body_of
from test_pop3 import ALICE, Raw, deliver, login, login_retry, start_pop3


def test_two_thousand_messages(instance):
    inst = start_pop3(instance, login_allow_plaintext_auth="yes")
    n = 2000
    sent = [b"Subject: bulk %d\r\nMessage-ID: <bulk-%d@remote.test>\r\n\r\nbody %d\r\n" % (i, i, i)
            for i in range(n)]
    deliver(inst, ALICE, sent, timeout=240)
    t = time.time()
    p = login(inst)
    count, size = p.stat()
    listing = p.list()[1]
    uidl = p.uidl()[1]
    elapsed = time.time() - t
    assert count == n and len(listing) == n and len(uidl) == n
    assert [int(x.split()[0]) for x in listing] == list(range(1, n + 1))
    assert sum(int(x.split()[1]) for x in listing) == size
    assert len({x.split()[1] for x in uidl}) == n
    assert elapsed < 10, f"login, STAT, LIST and UIDL of {n} messages took {elapsed:.1f} s"
    # Every message retrieves as sent, pipelined in one burst.
    r_bodies = []
    p.quit()
    r = Raw(inst)
    r.cmd(f"USER {ALICE}")
    deadline = time.time() + 10
    while not r.cmd("PASS secret").startswith(b"+OK"):
        assert time.time() < deadline
        time.sleep(0.1)
        r.cmd(f"USER {ALICE}")
    r.send(b"".join(b"RETR %d\r\n" % i for i in range(1, n + 1)))
    for i in range(1, n + 1):
        assert r.line().startswith(b"+OK")
        r_bodies.append(body_of(r.multi()))
    assert sorted(r_bodies) == sorted(sent)
    # Delete half; the rest stays, in order.
    r.send(b"".join(b"DELE %d\r\n" % i for i in range(1, n + 1, 2)) + b"QUIT\r\n")
    for _ in range(n // 2 + 1):
        assert r.line().startswith(b"+OK")
    r.close()
    p = login_retry(inst)
    assert p.stat()[0] == n // 2
    assert [x.split()[1] for x in p.uidl()[1]] == [x.split()[1] for x in uidl[1::2]]
    p.quit()


def sanitized(pid):
    """True for an ASan build (gcc links libasan.so; clang links its runtime statically, so
    the build tells the tests through POSTHORN_SANITIZED)."""
    if os.environ.get("POSTHORN_SANITIZED"):
        return True
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def test_twenty_megabyte_message(instance):
    inst = start_pop3(instance, login_allow_plaintext_auth="yes", message_size_limit="30000000")
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.....\r\n"
    body = b"".join((b"." if i % 7 == 0 else b"") + line for i in range(20 * 1024 * 1024 // len(line)))
    msg = b"Subject: big\r\nMessage-ID: <big@remote.test>\r\n\r\n" + body
    assert len(msg) > 20 * 1024 * 1024
    deliver(inst, ALICE, [msg], timeout=120)
    p = login(inst)
    count, size = p.stat()
    assert count == 1
    t = time.time()
    resp, lines, octets = p.retr(1)
    elapsed = time.time() - t
    data = b"".join(l + b"\r\n" for l in lines)
    assert len(data) == size == int(resp.split()[1])
    assert body_of(data) == msg
    assert elapsed < 30, f"RETR of 20 MB took {elapsed:.1f} s"
    # The mailbox process streamed it: its peak memory stays well below 20 MB (not
    # measurable under AddressSanitizer, whose shadow memory and quarantine count too).
    for pid in inst.status_pids()["pop3-mailbox"]:
        if not sanitized(pid):
            assert vm_hwm_kib(pid) < 16 * 1024, f"pop3 mailbox process {pid} peaked at {vm_hwm_kib(pid)} KiB"
    top = p.top(1, 3)[1]
    assert top[-4:] == [b"", b"." + line[:-2], line[:-2], line[:-2]]
    p.quit()
