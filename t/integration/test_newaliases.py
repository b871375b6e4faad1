"""newaliases checks every line of the aliases file (doc/operator.md, "Aliases"): each bad
entry is reported as FILE:LINE: reason (a line without ':', an empty or bad name, bad
addresses, unterminated quotes and brackets, empty commands, relative include paths,
Maildir targets, commands and files the configuration does not allow, a source others can
write), the exit status is non-zero, and the compiled table is left as it was. The
sendmail front end (-bi) and `posthorn map build` of the same file check the same way."""
import os
import subprocess

from conftest import BIN, DOMAIN

GOOD = f"root: alice\npostmaster@{DOMAIN}: root\n"
BAD = f"""# every kind of mistake, one per line
root: alice
noColon alice
: empty name
bad@: alice
list@{DOMAIN}: alice, "|/usr/bin/procmail -a
list2@{DOMAIN}: <alice@{DOMAIN}
list3@{DOMAIN}: alice@@{DOMAIN}
list4@{DOMAIN}: |
list5@{DOMAIN}: :include:relative/file
list6@{DOMAIN}: /var/mail/maildir/
ok@{DOMAIN}: "|/bin/cat -n", /tmp/x.mbox,
  bob
"""
ERRORS = [
    "3: missing ':' after the name (\"noColon\")",
    "4: empty name",
    "5: not an address, a local part or \"@domain\" (\"bad@\")",
    f"6: list@{DOMAIN}: unterminated quoted string",
    f"7: list2@{DOMAIN}: '<' without '>'",
    f"8: list3@{DOMAIN}: \"alice@@{DOMAIN}\" is not a valid address",
    f"9: list4@{DOMAIN}: empty command",
    f"10: list5@{DOMAIN}: \":include:relative/file\": an include file needs an absolute path",
    f"11: list6@{DOMAIN}: \"/var/mail/maildir/\": a directory (Maildir) is not a file target",
]


def errors_of(stderr, path):
    """The "FILE:LINE: ..." reports, each after the program's name ("posthorn: ",
    "sendmail: ")."""
    out = []
    for l in stderr.splitlines():
        prog, sep, rest = l.partition(": ")
        assert sep and " " not in prog, l  # every line names its program
        if rest.startswith(f"{path}:"):
            out.append(rest[len(str(path)) + 1:])
    return out


def test_every_bad_line_is_reported_and_nothing_written(instance):
    path = instance.etc / "aliases"
    path.write_text(GOOD)
    instance.posthorn("newaliases")
    lmdb = instance.etc / "aliases.lmdb"
    before = lmdb.stat()
    path.write_text(BAD)
    p = instance.posthorn("newaliases", check=False)
    assert p.returncode == 1, p
    assert errors_of(p.stderr, path) == ERRORS, p.stderr
    after = lmdb.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert not [f for f in os.listdir(instance.etc) if ".tmp." in f]
    q = instance.posthorn("map", "query", f"lmdb:{path}", "noColon", check=False)
    assert q.returncode == 1  # the old table is still the one in use
    # the same checks through posthorn map build and sendmail -bi
    p2 = instance.posthorn("map", "build", str(path), check=False)
    assert p2.returncode == 1 and errors_of(p2.stderr, path) == ERRORS
    p3 = subprocess.run([str(BIN / "posthorn"), "-c", str(instance.etc), "sendmail", "-bi"],
                        capture_output=True, text=True, timeout=60)
    assert p3.returncode != 0 and errors_of(p3.stderr, path) == ERRORS, p3


def test_commands_and_files_need_permission_and_a_private_source(instance):
    path = instance.etc / "aliases"
    path.write_text(f'ok@{DOMAIN}: "|/bin/cat -n", /tmp/x.mbox\n')
    os.chmod(path, 0o644)
    instance.posthorn("newaliases")
    instance.set_conf(allow_mail_to_commands="", allow_mail_to_files="include")
    p = instance.posthorn("newaliases", check=False)
    assert p.returncode == 1
    assert errors_of(p.stderr, path) == [
        f"1: ok@{DOMAIN}: \"|/bin/cat -n\": mail to commands is not allowed (allow_mail_to_commands)",
        f"1: ok@{DOMAIN}: \"/tmp/x.mbox\": mail to files is not allowed (allow_mail_to_files)"], p.stderr
    instance.set_conf(allow_mail_to_commands="alias", allow_mail_to_files="alias")
    os.chmod(path, 0o664)
    p = instance.posthorn("newaliases", check=False)
    assert p.returncode == 1 and "writable by group or others" in p.stderr, p.stderr
    os.chmod(path, 0o644)
    instance.posthorn("newaliases")
