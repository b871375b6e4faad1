"""The test harness itself (conftest.py): a daemon that dies without the test causing it
fails the test, a death the test declared does not, a sanitizer report fails the test, and
two test processes never get the same port. The abort cases run an inner pytest on a tiny
delivery test with the test-only switch POSTHORN_TEST_ABORT (lib/global/server.c, compiled
in with the CMake option POSTHORN_TEST_HOOKS)."""
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import BASE_PORTS, DOMAIN, SANITIZED, reserve_offset

ALICE = "alice@" + DOMAIN
HERE = Path(__file__).resolve().parent

TINY_TEST = textwrap.dedent('''
    import smtplib
    from conftest import DOMAIN

    def test_one_delivery(server):
        with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as c:
            c.sendmail("a@remote.test", ["alice@" + DOMAIN], b"Subject: tiny\\r\\n\\r\\nhi\\r\\n")
        server.wait_messages("alice@" + DOMAIN, 1)
''')


def inner_pytest(tmp_path, abort=None):
    """Run TINY_TEST with this conftest in a fresh directory; abort sets the switch."""
    tmp_path = tmp_path / (abort or "plain").replace(":", "-")
    tmp_path.mkdir()
    shutil.copy(HERE / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_tiny.py").write_text(TINY_TEST)
    env = dict(os.environ)
    env.pop("POSTHORN_TEST_ABORT", None)
    if abort:
        env["POSTHORN_TEST_ABORT"] = abort
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(tmp_path / "test_tiny.py")], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout + p.stderr


def need_hooks():
    if os.environ.get("POSTHORN_TEST_HOOKS") != "1":
        pytest.skip("daemons built without POSTHORN_TEST_HOOKS: no abort switch to test with")


def test_daemon_abort_fails_an_otherwise_passing_test(tmp_path):
    need_hooks()
    rc, out = inner_pytest(tmp_path)
    assert rc == 0 and "1 passed" in out, out
    rc, out = inner_pytest(tmp_path, abort="smtpd")
    # The delivery itself succeeds; only the harness sees smtpd abort (SIGABRT, 6) at stop.
    assert rc == 1 and "1 passed, 1 error" in out, out
    assert "daemons died without the test causing it" in out, out
    assert "/smtpd pid " in out and "killed by signal 6" in out, out


def test_sanitizer_report_fails_the_test(tmp_path):
    need_hooks()
    if not SANITIZED:
        pytest.skip("not a sanitizer build (POSTHORN_SANITIZED=1): no reports to collect")
    rc, out = inner_pytest(tmp_path, abort="smtpd:overflow")
    assert rc == 1 and "1 passed, 1 error" in out, out
    assert "sanitizer reports:" in out and "heap-buffer-overflow" in out, out


def wait_death_line(inst, pid, timeout=30):
    needle = f" pid {pid} killed by signal"
    deadline = time.time() + timeout
    while needle not in inst.log():
        assert time.time() < deadline, f"master never logged the death of {pid}\n{inst.log()[-3000:]}"
        time.sleep(0.05)


def test_only_declared_deaths_are_tolerated(server):
    smtpd = server.status_pids()[f"127.0.0.1:{server.ports['smtp']}"][0]
    server.kill(smtpd)  # declared by the kill itself
    wait_death_line(server, smtpd)
    assert server.unexpected_deaths() == []
    qmgr = server.status_pids()["qmgr"][0]
    os.kill(qmgr, signal.SIGKILL)  # not declared
    wait_death_line(server, qmgr)
    assert [line for line in server.unexpected_deaths() if f" pid {qmgr} " in line], server.log()
    # A declared pid dying by another signal than the one the test sent is still a surprise.
    server.expect_deaths(qmgr, sig=signal.SIGTERM)
    assert server.unexpected_deaths(), server.log()
    server.expect_deaths(qmgr)  # so this test's own teardown passes
    assert server.unexpected_deaths() == []
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as c:
        c.sendmail("k@remote.test", [ALICE], b"Subject: after\r\n\r\nx\r\n")
    server.wait_messages(ALICE, 1)


def test_locked_ports_are_never_handed_out_twice():
    held = reserve_offset()
    try:
        # Another process finds every port of this offset locked, and also the offset whose
        # smtp port is this one's smtps port (465 - 25 = 440 apart); it takes the next one.
        free = next(o for o in range(held.offset + 10, held.offset + 2000, 10)
                    if not set(p + o for p in BASE_PORTS.values()) &
                    set(p + held.offset for p in BASE_PORTS.values()))
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from conftest import reserve_offset;"
                f" print(reserve_offset([{held.offset}, {held.offset + 440}, {free}]).offset)")
        p = subprocess.run([sys.executable, "-c", code, str(HERE)], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert int(p.stdout) == free, p.stdout
    finally:
        held.release()


def test_file_with_every_test_skipped_exits_77(tmp_path):
    """ctest reports such a file skipped (SKIP_RETURN_CODE 77), not passed."""
    shutil.copy(HERE / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_skips.py").write_text("import pytest\n\ndef test_a():\n    pytest.skip('no')\n")
    (tmp_path / "test_mixed.py").write_text("import pytest\n\ndef test_a():\n    pytest.skip('no')\n\n"
                                            "def test_b():\n    pass\n")

    def rc(name):
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name],
                              cwd=tmp_path, capture_output=True, timeout=120).returncode
    assert rc("test_skips.py") == 77
    assert rc("test_mixed.py") == 0
