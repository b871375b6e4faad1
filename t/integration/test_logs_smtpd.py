"""smtpd's and submission's log lines in Postfix's shapes (doc/smtpd.md, "Logs"), read by the
tools operators already run: sessions driven with smtplib through accepted and refused
transactions leave connect, reject (RCPT, MAIL, END-OF-MESSAGE with the queue ID), lost
connection, and disconnect lines with per-command counts, each matched exactly; Debian's
fail2ban, with its own postfix filter told the syslog name (fail2ban-regex), finds exactly
the refused recipients and the failed SASL logins; pflogsumm counts exactly the rejects."""
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import DOMAIN

ALICE = f"alice@{DOMAIN}"
SENDER = "sender@remote.test"
HELO = "client.test"
FAIL2BAN_REGEX = shutil.which("fail2ban-regex") or "/usr/bin/fail2ban-regex"
PFLOGSUMM = shutil.which("pflogsumm") or "/usr/sbin/pflogsumm"
# fail2ban's postfix filter with the daemon part naming posthorn instead of postfix, as
# doc/operator.md tells an operator to write it in jail.local.
F2B_FILTER = r'postfix[mode=%s, _daemon="posthorn/\w+(?:/smtp[ds])?"]'
SMTPD = r"\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ posthorn/smtpd\[\d+\]: "
CLIENT = r"localhost\[127\.0\.0\.1\]"


def wait_line(instance, pattern, count=1, timeout=30):
    """The log's lines matching pattern (a regex matched against whole lines), once there
    are count of them."""
    rx = re.compile(pattern)
    deadline = time.time() + timeout
    while True:
        got = [l for l in instance.log().splitlines() if rx.fullmatch(l)]
        if len(got) >= count or time.time() > deadline:
            assert len(got) == count, (pattern, got, instance.log()[-3000:])
            return got
        time.sleep(0.1)


def smtp(instance):
    s = smtplib.SMTP("127.0.0.1", instance.ports["smtp"], local_hostname=HELO, timeout=30)
    s.ehlo()
    return s


def accepted(instance):
    s = smtp(instance)
    s.sendmail(SENDER, [ALICE], b"Subject: hello\r\n\r\nhi\r\n")
    s.quit()
    wait_line(instance, SMTPD + f"disconnect from {CLIENT} ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5")


def refused_recipients(instance):
    """RCPT refused twice (no such user, relaying), then DATA without a recipient."""
    s = smtp(instance)
    assert s.mail(SENDER)[0] == 250
    assert s.rcpt(f"nobody@{DOMAIN}")[0] == 550
    assert s.rcpt("someone@elsewhere.test")[0] == 554
    assert s.docmd("DATA")[0] == 554
    s.quit()
    wait_line(instance, SMTPD + f"NOQUEUE: reject: RCPT from {CLIENT}: 550 5\\.1\\.1 <nobody@{DOMAIN}>: "
              "Recipient address rejected: User unknown in virtual mailbox table; "
              f"from=<{SENDER}> to=<nobody@{DOMAIN}> proto=ESMTP helo=<{HELO}>")
    wait_line(instance, SMTPD + f"NOQUEUE: reject: RCPT from {CLIENT}: 554 5\\.7\\.1 <someone@elsewhere.test>: "
              f"Relay access denied; from=<{SENDER}> to=<someone@elsewhere.test> proto=ESMTP helo=<{HELO}>")
    wait_line(instance, SMTPD + f"disconnect from {CLIENT} ehlo=1 mail=1 rcpt=0/2 data=0/1 quit=1 commands=3/6")


def refused_size(instance, limit):
    """A declared SIZE over the limit at MAIL; then content over it at the end of data (the
    null sender, HELO instead of EHLO)."""
    s = smtp(instance)
    code, _ = s.mail(SENDER, [f"SIZE={limit + 1}"])
    assert code == 552
    s.quit()
    wait_line(instance, SMTPD + f"NOQUEUE: reject: MAIL from {CLIENT}: 552 5\\.3\\.4 Message size exceeds "
              f"fixed limit; from=<{SENDER}> proto=ESMTP helo=<{HELO}>")
    s = smtplib.SMTP("127.0.0.1", instance.ports["smtp"], local_hostname=HELO, timeout=30)
    s.helo()
    assert s.mail("<>")[0] == 250
    assert s.rcpt(ALICE)[0] == 250
    code, _ = s.data(b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n" + (b"y" * 998 + b"\r\n") * (limit // 1000 + 1))
    assert code == 552
    s.quit()
    line = wait_line(instance, SMTPD + f"([0-9A-F]+): reject: END-OF-MESSAGE from {CLIENT}: 552 5\\.3\\.4 "
                     f"Message size exceeds fixed limit; from=<> to=<{ALICE}> proto=SMTP helo=<{HELO}>")[0]
    qid = re.search(r": ([0-9A-F]+): reject:", line).group(1)
    wait_line(instance, SMTPD + f"{qid}: client={CLIENT}")
    wait_line(instance, SMTPD + f"disconnect from {CLIENT} helo=1 mail=1 rcpt=1 data=0/1 quit=1 commands=4/5")


def lost_connections(instance):
    """A client that leaves in the middle of DATA, and one that says nothing at all, then one
    that sends an unknown command and leaves after its 250 (not logged: Postfix's rule)."""
    s = smtp(instance)
    s.mail(SENDER)
    s.rcpt(ALICE)
    assert s.docmd("DATA")[0] == 354
    s.sock.sendall(b"Subject: cut\r\n\r\n12345")
    time.sleep(0.3)
    s.close()
    wait_line(instance, SMTPD + f"lost connection after DATA \\(\\d+ bytes\\) from {CLIENT}")
    wait_line(instance, SMTPD + f"disconnect from {CLIENT} ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4")
    silent = SMTPD + f"lost connection after CONNECT from {CLIENT}"
    before = len([l for l in instance.log().splitlines() if re.fullmatch(silent, l)])
    socket.create_connection(("127.0.0.1", instance.ports["smtp"]), timeout=30).close()
    wait_line(instance, silent, before + 1)
    s = smtp(instance)
    assert s.docmd("XYZZY")[0] == 502
    s.sendmail(SENDER, [ALICE], b"Subject: again\r\n\r\nhi\r\n")
    s.close()  # no QUIT
    wait_line(instance, SMTPD + f"disconnect from {CLIENT} ehlo=1 mail=1 rcpt=1 data=1 unknown=0/1 commands=4/5")
    assert "lost connection after END-OF-MESSAGE" not in instance.log()


def failed_logins(instance, count):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for _ in range(count):
        s = smtplib.SMTP("127.0.0.1", instance.ports["submission"], local_hostname=HELO, timeout=30)
        s.starttls(context=ctx)
        s.ehlo()
        s.user, s.password = ALICE, "wrong password"
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.auth("PLAIN", s.auth_plain)  # once: login() would try LOGIN as well
        s.quit()
    wait_line(instance, r"\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ posthorn/submission/smtpd\[\d+\]: warning: "
              f"{CLIENT}: SASL PLAIN authentication failed: authentication failure", count)
    wait_line(instance, r".* posthorn/submission/smtpd\[\d+\]: disconnect from "
              f"{CLIENT} ehlo=2 starttls=1 auth=0/1 quit=1 commands=4/5", count)


def fail2ban(log_path, mode):
    """The lines fail2ban's postfix filter (its Debian package's filter.d/postfix.conf) finds,
    in the given mode: [(ip, text)]."""
    p = subprocess.run([FAIL2BAN_REGEX, "--print-all-matched", "-o", "ip", str(log_path),
                        F2B_FILTER % mode], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout.split()


def pflogsumm_rejects(log_path):
    p = subprocess.run([PFLOGSUMM, "--syslog-name=posthorn", str(log_path)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    m = re.search(r"^\s+(\d+)\s+rejected\b", p.stdout, re.M)
    assert m, p.stdout
    return int(m.group(1)), p.stdout


@pytest.mark.skipif(not os.path.exists(FAIL2BAN_REGEX), reason="fail2ban not installed (t/deps)")
@pytest.mark.skipif(not os.path.exists(PFLOGSUMM), reason="pflogsumm not installed (t/deps)")
def test_smtpd_log_lines_for_fail2ban_and_pflogsumm(instance):
    limit = 4096
    instance.add_user(ALICE)
    instance.set_conf(message_size_limit=str(limit), login_failure_delay="0",
                      login_failure_delay_limit="0", login_max_failures="50")
    instance.start()
    instance.wait_port(instance.ports["submission"])
    wait_line(instance, SMTPD + f"connect from {CLIENT}")  # the start-up probe
    accepted(instance)
    refused_recipients(instance)
    refused_size(instance, limit)
    lost_connections(instance)
    failed_logins(instance, 3)
    log_path = instance.conf("maillog_file")

    # fail2ban's default mode finds the two refused recipients, nothing else.
    assert fail2ban(log_path, "more") == ["127.0.0.1", "127.0.0.1"]
    # Its auth mode (the postfix-sasl jail) finds the three failed logins.
    assert fail2ban(log_path, "auth") == ["127.0.0.1"] * 3
    # pflogsumm: RCPT x2, MAIL x1, END-OF-MESSAGE x1.
    rejected, report = pflogsumm_rejects(log_path)
    assert rejected == 4, report
    assert re.search(r"RCPT\s*\n\s+Recipient address rejected: User unknown in virtual mailbox "
                     r"table.*\n\s+1\s+nobody@", report), report
    assert re.search(r"MAIL\s*\n\s+5\.3\.4 Message size exceeds fixed limit", report), report
