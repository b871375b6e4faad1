"""Running Posthorn as a service (doc/operator.md, "Running as a service"): the systemd unit
the build configures (build/posthorn.service, from conf/posthorn.service.in) passes
`systemd-analyze verify` and its commands run an instance as systemd would (ExecStart
returns with PIDFile naming the running master, ExecReload reloads, ExecStop stops); and
`posthorn status --json` reports master, each service's processes and each queue's size."""
import json
import os
import re
import shutil
import signal
import smtplib
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, DOMAIN, process_running

ALICE = "alice@" + DOMAIN
UNIT = BIN.parent / "posthorn.service"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def unit_for(instance):
    """The built unit with the build's bin directory for the installed sbin directory and
    the instance's configuration directory and spool, as `systemctl edit` would set them:
    (unit text, {key: value} of its [Service] section)."""
    text = UNIT.read_text()
    sbin = re.search(r"^ExecStart=(\S+)/posthorn start$", text, re.M).group(1)
    spool = instance.conf("queue_directory")
    text = text.replace(sbin + "/posthorn", str(BIN / "posthorn"))
    text = re.sub(r"^Environment=POSTHORN_CONFIG=.*$", f"Environment=POSTHORN_CONFIG={instance.etc}",
                  text, flags=re.M)
    text = re.sub(r"^PIDFile=.*$", f"PIDFile={spool}/pid/master.pid", text, flags=re.M)
    service = text.split("[Service]", 1)[1].split("\n[", 1)[0]
    keys = dict(l.split("=", 1) for l in service.splitlines() if "=" in l and not l.startswith("#"))
    return text, keys


def run_unit_command(keys, name):
    """Run ExecStart/ExecReload/ExecStop the way systemd does: its Environment, no shell."""
    env = dict(os.environ)
    name_, value = keys["Environment"].split("=", 1)
    env[name_] = value
    return subprocess.run(keys[name].split(), env=env, capture_output=True, text=True, timeout=90)


def status_json(instance, expect_rc=0):
    p = instance.posthorn("status", "--json", check=False)
    assert p.returncode == expect_rc, (p.returncode, p.stdout, p.stderr)
    return json.loads(p.stdout)


def test_unit_file_verifies(instance, tmp_path):
    assert UNIT.exists(), "the build configures build/posthorn.service"
    if not SYSTEMD_ANALYZE:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    text, keys = unit_for(instance)
    path = tmp_path / "posthorn.service"
    path.write_text(text)
    # verify also runs man for each Documentation= page: the build's pages (test_manpages.py).
    env = dict(os.environ, MANPATH=str(BIN.parent / "share" / "man"))
    p = subprocess.run([SYSTEMD_ANALYZE, "verify", str(path)], capture_output=True, text=True,
                       timeout=120, env=env)
    assert p.returncode == 0 and p.stderr.strip() == "", p.stdout + p.stderr
    assert keys["Type"] == "forking" and keys["Restart"] == "on-failure"
    # A broken unit is caught: the check can fail.
    path.write_text(text.replace("Type=forking", "Type=forked"))
    p = subprocess.run([SYSTEMD_ANALYZE, "verify", str(path)], capture_output=True, text=True,
                       timeout=120, env=env)
    assert "Failed to parse service type" in p.stderr, p.stderr


def test_unit_commands_start_reload_stop(instance):
    _, keys = unit_for(instance)
    p = run_unit_command(keys, "ExecStart")
    assert p.returncode == 0, p.stdout + p.stderr
    instance.running = True
    # Type=forking: when ExecStart has returned, PIDFile names the running master.
    pid = int(Path(keys["PIDFile"]).read_text())
    os.kill(pid, 0)
    assert status_json(instance)["master_pid"] == pid
    instance.wait_port(instance.ports["smtp"])
    p = run_unit_command(keys, "ExecReload")
    assert p.returncode == 0, p.stdout + p.stderr
    instance.wait_log("reload -- version")
    assert int(Path(keys["PIDFile"]).read_text()) == pid  # reloaded, not restarted
    p = run_unit_command(keys, "ExecStop")
    assert p.returncode == 0, p.stdout + p.stderr
    instance.running = False
    assert not process_running(pid)
    assert status_json(instance, expect_rc=3)["running"] is False


def send(instance, subject):
    with smtplib.SMTP("127.0.0.1", instance.ports["smtp"], timeout=30) as c:
        c.sendmail("q@remote.test", [ALICE], b"Subject: " + subject.encode() + b"\r\n\r\n" + b"x" * 2000 + b"\r\n")


def wait_deferred(instance, n, timeout=30):
    deadline = time.time() + timeout
    while len(instance.queue_files("deferred")) < n:
        assert time.time() < deadline, instance.queue_files()
        time.sleep(0.1)
    return sorted(instance.queue_files("deferred"))


def test_status_json_counts_processes_and_queues(instance):
    # Two messages deferred (over quota), one of them then held.
    instance.add_user(ALICE, quota=1000)
    instance.set_conf(minimal_backoff_time="300s", maximal_backoff_time="600s", queue_run_delay="300s")
    instance.start()
    send(instance, "fills the quota")
    instance.wait_messages(ALICE, 1)
    send(instance, "deferred 1")
    send(instance, "deferred 2")
    ids = wait_deferred(instance, 2)
    instance.posthorn("queue", "hold", ids[0])

    st = status_json(instance)
    assert st["running"] is True and st["master_pid"] == instance.master_pid()
    assert st["queues"] == {"incoming": 0, "active": 0, "deferred": 1, "hold": 1, "corrupt": 0}
    text = instance.status_pids()  # the plain `posthorn status`, as the harness reads it
    assert {s["service"]: s["pids"] for s in st["services"]} == text
    for s in st["services"]:
        assert s["type"] in ("inet", "unix") and s["processes"] == len(s["pids"])
        for pid in s["pids"]:
            os.kill(pid, 0)
    smtp = [s for s in st["services"] if s["service"] == f"127.0.0.1:{instance.ports['smtp']}"]
    assert smtp and smtp[0]["processes"] >= 1
    # A process that ends is counted no more (master starts another in its place).
    victim = smtp[0]["pids"][0]
    instance.expect_deaths(victim, sig=signal.SIGTERM)
    os.kill(victim, signal.SIGTERM)
    deadline = time.time() + 30
    while victim in [p for s in status_json(instance)["services"] for p in s["pids"]]:
        assert time.time() < deadline
        time.sleep(0.1)

    instance.stop()
    st = status_json(instance, expect_rc=3)
    assert st == {"running": False, "master_pid": None, "services": [],
                  "queues": {"incoming": 0, "active": 0, "deferred": 1, "hold": 1, "corrupt": 0}}
