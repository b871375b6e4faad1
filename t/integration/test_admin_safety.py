"""Safety nets an operator relies on: root never trusts files others can write, a missing
account database defers mail instead of rejecting it, postmaster always works (RFC 5321
sec 4.5.1), master.cf typos are caught, old (renamed) parameter names keep working with a
warning, and qmgr's active queue is not edited under it."""
import os
import poplib
import shutil
import smtplib
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import DOMAIN, HOSTNAME, POSTHORN, Instance, pick_offset, run

ALICE = "alice@" + DOMAIN


def rcpt_code(inst, rcpt):
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as c:
        c.ehlo()
        c.mail("x@remote.test")
        return c.rcpt(rcpt)[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="the trust check only applies to root")
def test_root_refuses_config_writable_by_others():
    top = Path(tempfile.mkdtemp(prefix="posthorn-trust-"))
    try:
        os.chmod(top, 0o755)
        os.chown(top, 65534, 65534)  # nobody owns the directory above the instance
        offset = pick_offset()
        run(["runuser", "-u", "nobody", "--", POSTHORN, "init", str(top / "i"),
             "--port-offset", str(offset)])
        for cmd in ("check", "start"):
            p = run([POSTHORN, "-c", str(top / "i" / "etc"), cmd], check=False)
            assert p.returncode != 0
            assert "not root" in p.stdout + p.stderr
    finally:
        run([POSTHORN, "-c", str(top / "i" / "etc"), "stop"], check=False)
        shutil.rmtree(top, ignore_errors=True)


def test_missing_account_database_defers(instance):
    instance.add_user(ALICE)
    db = Path(instance.conf("account_database"))
    instance.start()
    assert rcpt_code(instance, ALICE) == 250
    instance.stop()
    moved = db.with_name("saved.lmdb")
    db.rename(moved)
    p = instance.posthorn("check", check=False)
    assert p.returncode != 0 and str(db) in p.stdout + p.stderr
    # Started anyway (by hand), every recipient gets a temporary failure, never 5xx.
    run([str(Path(POSTHORN).parent / "master"), "-c", str(instance.etc)], check=False)
    instance.running = True
    instance.wait_port(instance.ports["smtp"])
    assert rcpt_code(instance, ALICE) == 451
    assert rcpt_code(instance, "someone@remote.test") == 451
    # Put back (replaced under the running daemons): noticed without a restart.
    moved.rename(db)
    import time
    deadline = time.time() + 5
    while rcpt_code(instance, ALICE) != 250 and time.time() < deadline:
        time.sleep(0.3)
    assert rcpt_code(instance, ALICE) == 250


def test_postmaster_always_accepted(instance):
    instance.add_user(ALICE)
    instance.posthorn("domain", "add", "other.test")
    p = instance.posthorn("check")
    assert "postmaster@other.test" in p.stdout + p.stderr  # warned
    instance.set_conf(postmaster_recipient=ALICE)
    instance.start()
    with smtplib.SMTP("127.0.0.1", instance.ports["smtp"], timeout=30) as c:
        # sendmail() only raises when every recipient is refused; the refused ones it returns.
        refused = c.sendmail("x@remote.test", ["postmaster@other.test", "postmaster"],
                             b"Subject: to postmaster\r\n\r\nhello\r\n")
        assert refused == {}
    msgs = instance.wait_messages(ALICE, 1)
    assert b"to postmaster" in msgs[0]
    # Each recipient was delivered (to postmaster_recipient), none bounced.
    for rcpt in ("postmaster@other.test", "postmaster@" + DOMAIN):
        instance.wait_log(f"to=<{rcpt}>")
    sent = [l for l in instance.log().splitlines() if "to=<postmaster@" in l]
    assert len(sent) == 2 and all("status=sent" in l for l in sent), sent


def test_master_cf_bad_port_and_override(instance):
    with open(instance.etc / "master.cf", "a") as f:
        f.write("127.0.0.1:99999 inet n - n - 1 smtpd\n")
        f.write("127.0.0.1:%d inet n - n - 1 smtpd -o message_size_limit=abc\n" % (instance.ports["smtp"] + 1))
    p = instance.posthorn("check", check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert 'bad port "99999"' in out and "message_size_limit" in out


def test_old_parameter_names_still_work(instance):
    """pop3_allow_plaintext_auth and auth_failure_delay were renamed to login_*: an existing
    main.cf keeps working, and check, conf and start say which new name to use."""
    main_cf = instance.etc / "main.cf"
    lines = main_cf.read_text().count("\n")
    with open(main_cf, "a") as f:
        f.write("pop3_allow_plaintext_auth = yes\nauth_failure_delay = 0\n")
    p = instance.posthorn("check")
    out = p.stdout + p.stderr
    assert f"main.cf:{lines + 1}: " in out and "use login_allow_plaintext_auth" in out, out
    assert f"main.cf:{lines + 2}: " in out and "use login_failure_delay" in out, out
    p = instance.posthorn("conf", "pop3_allow_plaintext_auth")
    assert p.stdout == "login_allow_plaintext_auth = yes\n"
    assert "use login_allow_plaintext_auth" in p.stderr
    defaults = instance.posthorn("conf", "-d").stdout
    assert "login_failure_delay = 2s" in defaults and "auth_failure_delay" not in defaults
    # The daemon reads the old name: a plaintext login works without TLS.
    instance.add_user(ALICE)
    instance.start()
    instance.wait_port(instance.ports["pop3"])
    pop = poplib.POP3("127.0.0.1", instance.ports["pop3"], timeout=30)
    pop.user(ALICE)
    assert pop.pass_("secret").startswith(b"+OK")
    pop.quit()
    # conf set with the old name writes the new one in place of the old line.
    instance.posthorn("conf", "set", "auth_failure_delay=1s")
    text = main_cf.read_text()
    assert "login_failure_delay = 1s" in text and "auth_failure_delay" not in text


def test_active_queue_not_edited_while_running(server):
    p = server.posthorn("queue", "delete", "ALL", "--queue", "active", check=False)
    assert p.returncode != 0 and "running" in p.stdout + p.stderr


def test_ehlo_domain_longer_than_255_refused(server):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as c:
        code, _ = c.docmd("EHLO", "a" * 300)
        assert code == 501
        assert c.ehlo("ok.test")[0] == 250
