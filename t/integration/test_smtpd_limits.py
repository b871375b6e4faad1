"""smtpd_process_connection_limit (doc/smtpd.md, Policy and limits): one smtpd process
serving its limit of sessions answers the next connection "421 4.3.2" and closes it; the
sessions it has go on, and a slot freed by a closed session is used again."""
import re
import socket
import time

import pytest


def one_smtpd_process(instance):
    """master.cf: run the smtp service as one process, so every connection meets one limit."""
    mcf = instance.etc / "master.cf"
    lines = mcf.read_text().splitlines(keepends=True)
    port = f"127.0.0.1:{instance.ports['smtp']} "
    for i, line in enumerate(lines):
        cols = line.split()
        if line.startswith(port) and cols[-1] == "smtpd":
            cols[6] = "1"
            lines[i] = " ".join(cols) + "\n"
            break
    else:
        pytest.fail("no smtpd line for the smtp port in master.cf")
    mcf.write_text("".join(lines))


def connect(instance):
    s = socket.create_connection(("127.0.0.1", instance.ports["smtp"]), timeout=30)
    return s, s.makefile("rb")


def served(instance, timeout=30):
    """A session that got its 220. Until smtpd has noticed that an earlier session closed
    (the start-up port probe, a QUIT), that one still counts and we get the 421: retry."""
    deadline = time.time() + timeout
    while True:
        s, f = connect(instance)
        greeting = f.readline()
        if greeting.startswith(b"220 "):
            return s, f
        s.close()
        assert greeting.startswith(b"421 4.3.2 ") and time.time() < deadline, greeting
        time.sleep(0.05)


def test_process_connection_limit_421(instance):
    one_smtpd_process(instance)
    instance.set_conf(smtpd_process_connection_limit="2", smtpd_client_connection_count_limit="50")
    instance.start()
    assert len(instance.status_pids()["127.0.0.1:%d" % instance.ports["smtp"]]) == 1
    held = [served(instance) for _ in range(2)]
    s3, f3 = connect(instance)
    assert re.fullmatch(rb"421 4\.3\.2 \S+ Service not available: too many connections\r\n",
                        f3.readline())
    assert f3.read() == b""  # closed after the 421
    s3.close()
    instance.wait_log("process connection limit 2 reached: refusing localhost[127.0.0.1]")
    # The sessions within the limit are untouched.
    for s, f in held:
        s.sendall(b"NOOP\r\n")
        assert f.readline().startswith(b"250 ")
    # Closing one frees its slot: a new connection is served once smtpd noticed the close.
    s, f = held.pop(0)
    s.sendall(b"QUIT\r\n")
    assert f.readline().startswith(b"221 ")
    assert f.read() == b""
    s.close()
    s4, f4 = served(instance)
    s4.close()
    for s, f in held:
        s.close()
