"""master: status, restart of killed services, reload, stop leaves nothing, one master per spool."""
import os
import signal
import smtplib
import socket
import time

from conftest import DOMAIN, run, POSTHORN, process_running

ALICE = "alice@" + DOMAIN


def banner(server):
    with socket.create_connection(("127.0.0.1", server.ports["smtp"]), timeout=10) as s:
        return s.makefile("rb").readline()


def wait_new_pids(server, service, old, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        pids = server.status_pids().get(service, [])
        if pids and not set(pids) & set(old):
            return pids
        time.sleep(0.1)
    raise AssertionError(f"{service} not restarted: {server.status_pids()}")


def alive(pid):
    return process_running(pid)


def test_status_lists_services(server):
    p = server.posthorn("status")
    assert "master is running" in p.stdout
    pids = server.status_pids()
    assert pids.get("qmgr") and pids.get("local")
    smtp = [k for k in pids if k.endswith(":%d" % server.ports["smtp"])]
    assert smtp and pids[smtp[0]]
    for plist in pids.values():
        for pid in plist:
            assert alive(pid)


def test_killed_services_are_restarted(server):
    pids = server.status_pids()
    smtp_name = [k for k in pids if k.endswith(":%d" % server.ports["smtp"])][0]
    for service in (smtp_name, "qmgr", "local"):
        old = server.status_pids()[service]
        for pid in old:
            server.kill(pid, signal.SIGKILL)  # declared to the harness
        wait_new_pids(server, service, old)
    server.wait_port(server.ports["smtp"])
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as c:
        c.sendmail("k@remote.test", [ALICE], b"Subject: after kill\r\n\r\nstill works\r\n")
    server.wait_messages(ALICE, 1)
    assert "killed by signal 9" in server.log()


def test_reload_applies_new_config(server):
    assert b"ESMTP Posthorn" in banner(server)
    old = server.status_pids()
    server.set_conf(smtpd_banner="$myhostname ESMTP reloaded-banner")
    server.reload()
    deadline = time.time() + 30  # sanitizer builds on a loaded machine start slowly
    while time.time() < deadline and b"reloaded-banner" not in banner(server):
        time.sleep(0.1)
    assert b"reloaded-banner" in banner(server), (server.status_pids(), server.log()[-3000:])
    wait_new_pids(server, "qmgr", old["qmgr"])
    server.wait_log("reload")
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as c:
        c.sendmail("r@remote.test", [ALICE], b"Subject: after reload\r\n\r\nx\r\n")
    server.wait_messages(ALICE, 1)


def test_bad_config_refused_with_file_and_line(instance):
    main_cf = instance.etc / "main.cf"
    with open(main_cf, "a") as f:
        f.write("message_size_limit = lots\n")
    p = instance.posthorn("start", check=False)
    assert p.returncode != 0
    lines = main_cf.read_text().splitlines()
    assert f"main.cf:{len(lines)}" in p.stdout + p.stderr
    p = instance.posthorn("check", check=False)
    assert p.returncode != 0 and f"main.cf:{len(lines)}" in p.stdout + p.stderr


def test_bad_master_cf_refused(instance):
    with open(instance.etc / "master.cf", "a") as f:
        f.write("broken inet n\n")
    p = instance.posthorn("check", check=False)
    assert p.returncode != 0 and "master.cf:" in p.stdout + p.stderr


def test_stop_leaves_no_process_and_second_master_refused(server):
    master = server.master_pid()
    assert master and alive(master)
    p = run([POSTHORN, "-c", str(server.etc), "start"], check=False)
    assert p.returncode != 0 and "running" in (p.stdout + p.stderr)
    children = [pid for plist in server.status_pids().values() for pid in plist]
    server.stop()
    assert not alive(master)
    for pid in children:
        assert not alive(pid)
    p = server.posthorn("status", check=False)
    assert p.returncode != 0


def test_master_killed_children_exit_and_restart_works(server):
    master = server.master_pid()
    children = [pid for plist in server.status_pids().values() for pid in plist]
    server.kill(master, signal.SIGKILL)
    deadline = time.time() + 20
    while time.time() < deadline and any(alive(p) for p in children):
        time.sleep(0.1)
    assert not any(alive(p) for p in children)
    server.posthorn("start")
    server.wait_port(server.ports["smtp"])
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as c:
        c.sendmail("m@remote.test", [ALICE], b"Subject: new master\r\n\r\nx\r\n")
    server.wait_messages(ALICE, 1)
