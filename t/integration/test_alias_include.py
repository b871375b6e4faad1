"""aliases(5) local-part keys and :include: files (doc/operator.md, "Aliases"): "root:"
applies in every domain of ours (unqualified targets get @$myorigin), never hides a mailbox
or an address key, and only in alias_local_part_domains when that is set; an :include:
file adds its members (commands in it only with "include" in allow_mail_to_commands), must
be owned by root and writable by no one else, and including itself is a loop (5.4.6).
Every member gets its own posthorn/local line with orig_to=<the address mailed>."""
import os
import pwd

from alias_util import script, send, wait_lines, work_dir, write_aliases
from conftest import DOMAIN

OTHER = "second.test"
NOBODY = pwd.getpwnam("nobody")


def lines_for(inst, orig, count):
    found = wait_lines(inst, lambda l: (l["orig"] or l["to"]) == orig, count)
    return sorted((l["to"], l["status"], l["reason"]) for l in found)


def test_local_part_keys_in_every_domain(instance):
    instance.posthorn("domain", "add", OTHER)
    for u in ("alice", "bob", "info"):
        instance.add_user(f"{u}@{DOMAIN}")
    instance.add_user(f"info@{OTHER}")
    write_aliases(instance, "root: alice, \\bob\ninfo: alice\n"
                            f"postmaster@{OTHER}: bob@{DOMAIN}\npostmaster: root\n")
    instance.start()
    send(instance, [f"root@{DOMAIN}", f"Root@{OTHER}", f"postmaster@{DOMAIN}", f"postmaster@{OTHER}",
                    f"info@{OTHER}"])
    both = [(f"alice@{DOMAIN}", "sent", "delivered to maildir"), (f"bob@{DOMAIN}", "sent", "delivered to maildir")]
    assert lines_for(instance, f"root@{DOMAIN}", 2) == both
    assert lines_for(instance, f"Root@{OTHER}", 2) == both
    assert lines_for(instance, f"postmaster@{DOMAIN}", 2) == both  # postmaster -> root -> ...
    assert lines_for(instance, f"postmaster@{OTHER}", 1) == [(f"bob@{DOMAIN}", "sent", "delivered to maildir")]
    # info@second.test is a mailbox: the local-part key does not take its mail
    assert lines_for(instance, f"info@{OTHER}", 1) == [(f"info@{OTHER}", "sent", "delivered to maildir")]
    instance.wait_messages(f"alice@{DOMAIN}", 1)
    assert len(instance.wait_messages(f"bob@{DOMAIN}", 1)) == 1  # one copy per message and mailbox
    assert len(instance.messages(f"info@{OTHER}")) == 1


def test_local_part_keys_restricted_to_listed_domains(instance):
    instance.posthorn("domain", "add", OTHER)
    instance.add_user(f"alice@{DOMAIN}")
    write_aliases(instance, "root: alice\n")
    instance.set_conf(alias_local_part_domains=DOMAIN)
    instance.start()
    send(instance, [f"root@{DOMAIN}"])
    assert lines_for(instance, f"root@{DOMAIN}", 1) == [(f"alice@{DOMAIN}", "sent", "delivered to maildir")]
    import smtplib
    with smtplib.SMTP("127.0.0.1", instance.ports["smtp"], timeout=30) as c:
        c.ehlo()
        c.mail(f"alice@{DOMAIN}")
        code, _ = c.rcpt(f"root@{OTHER}")
        assert code == 550, code  # not an alias there: an unknown user


def test_include_files(instance):
    for u in ("alice", "bob", "carol"):
        instance.add_user(f"{u}@{DOMAIN}")
    out = work_dir(instance)
    tee = script(instance, "tee", f"cat > {out}/from-include\n")
    inc = instance.root / "list.inc"
    inc.write_text(f"# the list\nbob, carol\n\n  alice@{DOMAIN}\n")
    cmds = instance.root / "cmds.inc"
    cmds.write_text(f'"|{tee}"\n')
    loop = instance.root / "loop.inc"
    loop.write_text(f"bob, :include:{loop}\n")
    theirs = instance.root / "theirs.inc"
    theirs.write_text("bob\n")
    os.chown(theirs, NOBODY.pw_uid, NOBODY.pw_gid)
    write_aliases(instance, f"list@{DOMAIN}: :include:{inc}\ncmds@{DOMAIN}: :include:{cmds}\n"
                            f"loop@{DOMAIN}: :include:{loop}\ntheirs@{DOMAIN}: :include:{theirs}\n")
    instance.start()
    send(instance, [f"list@{DOMAIN}", f"cmds@{DOMAIN}", f"loop@{DOMAIN}", f"theirs@{DOMAIN}"])
    assert lines_for(instance, f"list@{DOMAIN}", 3) == [
        (f"{u}@{DOMAIN}", "sent", "delivered to maildir") for u in ("alice", "bob", "carol")]
    [cmd] = lines_for(instance, f"cmds@{DOMAIN}", 1)
    assert cmd[1] == "bounced" and "mail to command is restricted" in cmd[2], cmd  # default: alias only
    [looped] = lines_for(instance, f"loop@{DOMAIN}", 1)
    assert looped == (f"loop@{DOMAIN}", "bounced", f"alias loop: :include:{loop}"), looped
    # deferred, and retried every queue_run_delay (1s here): one line or more by now
    others = lines_for(instance, f"theirs@{DOMAIN}", 1)
    assert all(o[1] == "deferred" and "not owned by root" in o[2] for o in others), others
    # with include allowed, the command in the include file runs
    instance.set_conf(allow_mail_to_commands="alias, include")
    instance.reload()
    send(instance, [f"cmds@{DOMAIN}"])
    wait_lines(instance, lambda l: l["to"] == f"cmds@{DOMAIN}" and l["status"] == "sent")
    assert b"Delivered-To: cmds@example.test" in (out / "from-include").read_bytes()
