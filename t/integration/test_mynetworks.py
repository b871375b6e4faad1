"""mynetworks (doc/smtpd.md, "Trusted networks"): clients at the listed addresses and networks
may relay through smtpd on port 25 without logging in, as Postfix's permit_mynetworks lets
them; every other client stays refused with 554 5.7.1, the address tricks are refused from
anyone, and a mistyped network is a configuration error naming the file and line. Clients
connect from a locked 127.A.B.0/24 block (mx_lab.address_block)."""
import re
import signal
import smtplib
import time

import pytest

from conftest import DOMAIN
from mx_lab import address_block

ALICE = "alice@" + DOMAIN
REMOTE = "someone@remote.example"


@pytest.fixture
def trusted(instance):
    p = address_block()
    instance.add_user(ALICE)
    instance.set_conf(mynetworks=f"{p}0/28, [2001:db8::]/32")
    instance.start()
    return instance, p


def rcpt(inst, source, to):
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30,
                      source_address=(source, 0)) as s:
        s.ehlo("app.example")
        assert s.mail("app@" + DOMAIN)[0] == 250
        return s.rcpt(to)


def test_a_trusted_client_relays_and_others_do_not(trusted):
    inst, p = trusted
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30,
                      source_address=(p + "5", 0)) as s:
        refused = s.sendmail("app@" + DOMAIN, [REMOTE, ALICE], b"Subject: report\r\n\r\nx\r\n")
    assert refused == {}
    inst.wait_messages(ALICE, 1)
    log = inst.log()
    qid = [l for l in log.splitlines() if f"client=unknown[{p}5]" in l][0].split()[-2][:-1]
    assert inst.queued(qid) or f"{qid}: to=<{REMOTE}>" in inst.log()  # waits for smtp-client
    # Outside the networks: the last address of the /28 and beyond, and 127.0.0.1.
    for source in (p + "16", p + "200", "127.0.0.1"):
        code, text = rcpt(inst, source, REMOTE)
        assert (code, text) == (554, f"5.7.1 <{REMOTE}>: Relay access denied".encode()), source
    assert rcpt(inst, p + "15", REMOTE)[0] == 250


@pytest.mark.parametrize("trick", [
    f"{REMOTE.replace('@', '%')}@{DOMAIN}",        # user%remote@ours
    f"remote.example!someone@{DOMAIN}",            # bang path
    '"someone@remote.example"@' + DOMAIN,          # an @ in a quoted local part
])
def test_routing_tricks_stay_refused_for_trusted_clients(trusted, trick):
    """A trusted client may relay openly, but an address that asks another MTA to route on
    is still refused: the next hop might be less careful (doc/smtpd.md)."""
    inst, p = trusted
    code, text = rcpt(inst, p + "5", trick)
    assert code == 554 and b"Relay access denied" in text, (code, text)


@pytest.mark.parametrize("value,why", [
    ("192.0.2.7/24", "the address has bits set past the prefix length"),
    ("192.0.2.0/33", "bad prefix length"),
    ("mail.example.com", "not an IP address or network"),
    ("[192.0.2.1]", "not an IP address or network"),
    ("0.0.0.0/0", "a prefix length of 0 trusts every client: an open relay"),
])
def test_a_mistyped_network_is_an_error_with_file_and_line(instance, value, why):
    main_cf = instance.etc / "main.cf"
    with open(main_cf, "a") as f:
        f.write(f"mynetworks = 127.0.0.1, {value}\n")
    line = len(main_cf.read_text().splitlines())
    for cmd in ("check", "start"):
        p = instance.posthorn(cmd, check=False)
        out = p.stdout + p.stderr
        assert p.returncode != 0, (cmd, out)
        assert f'main.cf:{line}: mynetworks: "{value}": {why}' in out, (cmd, out)


def test_trusted_clients_are_exempt_from_the_client_name_rule(instance):
    p = address_block()
    instance.add_user(ALICE)
    instance.set_conf(mynetworks=p + "5", smtpd_reject_unknown_client_hostname="reverse")
    instance.start()
    assert rcpt(instance, p + "5", ALICE)[0] == 250  # no PTR (the system resolver's
    code, text = rcpt(instance, p + "6", ALICE)      # loopback zone), but trusted
    assert code == 450 and b"cannot find your reverse hostname" in text, (code, text)


def test_a_bad_override_in_master_cf_keeps_the_running_configuration(trusted):
    """A bad -o mynetworks on smtpd's master.cf line is refused by master's own reload (a
    SIGHUP, as `kill -HUP` sends it, not only `posthorn reload`): the error names the line,
    and port 25 goes on serving with the old trust."""
    inst, p = trusted
    master_cf = inst.etc / "master.cf"
    text = master_cf.read_text()
    text, n = re.subn(r"^(\S+\s+inet\s.*\ssmtpd)$", r"\1 -o mynetworks=192.0.2.7/24", text,
                      flags=re.M)
    assert n == 1, text
    master_cf.write_text(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "mynetworks=192.0.2.7/24" in l)
    os_kill_hup(inst.master_pid())
    inst.wait_log(f'master.cf:{line}: mynetworks: "192.0.2.7/24": the address has bits set')
    # End the running smtpd processes: the new ones master starts get the configuration it
    # kept, not the bad line.
    smtpd = [pid for svc, pids in inst.status_pids().items()
             if svc.endswith(f":{inst.ports['smtp']}") for pid in pids]
    assert smtpd, inst.status_pids()
    for pid in smtpd:
        inst.kill(pid, signal.SIGTERM)
    deadline = time.time() + 20
    while True:
        try:
            assert rcpt(inst, p + "5", REMOTE)[0] == 250
            break
        except (OSError, smtplib.SMTPException):
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    assert "dying too fast" not in inst.log() and "fatal:" not in inst.log()


def os_kill_hup(pid):
    import os
    os.kill(pid, signal.SIGHUP)
