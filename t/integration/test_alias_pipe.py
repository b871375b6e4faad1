"""aliases(5) "|command" targets (doc/operator.md, "Aliases"): the command runs exactly as
the aliases file writes it (a quoted command with spaces kept whole) through /bin/sh -c, as
default_privs (nobody: not root, not vmail), with Postfix's clean environment and the
message on standard input as local delivery writes it; EX_TEMPFAIL defers and a later
success delivers; a command that hangs is killed with its process group after
command_time_limit and the delivery deferred; other exit statuses bounce with the
command's output in the reason; commands from a table that allow_mail_to_commands does not
allow, or that others can write, bounce 5.7.1. Each delivery is logged by posthorn/local."""
import os
import pwd
import time

from alias_util import delivery_lines, script, send, wait_lines, work_dir, write_aliases
from conftest import DOMAIN, parse

ALICE = "alice@" + DOMAIN
NOBODY = pwd.getpwnam("nobody")


def test_command_environment_user_and_input(instance):
    instance.add_user(ALICE)
    out = work_dir(instance)
    dump = script(instance, "dump", f'''
{{ id -u; id -g; pwd; printf '%s\\n' "$1"; }} > {out}/id.$$
env > {out}/env.$$
cat > {out}/stdin.$$
''')
    # Quoted: one command with an argument holding a space and a comma.
    write_aliases(instance, f'pipe: "|{dump} \'two words, one arg\'"\n')
    instance.start()
    send(instance, [f"pipe+tag@{DOMAIN}"],
         b"Subject: to a command\r\nFrom: alice@example.test\r\n\r\nbody line\r\n")
    line = wait_lines(instance, lambda l: l["to"] == f"pipe+tag@{DOMAIN}")[0]
    assert line["prog"] == "posthorn/local", line
    assert (line["status"], line["dsn"]) == ("sent", "2.0.0"), line
    assert line["reason"] == f"delivered to command: {dump} 'two words, one arg'", line
    [ident] = [p for p in out.iterdir() if p.name.startswith("id.")]
    uid, gid, cwd, arg = ident.read_text().splitlines()
    assert (int(uid), int(gid)) == (NOBODY.pw_uid, NOBODY.pw_gid)
    assert cwd == "/"  # nobody's home does not exist
    assert arg == "two words, one arg"
    env = dict(l.split("=", 1) for l in next(out.glob("env.*")).read_text().splitlines())
    env.pop("PWD", None)  # the shell's own
    assert env == {
        "SENDER": ALICE, "RECIPIENT": f"pipe+tag@{DOMAIN}", "ORIGINAL_RECIPIENT": f"pipe+tag@{DOMAIN}",
        "LOCAL": "pipe+tag", "DOMAIN": DOMAIN, "EXTENSION": "tag", "HOME": NOBODY.pw_dir,
        "USER": "nobody", "LOGNAME": "nobody", "SHELL": "/bin/sh", "PATH": "/usr/bin:/bin",
    }, env
    stdin = next(out.glob("stdin.*")).read_bytes()
    assert stdin.startswith(b"Return-Path: <alice@example.test>\nDelivered-To: pipe+tag@example.test\n"), stdin
    msg = parse(stdin)
    assert msg["Subject"] == "to a command" and msg.get_payload() == "body line\n"


def test_tempfail_defers_then_delivers(instance):
    instance.add_user(ALICE)
    out = work_dir(instance)
    flaky = script(instance, "flaky", f'''
test -e {out}/ok || {{ echo "not yet, try later"; exit 75; }}
cat > {out}/got
''')
    write_aliases(instance, f"flaky@{DOMAIN}: |{flaky}\n")
    instance.start()
    send(instance, [f"flaky@{DOMAIN}"])
    deferred = wait_lines(instance, lambda l: l["to"] == f"flaky@{DOMAIN}")[0]
    assert (deferred["prog"], deferred["status"], deferred["dsn"]) == ("posthorn/local", "deferred", "4.3.0")
    assert deferred["reason"] == (f'command died with status 75 (temporary failure): "{flaky}". '
                                  "Command output: not yet, try later"), deferred
    assert instance.queue_files("deferred") or instance.queue_files("active")
    assert not (out / "got").exists()
    (out / "ok").touch()
    sent = wait_lines(instance, lambda l: l["to"] == f"flaky@{DOMAIN}" and l["status"] == "sent")
    assert sent[0]["reason"] == f"delivered to command: {flaky}"
    instance.wait_queue_empty()
    assert b"hello" in (out / "got").read_bytes()
    # one line per attempt, all under local; qmgr added none for this recipient
    lines = [l for l in delivery_lines(instance.log()) if l["to"] == f"flaky@{DOMAIN}"]
    assert {l["prog"] for l in lines} == {"posthorn/local"}, lines


def test_hanging_command_is_killed_and_deferred(instance):
    instance.add_user(ALICE)
    out = work_dir(instance)
    hang = script(instance, "hang", f'''
sleep 300 &
echo $$ $! > {out}/pids
wait
''')
    write_aliases(instance, f"hang@{DOMAIN}: |{hang}\n")
    instance.set_conf(command_time_limit="2s")
    instance.start()
    t0 = time.time()
    send(instance, [f"hang@{DOMAIN}"])
    line = wait_lines(instance, lambda l: l["to"] == f"hang@{DOMAIN}")[0]
    took = time.time() - t0
    assert (line["status"], line["dsn"]) == ("deferred", "4.3.0"), line
    assert line["reason"] == f'command time limit exceeded: "{hang}"', line
    assert 2 <= took < 15, took
    pids = [int(p) for p in (out / "pids").read_text().split()]
    time.sleep(0.5)
    for pid in pids:  # the shell and its background child: the whole group is gone
        assert not os.path.exists(f"/proc/{pid}") or \
            open(f"/proc/{pid}/stat").read().split()[2] == "Z", pid


def test_exit_status_bounces_with_output(instance):
    instance.add_user(ALICE)
    nouser = script(instance, "nouser", "echo 'no such list member'; echo second line >&2; exit 67\n")
    crash = script(instance, "crash", "exit 3\n")
    write_aliases(instance, f"nouser@{DOMAIN}: |{nouser}\ncrash@{DOMAIN}: |{crash}\n")
    instance.start()
    send(instance, [f"nouser@{DOMAIN}", f"crash@{DOMAIN}"])
    lines = {l["to"]: l for l in wait_lines(instance, lambda l: l["to"] in (f"nouser@{DOMAIN}", f"crash@{DOMAIN}"), 2)}
    assert (lines[f"nouser@{DOMAIN}"]["status"], lines[f"nouser@{DOMAIN}"]["dsn"]) == ("bounced", "5.1.1")
    assert lines[f"nouser@{DOMAIN}"]["reason"] == (
        f'command died with status 67 (user unknown): "{nouser}". '
        "Command output: no such list member second line")
    assert (lines[f"crash@{DOMAIN}"]["status"], lines[f"crash@{DOMAIN}"]["dsn"]) == ("bounced", "5.3.0")
    dsns = instance.wait_messages(ALICE, 1)
    assert b"no such list member" in dsns[0]


def test_commands_refused_where_not_allowed(instance):
    instance.add_user(ALICE)
    out = work_dir(instance)
    touch = script(instance, "touch", f"touch {out}/ran\n")
    path = write_aliases(instance, f"cmd@{DOMAIN}: |{touch}\n")
    # newaliases refuses the command once the parameter does not allow it ...
    instance.set_conf(allow_mail_to_commands="")
    p = instance.posthorn("newaliases", check=False)
    assert p.returncode != 0 and f"{path}:1: cmd@{DOMAIN}: \"|{touch}\": mail to commands is not allowed" in p.stderr
    # ... and local-mda refuses the one compiled before the change
    instance.start()
    send(instance, [f"cmd@{DOMAIN}"])
    line = wait_lines(instance, lambda l: l["to"] == f"cmd@{DOMAIN}")[0]
    assert (line["status"], line["dsn"]) == ("bounced", "5.7.1"), line
    assert "mail to command is restricted" in line["reason"]
    # allowed again, but the compiled table belongs to someone else: still refused
    instance.set_conf(allow_mail_to_commands="alias")
    instance.reload()
    os.chown(str(path) + ".lmdb", NOBODY.pw_uid, NOBODY.pw_gid)
    time.sleep(1.5)
    send(instance, [f"cmd@{DOMAIN}"])
    wait_lines(instance, lambda l: l["to"] == f"cmd@{DOMAIN}" and l["dsn"] == "5.7.1", 2)
    assert not (out / "ran").exists()
