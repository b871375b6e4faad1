"""Postfix's queue tools for admins' scripts, from libexec/posthorn/compat/ (bin/compat/ in the
build; doc/operator.md, "Postfix's queue tools"): postqueue -p/-j/-f/-i/-s and postsuper
-d/-h/-H/-r with IDs, ALL, "-" and queue names, against a queue with active, deferred and
held mail; their output lines and exit codes are Postfix's, and the pipelines of
postsuper(1)'s manual page work."""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import BIN, run
from queue_mix import (ALICE, BOB, COMPAT, as_nobody, env_for, hand_made, json_lines, mixed_queue,
                       need_root, send, wait_files)

POSTQUEUE, POSTSUPER = str(COMPAT / "postqueue"), str(COMPAT / "postsuper")


def tool(inst, *args, input=None):
    return run([*map(str, args)], env=env_for(inst), check=False, input=input)


def queues(inst):
    return {q: sorted(inst.queue_files(q)) for q in ("incoming", "active", "deferred", "hold")}


def test_compat_folder_holds_only_the_front_ends():
    assert sorted(p.name for p in COMPAT.iterdir()) == ["postqueue", "postsuper"]
    assert all((COMPAT / n).resolve() == (BIN / "posthorn").resolve() for n in ("postqueue", "postsuper"))


def test_postqueue_json_lines(instance):
    q = mixed_queue(instance)
    p = tool(instance, POSTQUEUE, "-j")
    assert p.returncode == 0 and p.stderr == ""
    objs = [json.loads(line) for line in p.stdout.splitlines()]
    assert all(list(o) == ["queue_name", "queue_id", "arrival_time", "message_size", "forced_expire",
                           "sender", "recipients"] for o in objs)
    by_id = {o["queue_id"]: o for o in objs}
    assert by_id[q["active"]]["queue_name"] == "active"
    assert by_id[q["active"]]["recipients"] == [{"address": BOB}, {"address": ALICE}]
    assert by_id[q["deferred"][0]]["recipients"] == [{"address": ALICE, "delay_reason": "mailbox full"}]
    assert by_id[q["held"][0]]["queue_name"] == "hold"
    assert by_id[q["bounce"]]["sender"] == "MAILER-DAEMON"
    assert by_id[q["bounce"]]["message_size"] == len(b"Subject: bounce\n\n") + 1501
    assert all(o["forced_expire"] is False and o["arrival_time"] > 1600000000 for o in objs)
    # postsuper(1)'s jq pipeline: delete the mail whose only recipient is bob (the bounce).
    if shutil.which("jq"):
        sh = (f"{POSTQUEUE} -j | jq -r 'select(.recipients[0].address == \"{BOB}\") "
              f"| select(.recipients[1].address == null) | .queue_id' | {POSTSUPER} -d -")
        p = subprocess.run(["sh", "-c", sh], env=env_for(instance), capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert p.stderr == f"postsuper: {q['bounce']}: removed\npostsuper: Deleted: 1 message\n"
        assert q["bounce"] not in instance.queue_files()


def test_postqueue_usage_and_refusals(instance):
    need_root()
    mixed_queue(instance)
    usage = ("postqueue: fatal: usage: postqueue -f | postqueue -i queueid | postqueue -j | "
             "postqueue -p | postqueue -s site\n")
    for args in ((), ("-p", "-j"), ("-f", "extra"), ("-x",)):
        p = tool(instance, POSTQUEUE, *args)
        assert p.returncode == 64 and p.stderr.endswith(usage), (args, p.returncode, p.stderr)
    p = tool(instance, POSTQUEUE, "-i", "../../etc/passwd")
    assert (p.returncode, p.stderr) == (64, 'postqueue: fatal: Cannot flush queue ID - invalid name: '
                                            '"../../etc/passwd"\n')
    p = tool(instance, POSTQUEUE, "-s", "bad site!")
    assert (p.returncode, p.stderr) == (64, 'postqueue: fatal: Cannot flush mail queue - invalid '
                                            'destination: "bad site!"\n')
    uid = int(subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout)
    for args in (("-i", instance.queue_files("deferred")[0]), ("-s", "example.test")):
        p = as_nobody(instance, POSTQUEUE, *args)
        assert (p.returncode, p.stderr) == (
            77, f"postqueue: fatal: User nobody({uid}) is not allowed to flush the mail queue\n"), args
    # -f is for everyone (Postfix's default authorized_flush_users), through pickup.
    p = as_nobody(instance, POSTQUEUE, "-f")
    assert (p.returncode, p.stderr) == (0, ""), p.stderr
    instance.wait_log(f"uid={uid}: flush requested")
    before = queues(instance)
    instance.stop()
    for args in (("-f",), ("-i", before["deferred"][0]), ("-s", "example.test")):
        p = tool(instance, POSTQUEUE, *args)
        assert (p.returncode, p.stderr.splitlines()[-1]) == (
            69, "postqueue: fatal: Cannot flush mail queue - mail system is down"), args
    assert queues(instance) == before


def test_postqueue_flushes(instance):
    """-s moves one destination's deferred mail to incoming, -i one message, -f all of it
    (through qmgr); qmgr delivers it at once."""
    q = mixed_queue(instance)
    d0 = q["deferred"][0]
    run([str(BIN / "sendmail"), "-f", "root@example.test", "far@remote.test"], input="Subject: far\n\nx\n",
        env=env_for(instance))
    instance.wait_log("no smtp transport")
    (far,) = [i for i in wait_files(instance, "deferred", 2) if i != d0]
    p = tool(instance, POSTQUEUE, "-s", "EXAMPLE.test")  # domains compare without case
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    instance.wait_log(f"{d0}: moved to incoming for delivery")
    wait_files(instance, "deferred", 2)  # tried again: still over quota
    log = instance.log()
    assert log.count(f"{d0}: to=<{ALICE}>") == 2
    assert f"{far}: moved" not in log and f"{q['held'][0]}: moved" not in log
    instance.posthorn("user", "quota", ALICE, "10m")
    p = tool(instance, POSTQUEUE, "-i", d0)
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    instance.wait_messages(ALICE, 2)
    assert instance.queue_files("deferred") == [far]
    p = tool(instance, POSTQUEUE, "-i", "6614BAD38FB4CEBAFB")  # in no queue: nothing to do
    assert (p.returncode, p.stderr) == (0, "")
    tries = instance.log().count(f"{far}: to=<far@remote.test>")
    p = tool(instance, POSTQUEUE, "-f")
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    deadline = time.time() + 30
    while instance.log().count(f"{far}: to=<far@remote.test>") == tries:
        assert time.time() < deadline, instance.log()[-3000:]
        time.sleep(0.1)


def test_postsuper_operations(instance):
    q = mixed_queue(instance)
    d0, (h0, bounce), act = q["deferred"][0], q["held"], q["active"]
    p = tool(instance, POSTSUPER, "-h", d0)
    assert (p.returncode, p.stderr) == (0, f"postsuper: {d0}: placed on hold\n"
                                           "postsuper: Placed on hold: 1 message\n")
    assert queues(instance)["hold"] == sorted([d0, h0, bounce])
    p = tool(instance, POSTSUPER, "-H", h0, "-H", d0)
    assert (p.returncode, p.stderr) == (0, f"postsuper: {h0}: released from hold\n"
                                           f"postsuper: {d0}: released from hold\n"
                                           "postsuper: Released from hold: 2 messages\n")
    wait_files(instance, "deferred", 2)  # delivered again, over quota again
    p = tool(instance, POSTSUPER, "-h", "ALL", "deferred")
    assert (p.returncode, p.stderr) == (0, "postsuper: Placed on hold: 2 messages\n")
    p = tool(instance, POSTSUPER, "-d", act)  # being delivered: left to qmgr
    assert p.returncode == 0 and p.stderr.endswith("postsuper: Deleted: 0 messages\n")
    assert f"postsuper: warning: {act}: in the active queue" in p.stderr
    # IDs from standard input: a bad one is warned about, one in no queue counts nothing.
    ids = f"{h0}\nnot-an-id\n6614BAD38FB4CEBAFB\n{bounce}\n"
    p = tool(instance, POSTSUPER, "-r", d0, "-d", "-", input=ids)
    assert p.returncode == 0
    assert p.stderr == (f"postsuper: {d0}: requeued\npostsuper: {h0}: removed\n"
                        "postsuper: warning: invalid mail queue id: not-an-id\n"
                        f"postsuper: {bounce}: removed\n"
                        "postsuper: Requeued: 1 message\npostsuper: Deleted: 2 messages\n")
    assert queues(instance)["hold"] == [] and act in queues(instance)["active"]
    wait_files(instance, "deferred", 1)
    extra = hand_made(instance, "hold", "x@remote.test", [BOB], b"Subject: x\n\nx\n")
    p = tool(instance, POSTSUPER, "-d", "ALL")  # d0 and extra; act is named, not deleted
    assert (p.returncode, p.stderr) == (0, f"postsuper: warning: {act}: in the active queue, being "
                                           "delivered: left alone (name the active queue with the "
                                           "mail system stopped)\npostsuper: Deleted: 2 messages\n")
    assert queues(instance) == {"incoming": [], "active": [act], "deferred": [], "hold": []}
    instance.wait_log(f"{extra}: removed")  # logged as by posthorn queue


def test_postsuper_refusals(instance):
    need_root()
    q = mixed_queue(instance)
    before = queues(instance)
    p = as_nobody(instance, POSTSUPER, "-d", "ALL")
    assert (p.returncode, p.stderr) == (1, "postsuper: fatal: use of this command is reserved for the superuser\n")
    p = tool(instance, POSTSUPER, "-d", "ALL", "bogus")
    assert (p.returncode, p.stderr) == (1, "postsuper: fatal: invalid directory name: bogus\n")
    p = tool(instance, POSTSUPER, "-d", "ALL", "active")  # qmgr's while the system runs
    assert p.returncode == 1 and "stop it first" in p.stderr
    for opt in ("-s", "-p", "-e"):
        p = tool(instance, POSTSUPER, opt, *(["ALL"] if opt == "-e" else []))
        assert p.returncode == 1 and "not supported" in p.stderr, (opt, p.stderr)
    p = tool(instance, POSTSUPER, "-x")
    assert p.returncode == 1 and "postsuper: fatal: usage: postsuper" in p.stderr
    assert queues(instance) == before
    # With the mail system stopped, active is the admin's: named, it is acted on.
    instance.stop()
    p = tool(instance, POSTSUPER, "-d", q["active"], "active")
    assert (p.returncode, p.stderr) == (0, f"postsuper: {q['active']}: removed\n"
                                           "postsuper: Deleted: 1 message\n")


def test_mailq_awk_pipeline_of_the_manual(instance):
    """postsuper(1)'s historical pipeline over mailq's text: delete the mail whose one
    recipient is alice (the deferred and the held message; the active one has two)."""
    q = mixed_queue(instance)
    sh = (f"{BIN / 'mailq'} | tail -n +2 | grep -v '^ *(' | awk 'BEGIN {{ RS = \"\" }} "
          f"{{ if ($8 == \"{ALICE}\" && $9 == \"\") print $1 }}' | tr -d '*!' | {POSTSUPER} -d -")
    p = subprocess.run(["sh", "-c", sh], env=env_for(instance), capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stderr.endswith("postsuper: Deleted: 2 messages\n"), p.stderr
    assert sorted(o["queue_id"] for o in json_lines(instance)) == sorted([q["active"], q["bounce"]])


@pytest.mark.parametrize("prog", ["postqueue", "postsuper"])
def test_config_option(instance, prog):
    """-c CONFIGDIR names the instance, as with Postfix, without POSTHORN_CONFIG."""
    mixed_queue(instance)
    args = ["-c", str(instance.etc)] + (["-p"] if prog == "postqueue" else ["-h", "ALL"])
    p = run([str(COMPAT / prog), *args], check=False,
            env=dict(os.environ, POSTHORN_CONFIG="/nonexistent"))
    assert p.returncode == 0, p.stderr
    if prog == "postqueue":
        assert p.stdout.startswith("----Queue ID-----")
    else:
        # the deferred one; the active one is named in a warning
        assert p.stderr.endswith("in the active queue, being delivered: left alone (name the active "
                                 "queue with the mail system stopped)\npostsuper: Placed on hold: 1 message\n")
