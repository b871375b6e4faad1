"""The manual pages (man/, doc/operator.md "Manual pages"): the build makes posthorn(8),
main.cf(5) from the parameter tables and a page per daemon under build/share/man; each
renders with man-db and groff without a warning; main.cf(5) lists every parameter `posthorn
conf -d` knows with its default; `cmake --install` puts the pages under share/man, where
man finds them, and the systemd unit under lib/systemd/system."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN, POSTHORN

BUILD = BIN.parent
MAN = BUILD / "share" / "man"
MAN_PROG = shutil.which("man")
DAEMONS = ["master", "smtpd", "submission", "qmgr", "local-mda", "smtp-client", "pop3d",
           "imapd", "anvil", "dkim-signer"]

pytestmark = pytest.mark.skipif(not MAN_PROG, reason="man-db is not installed (t/deps)")


def render(path):
    """(text, warnings) of `man --warnings -l` at 80 columns."""
    env = dict(os.environ, MANWIDTH="80", LANG="C.UTF-8")
    p = subprocess.run([MAN_PROG, "--warnings", "-l", str(path)], capture_output=True, env=env,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return re.sub(".\x08", "", p.stdout.decode()), p.stderr.decode()  # overstrike to plain


def pages():
    return sorted(MAN.glob("man5/*.5")) + sorted(MAN.glob("man8/*.8"))


def test_every_page_is_built():
    names = {p.name for p in pages()}
    assert names == {"main.cf.5", "posthorn.8"} | {f"posthorn-{d}.8" for d in DAEMONS}, names


@pytest.mark.parametrize("name", ["main.cf.5", "posthorn.8"] + [f"posthorn-{d}.8" for d in DAEMONS])
def test_page_renders_without_warnings(name):
    path = next(p for p in pages() if p.name == name)
    text, warnings = render(path)
    assert warnings == "", warnings
    assert "NAME" in text and "SEE ALSO" in text, text[:500]
    assert not re.search(r"@[A-Z_]+@", text), "an unsubstituted @VARIABLE@"


def test_a_broken_page_is_caught(tmp_path):
    bad = tmp_path / "bad.8"
    bad.write_text(".TH BAD 8\n.SH NAME\nbad \\- broken\n.XY what\n")
    _, warnings = render(bad)
    assert "warning" in warnings


def test_main_cf_page_lists_every_parameter():
    text, _ = render(MAN / "man5" / "main.cf.5")
    defaults = subprocess.run([POSTHORN, "conf", "-d"], capture_output=True, text=True,
                              check=True).stdout
    params = re.findall(r"^(\w+) = (.*)$", defaults, re.M)
    assert len(params) > 100
    # One line: words groff hyphenated joined again, breaks after a hyphen closed up.
    flat = re.sub(r"\u2010\n\s*", "", text)
    flat = re.sub(r"\s+", " ", re.sub(r"-\n\s*", "-", flat))
    for name, default in params:
        shown = default if default else "(empty)"
        assert f"{name} = {shown}" in flat, (name, shown)


def test_install_puts_pages_and_unit_in_place(tmp_path):
    p = subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (tmp_path / "lib/systemd/system/posthorn.service").is_file()
    for page in ["man5/main.cf.5", "man8/posthorn.8", "man8/posthorn-smtpd.8"]:
        assert (tmp_path / "share/man" / page).is_file(), page
    where = subprocess.run([MAN_PROG, "-M", str(tmp_path / "share/man"), "-w", "5", "main.cf"],
                           capture_output=True, text=True, timeout=60)
    assert where.stdout.strip() == str(tmp_path / "share/man/man5/main.cf.5"), where
