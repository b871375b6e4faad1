"""imaptest_tool.py - Dovecot's imaptest as the project uses it, shared by t/imaptest/run (the
compliance and stress tests) and bench/lib/imap_stress.py (the IMAP stress figures):

  binary(prefix)            PREFIX/bin/imaptest, built with ../shared/tools/build-imaptest
                            when missing; (None, None) when those tools are not there
  stress_mbox(tests, path)  the mbox for stress mode: imaptest's test mailboxes, with
                            unique Message-IDs
  totals(output)            the per-command counts of imaptest's "Totals:" block
  problems(output)          the error and protocol-violation lines of a stress run

Standard library only (Debian's /usr/bin/python3)."""
import collections
import re
import subprocess
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
TOOLS = TOP.parent / "shared" / "tools"


def binary(prefix, tools=TOOLS):
    """(PREFIX/bin/imaptest, PREFIX/tests), building them first when missing; (None, None)
    when the build script is not there. Raises RuntimeError when the build fails."""
    prefix = Path(prefix).resolve()  # configure wants an absolute --prefix
    exe = prefix / "bin" / "imaptest"
    if exe.exists():
        return exe, prefix / "tests"
    script = Path(tools) / "build-imaptest"
    if not script.exists():
        return None, None
    r = subprocess.run([str(script), str(prefix)], capture_output=True, text=True, timeout=1800)
    if r.returncode != 0 or not exe.exists():
        raise RuntimeError(f"building imaptest failed:\n{r.stdout}{r.stderr}")
    return exe, prefix / "tests"


def unique_message_ids(data):
    """The mbox with the 2nd, 3rd ... use of a Message-ID renamed (<a@b> -> <a.dup2@b>):
    imaptest keys its checks of each message (ENVELOPE, sizes, header values) by Message-ID,
    and its test mailboxes reuse a few, which makes any server fail (Dovecot too)."""
    parts = re.split(rb"(?m)^(From .*\n)", data)
    out, seen = [parts[0]], collections.Counter()

    def rename(m):
        mid = m.group(2)
        seen[mid] += 1
        return m.group(1) + (mid.replace(b"@", b".dup%d@" % seen[mid], 1) if seen[mid] > 1 else mid)

    for i in range(1, len(parts), 2):
        header, sep, body = parts[i + 1].partition(b"\n\n")
        out += [parts[i], re.sub(rb"(?im)^(message-id:\s*)(<[^>]*>)", rename, header) + sep + body]
    return b"".join(out)


def stress_mbox(tests, path):
    """Write the stress-mode mbox (every *.mbox of imaptest's tests, in name order, with
    unique Message-IDs) to path; returns path."""
    path = Path(path)
    path.write_bytes(unique_message_ids(b"".join(p.read_bytes()
                                                 for p in sorted(Path(tests).glob("*.mbox")))))
    return path


def totals(output):
    """{"Logi": n, "Sele": n, ...} from the block after the last "Totals:" line: a line of
    short command names, then (after the probability lines) a line of as many numbers.
    Empty when there is no such block."""
    lines = output[output.rfind("Totals:"):].splitlines()[1:] if "Totals:" in output else []
    if not lines:
        return {}
    names = lines[0].split()
    for line in lines[1:]:
        fields = line.split()
        if len(fields) == len(names) and all(f.isdigit() for f in fields):
            return dict(zip(names, map(int, fields)))
    return {}


def problems(output):
    """The lines of an imaptest run that report an error or a protocol violation."""
    return [line for line in output.splitlines()
            if line.startswith(("Error:", "Panic:", "Fatal:")) or "protocol violation" in line.lower()]
