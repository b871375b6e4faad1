"""pop3d's brute-force defences (doc/pop3d.md, "Failed login"): once an address reaches
login_max_failures its connections are refused (logged with the reason), and an unknown user
costs one verification against a dummy hash, about as long as a wrong password for a known
user. The counts across processes, the growing delay and the end of the penalty
(login_penalty_time) are in test_anvil.py."""
import statistics
import time

from conftest import DOMAIN
from test_pop3 import ALICE, Raw, start_pop3

REFUSAL = b"-ERR [SYS/TEMP] Too many failed logins from your address, try later.\r\n"


def one_login_process(inst):
    """Failures are counted per login process: run one, so every connection meets the count."""
    mcf = inst.etc / "master.cf"
    port = f":{inst.ports['pop3']} "
    lines, changed = [], 0
    for line in mcf.read_text().splitlines():
        if port in line and line.split()[1] == "inet":
            f = line.split()
            f[6] = "1"
            line = " ".join(f)
            changed += 1
        lines.append(line)
    assert changed == 1, mcf.read_text()
    mcf.write_text("\n".join(lines) + "\n")


def fail_login(r, user=ALICE, password="wrong"):
    r.cmd(f"USER {user}")
    return r.cmd(f"PASS {password}")


def test_address_refused_after_max_failures(instance):
    one_login_process(instance)
    inst = start_pop3(instance, login_allow_plaintext_auth="yes", login_max_failures="3")
    r = Raw(inst)
    for _ in range(2):
        assert fail_login(r).startswith(b"-ERR [AUTH] Authentication failed")
    # A new connection before the limit is still served.
    assert Raw(inst).greeting.startswith(b"+OK")
    # One reply for the last failure (POP3 has no unsolicited lines), then the close.
    assert fail_login(r) == (b"-ERR [AUTH] Authentication failed. Too many failed logins, "
                             b"closing the connection.\r\n")
    assert r.closed()
    # From now on every connection from the address is refused at once, even one that
    # would log in correctly.
    for _ in range(3):
        late = Raw(inst)
        assert late.greeting == REFUSAL
        assert late.closed()
    inst.wait_log("refusing 127.0.0.1: too many failed logins")


def reply_time(inst, user, password):
    r = Raw(inst)
    r.cmd(f"USER {user}")
    t = time.monotonic()
    reply = r.cmd(f"PASS {password}")
    elapsed = time.monotonic() - t
    assert reply.startswith(b"-ERR [AUTH] Authentication failed"), reply
    r.cmd("QUIT")
    return elapsed


def test_unknown_user_costs_like_a_wrong_password(instance):
    # At the default cost (conftest makes hashes cheap), where a difference would show.
    inst = start_pop3(instance, login_allow_plaintext_auth="yes", login_max_failures="1000",
                      argon2_memory_cost="65536", argon2_time_cost="3")
    reply_time(inst, ALICE, "warm-up")  # the dummy hash is made before the first check
    known, unknown = [], []
    for i in range(7):  # interleaved, so a busy moment of the machine hits both
        known.append(reply_time(inst, ALICE, f"wrong{i}"))
        unknown.append(reply_time(inst, f"nobody{i}@{DOMAIN}", f"wrong{i}"))
    k, u = statistics.median(known), statistics.median(unknown)
    assert k / 2 <= u <= k * 2, f"median known {k:.4f}s, unknown {u:.4f}s ({known} / {unknown})"
