"""master's reload and restart promises (doc/master.md): during `posthorn reload` there is
never a moment without a listener; a session opened before a reload finishes normally after
it; `posthorn reload` returns once the new generation serves (qmgr included), and says so
when master could not apply it; a reload with a bad main.cf keeps the running configuration
(and logs why); a service
that keeps dying is restarted after service_restart_delay, doubling up to
service_throttle_time."""
import os
import re
import signal
import smtplib
import socket
import threading
import time

from conftest import DOMAIN

ALICE = "alice@" + DOMAIN


def banner(inst, timeout=10):
    with socket.create_connection(("127.0.0.1", inst.ports["smtp"]), timeout=timeout) as s:
        return s.makefile("rb").readline()


def reload_to_banner(inst, word, timeout=30):
    """Set a new banner, reload, and wait until new connections get it (new generation)."""
    inst.set_conf(smtpd_banner=f"$myhostname ESMTP {word}")
    inst.reload()
    deadline = time.time() + timeout
    while time.time() < deadline:
        if word.encode() in banner(inst):
            return
        time.sleep(0.05)
    raise AssertionError(f"banner {word} never appeared\n{inst.log()[-3000:]}")


class Hammer(threading.Thread):
    """Connects in a tight loop and records every first line (or the error instead)."""

    def __init__(self, inst):
        super().__init__(daemon=True)
        self.inst, self.stop, self.seen, self.bad = inst, threading.Event(), 0, []

    def run(self):
        while not self.stop.is_set():
            try:
                line = banner(self.inst)
            except OSError as e:
                line = repr(e).encode()
            self.seen += 1
            if not line.startswith(b"220 "):
                self.bad.append(line)


def test_no_moment_without_a_listener(instance):
    # The hammer's closed connections linger in smtpd's per-client count for a moment: no
    # per-client limit here, so every answer but a 220 means a reload problem.
    instance.set_conf(smtpd_client_connection_count_limit="0")
    instance.start()
    server = instance
    h = Hammer(server)
    h.start()
    during = []  # connections made while each reload went on
    try:
        deadline = time.time() + 10
        while h.seen < 5 and time.time() < deadline:  # the hammer is going before the first
            time.sleep(0.01)
        for gen in range(3):
            before = h.seen
            reload_to_banner(server, f"generation-{gen}")
            during.append(h.seen - before)
    finally:
        h.stop.set()
        h.join(30)
    assert all(n > 0 for n in during), during  # it hammered through every reload
    assert h.bad == [], f"{len(h.bad)} of {h.seen} connections got no 220: {h.bad[:5]}"


def test_session_opened_before_reload_finishes(server):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as c:
        c.ehlo("client.test")
        assert c.mail("old@remote.test")[0] == 250
        assert c.rcpt(ALICE)[0] == 250
        reload_to_banner(server, "after-reload")
        code, msg = c.data(b"Subject: across a reload\r\n\r\nstarted before it\r\n")
        assert code == 250, msg
    msgs = server.wait_messages(ALICE, 1)
    assert b"started before it" in msgs[0]


def test_reload_returns_once_in_effect(server):
    old_qmgr = server.status_pids()["qmgr"]
    server.set_conf(smtpd_banner="$myhostname ESMTP at-once")
    p = server.posthorn("reload")
    assert p.stdout.startswith("posthorn: reloaded (master pid"), p.stdout
    # No waiting here: the old smtpd processes stopped accepting, the old qmgr is gone.
    assert b"at-once" in banner(server), server.log()[-3000:]
    assert not set(server.status_pids()["qmgr"]) & set(old_qmgr)
    # A second reload with nothing changed also returns and says so.
    assert server.posthorn("reload").stdout.startswith("posthorn: reloaded")


def test_reload_that_cannot_bind_says_so(server):
    first = banner(server)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        master_cf = server.etc / "master.cf"
        good = master_cf.read_text()
        master_cf.write_text(good + f"127.0.0.1:{port} inet n - n - 1 smtpd\n")
        server.set_conf(smtpd_banner="$myhostname ESMTP never-seen")
        p = server.posthorn("reload", check=False)
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert "reload failed, the running configuration stays" in p.stderr, p.stderr
        assert f"127.0.0.1:{port}" in p.stderr, p.stderr
        assert "keeping the running configuration" in server.log()
        assert banner(server) == first
    master_cf.write_text(good)
    assert server.posthorn("reload").stdout.startswith("posthorn: reloaded")
    assert b"never-seen" in banner(server)


def test_bad_main_cf_keeps_the_running_configuration(server):
    first = banner(server)
    server.wait_configured()
    pids = server.status_pids()
    main_cf = server.etc / "main.cf"
    good = main_cf.read_text()
    main_cf.write_text(good + "smtpd_banner = $myhostname ESMTP never-seen\n"
                       "message_size_limit = lots\n")
    line_no = len(main_cf.read_text().splitlines())
    # `posthorn reload` checks first and refuses, with the file and line...
    p = server.posthorn("reload", check=False)
    assert p.returncode != 0 and f"main.cf:{line_no}" in p.stdout + p.stderr
    # ...and master itself, signalled directly (a file edited after the check), keeps the
    # running configuration and logs why.
    os.kill(server.master_pid(), signal.SIGHUP)
    server.wait_log("reload: configuration has errors; keeping the running configuration")
    log = server.log()
    assert f"main.cf:{line_no}" in log, log[-3000:]
    # master handled the reload (the log line above): nothing was replaced.
    assert banner(server) == first
    after = server.status_pids()  # (a service may still be starting its last processes)
    for service, plist in pids.items():
        assert set(plist) <= set(after.get(service, [])), (service, pids, after)
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as c:
        c.sendmail("s@remote.test", [ALICE], b"Subject: still served\r\n\r\nx\r\n")
    server.wait_messages(ALICE, 1)
    # The same reload with the error fixed does take effect (the check above can fail).
    main_cf.write_text(good)
    reload_to_banner(server, "fixed")


DEATH = re.compile(r"process \S+/local-mda pid (\d+) exit status 2")


def death_times(inst, count, timeout):
    """When (our clock) each of the first COUNT deaths of the crashing service showed up in
    the log, polled every 10 ms, with their pids."""
    seen, times = [], []
    deadline = time.time() + timeout
    while len(seen) < count and time.time() < deadline:
        for pid in DEATH.findall(inst.log()):
            if pid not in seen:
                seen.append(pid)
                times.append(time.monotonic())
        time.sleep(0.01)
    inst.expect_deaths(*(int(p) for p in seen))
    assert len(seen) >= count, f"only {len(seen)} deaths\n{inst.log()[-3000:]}"
    return times[:count]


def test_dying_service_restarts_with_doubling_backoff(instance):
    # A service that exits at once: local-mda with a bad option exits with status 2.
    with open(instance.etc / "master.cf", "a") as f:
        f.write("crashy unix - - n - 1 local-mda -Z\n")
    instance.set_conf(service_restart_delay="1s", service_throttle_time="4s")
    instance.start()
    times = death_times(instance, 5, timeout=40)
    gaps = [b - a for a, b in zip(times, times[1:])]
    for gap, want in zip(gaps, (1, 2, 4, 4)):
        assert want - 0.2 <= gap <= want + 1.5, (gaps, instance.log()[-3000:])
    instance.wait_log("unix service crashy: dying too fast; next start in 4 s")
