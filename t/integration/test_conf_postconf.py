"""`posthorn conf` takes postconf(1)'s flags with postconf's output (doc/operator.md), so a
Postfix admin's scripts work: values as written unless -x expands them, -n sorted, -e edits,
-# comments out, -M prints master.cf in postconf -M's columns (compared with Debian's own
postconf on the same master.cf when Postfix is installed), -m lists the map types, and an
unknown name is a warning with exit status 0."""
import shutil
import subprocess

import pytest


def conf(inst, *args, check=True):
    return inst.posthorn("conf", *args, check=check)


def test_values_raw_expanded_and_unknown(instance):
    conf(instance, "-e", "mydomain = example.test", "myorigin = $mydomain")
    assert conf(instance, "-h", "myorigin").stdout == "$mydomain\n"
    assert conf(instance, "-xh", "myorigin").stdout == "example.test\n"
    assert conf(instance, "-x", "myorigin").stdout == "myorigin = example.test\n"
    p = conf(instance, "no_such_parameter", "myorigin", check=False)
    assert p.returncode == 0
    assert "warning: no_such_parameter: unknown parameter" in p.stderr
    assert p.stdout == "myorigin = $mydomain\n"


def test_local_names_and_expanded_defaults(instance):
    """Names starting with local_ are the admin's own (doc/operator.md): -e writes them and
    $local_x expands; -xd expands the defaults as postconf -xd does."""
    conf(instance, "-e", "local_site=mail.site.test", "myhostname=$local_site")
    assert conf(instance, "-xh", "myhostname").stdout == "mail.site.test\n"
    assert "local_site = mail.site.test" in conf(instance, "-n").stdout or \
        "local_site = mail.site.test" in (instance.etc / "main.cf").read_text()
    assert conf(instance, "-dh", "myorigin").stdout == "$myhostname\n"
    expanded = conf(instance, "-xdh", "myorigin").stdout
    assert expanded and "$" not in expanded


def test_n_is_sorted_and_hash_comments_out(instance):
    conf(instance, "-e", "queue_run_delay=7s")
    names = [line.split(" = ")[0] for line in conf(instance, "-n").stdout.splitlines()]
    assert names == sorted(names) and "queue_run_delay" in names
    conf(instance, "-#", "queue_run_delay")
    assert "queue_run_delay" not in conf(instance, "-n").stdout
    main_cf = (instance.etc / "main.cf").read_text()
    assert "#queue_run_delay = 7s" in main_cf
    assert conf(instance, "-xh", "queue_run_delay").stdout != "7s\n"  # the default again
    p = conf(instance, "-e", "no_such_parameter=1", check=False)
    assert p.returncode != 0 and "unknown parameter" in p.stderr


def test_master_entries_and_map_types(instance):
    out = conf(instance, "-M").stdout.splitlines()
    qmgr = [line for line in out if line.startswith("qmgr ")]
    assert len(qmgr) == 1 and qmgr[0].split()[1] == "unix"
    # Columns as postconf -M: 10, 5, then 7 characters, each followed by one space.
    assert qmgr[0][:11] == "qmgr".ljust(10) + " " and qmgr[0][11:17] == "unix  "
    one = conf(instance, "-M", "qmgr/unix").stdout
    assert one.splitlines() == qmgr
    assert conf(instance, "-M", "qmgr/inet").stdout == ""
    assert conf(instance, "-m").stdout == "lmdb\n"


def test_master_columns_match_postfix_postconf(instance, tmp_path):
    postconf = shutil.which("postconf")
    if not postconf:
        pytest.skip("Postfix's postconf is not installed")
    shutil.copy(instance.etc / "master.cf", tmp_path / "master.cf")
    (tmp_path / "main.cf").write_text("")
    theirs = subprocess.run([postconf, "-c", str(tmp_path), "-M"], capture_output=True, text=True)
    assert theirs.returncode == 0, theirs.stderr
    ours = conf(instance, "-M").stdout
    assert ours.splitlines() == theirs.stdout.splitlines()


def test_help_of_a_subcommand(instance):
    for sub in ("user", "queue", "conf", "domain"):
        p = instance.posthorn(sub, "--help", check=False)
        assert p.returncode == 0 and p.stdout.startswith("usage: posthorn"), (sub, p.stderr)
