"""Logs as Postfix tools read them (doc/operator.md, "Logs"): with syslog_name set, every
line names it before /SERVICE[PID]; Debian's pflogsumm, told that name, counts N messages
sent to an alias of three local members as N received and 3N delivered (one posthorn/local
line per final recipient, orig_to=<alias>), a command that defers once and then succeeds as
one deferred and one delivered, one that fails as one bounced (and its notice, delivered to
the sender, as one more delivery); with maillog_syslog = yes the same lines also reach the
syslog socket (syslog_socket) as RFC 3164 messages of facility syslog_facility.
A whole day with sendmail submissions and smtpd's rejects is in test_logs_day.py."""
import os
import re
import shutil
import socket
import subprocess
import threading

import pytest

from alias_util import delivery_lines, script, send, wait_lines, work_dir, write_aliases
from conftest import DOMAIN

N = 5
MEMBERS = ["ann", "ben", "cid"]
PFLOGSUMM = shutil.which("pflogsumm") or "/usr/sbin/pflogsumm"


def fan_out_aliases(inst, users, more=""):
    """Users, and the aliases both log tests count: team@ (ann, ben, cid), flaky@ (a
    command that defers once, then succeeds), failing@ (a command that fails); plus MORE."""
    for u in users:
        inst.add_user(f"{u}@{DOMAIN}")
    out = work_dir(inst)
    flaky = script(inst, "flaky", f"test -e {out}/once || {{ touch {out}/once; exit 75; }}\n")
    failing = script(inst, "failing", "echo no such member; exit 67\n")
    write_aliases(inst, f"team@{DOMAIN}: {', '.join(MEMBERS)}\n"
                        f"flaky@{DOMAIN}: |{flaky}\nfailing@{DOMAIN}: |{failing}\n{more}")


def pflogsumm(log_path, name):
    p = subprocess.run([PFLOGSUMM, f"--syslog-name={name}", str(log_path)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    counts = {}
    for m in re.finditer(r"^\s+(\d+)\s+(received|delivered|forwarded|deferred|bounced|rejected)\b",
                         p.stdout, re.M):
        counts.setdefault(m.group(2), int(m.group(1)))
    return counts, p.stdout


@pytest.mark.skipif(not os.path.exists(PFLOGSUMM), reason="pflogsumm not installed (t/deps)")
def test_pflogsumm_counts_alias_fan_out(instance):
    fan_out_aliases(instance, MEMBERS)
    sock_path = instance.root / "syslog.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    os.chmod(sock_path, 0o666)  # the daemons run as mail_owner and vmail_owner
    sock.settimeout(0.5)
    got, done = [], threading.Event()

    def read_syslog():  # as a syslog daemon does, all along
        while not done.is_set():
            try:
                got.append(sock.recv(8192).decode())
            except socket.timeout:
                pass
    reader = threading.Thread(target=read_syslog)
    reader.start()
    instance.set_conf(syslog_name="mailco", maillog_syslog="yes", syslog_socket=str(sock_path),
                      syslog_facility="local3")
    instance.start()
    try:
        for i in range(N):
            send(instance, [f"team@{DOMAIN}"], b"Subject: %d\r\n\r\nhello team\r\n" % i)
        send(instance, [f"flaky@{DOMAIN}"])
        send(instance, [f"failing@{DOMAIN}"], sender=f"ann@{DOMAIN}")
        wait_lines(instance, lambda l: l["orig"] == f"team@{DOMAIN}", 3 * N)
        wait_lines(instance, lambda l: l["to"] == f"flaky@{DOMAIN}" and l["status"] == "sent")
        instance.wait_messages(f"ann@{DOMAIN}", 1 + N)  # the notice of the failing command
        instance.wait_queue_empty()
        log = instance.log()
        since = log[log.index("daemon started"):].splitlines()  # users were added before
        named = [l for l in since if re.match(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ \S+\[\d+\]: ", l)]
        assert named and all(" mailco/" in l for l in named), [l for l in named if " mailco/" not in l][:3]
        lines = [l for l in delivery_lines(log) if l["orig"] == f"team@{DOMAIN}"]
        assert len(lines) == 3 * N and {l["prog"] for l in lines} == {"mailco/local"}
        counts, report = pflogsumm(instance.conf("maillog_file"), "mailco")
        assert counts == {"received": N + 2, "delivered": 3 * N + 2, "forwarded": 0,
                          "deferred": 1, "bounced": 1, "rejected": 0}, report
        # syslog got the same lines: <PRI>Mmm dd hh:mm:ss mailco/SERVICE[PID]: TEXT
        done.set()
        reader.join()
        pri = 19 * 8 + 6  # local3.info
        sent = [g for g in got if g.startswith(f"<{pri}>") and "mailco/local[" in g and "orig_to=<team@" in g]
        assert len(sent) == 3 * N, got[:5]
        file_texts = {l.split(": ", 1)[1] for l in log.splitlines() if " mailco/local[" in l}
        assert {g.split(": ", 1)[1] for g in sent} <= file_texts
    finally:
        done.set()
        reader.join()
        sock.close()
