"""A logged-in raw IMAP session for the extension tests (SORT, THREAD, SEARCHRES,
LIST-EXTENDED, MULTIAPPEND): exact commands and replies, messages appended with chosen
dates, on top of test_imap.Raw."""
import re
import time

from test_imap import ALICE, Raw


class Session(Raw):
    def __init__(self, inst, user=ALICE, password="secret"):
        super().__init__(inst)
        self.n = 0
        tagged = self.cmd(f"LOGIN {user} {password}")[1]
        assert tagged.startswith(b"OK"), tagged

    def cmd(self, line):
        """Send one command; (untagged lines without "* " and CRLF, tagged status line)."""
        self.n += 1
        tag = f"t{self.n}"
        self.send(f"{tag} {line}\r\n".encode() if isinstance(line, str) else tag.encode() + b" " + line + b"\r\n")
        lines = self.until(tag)
        untagged = [l[2:].rstrip(b"\r\n") for l in lines[:-1] if l.startswith(b"* ")]
        return untagged, lines[-1][len(tag) + 1:].rstrip(b"\r\n")

    def ok(self, line):
        untagged, tagged = self.cmd(line)
        assert tagged.startswith(b"OK"), (line, tagged, untagged)
        return untagged

    def one(self, line, name):
        """The single untagged NAME response of a command that must succeed (its data)."""
        got = [u for u in self.ok(line) if u.split(b" ")[0].upper() == name.encode()]
        assert len(got) == 1, (line, got)
        return got[0][len(name) + 1:]

    def append(self, box, message, date=None, flags=None):
        """APPEND with LITERAL+; returns the UID from APPENDUID."""
        data = message.encode() if isinstance(message, str) else message
        opts = (f" ({flags})" if flags else "") + (f' "{date}"' if date else "")
        tagged = self.cmd(f"APPEND {box}{opts} {{{len(data)}+}}\r\n".encode() + data)[1]
        m = re.match(rb"OK \[APPENDUID \d+ (\d+)\]", tagged)
        assert m, tagged
        return int(m.group(1))


def numbers(data):
    """b"1 2 3" -> [1, 2, 3]."""
    return [int(x) for x in data.split()]


def one_mailbox_process(instance):
    """master.cf with a single imapd-mailbox process, so that every session shares its event
    loop and worker threads (the tests of work done off the loop)."""
    mcf = instance.etc / "master.cf"
    text, n = re.subn(r"^(imap-mailbox(?:\s+\S+){5}\s+)\d+", r"\g<1>1", mcf.read_text(), flags=re.M)
    assert n == 1
    mcf.write_text(text)


def timed(fn, *args):
    """(fn(*args), the seconds it took)."""
    t0 = time.monotonic()
    r = fn(*args)
    return r, time.monotonic() - t0

