"""UTF8=ACCEPT (RFC 6855, doc/imapd.md): announced; after ENABLE UTF8=ACCEPT mailbox names go
both ways in UTF-8 (a rev1 session without it still sees modified UTF-7), APPEND's UTF8
data item stores a message with UTF-8 header fields that ENVELOPE then shows in UTF-8,
SEARCH finds it by its UTF-8 subject, and SEARCH with a CHARSET and SORT with any charset but
UTF-8 get BAD (RFC 6855 sec 3 with erratum 4029)."""
from test_imap import Raw, start
from test_pop3 import ALICE

NAME = "Überweisungen"
MESSAGE = ("From: Jürgen <juergen@example.test>\r\nSubject: Grüße aus Köln\r\n"
           "Message-ID: <utf8@example.test>\r\n\r\nHallo\r\n").encode()


def session(inst, enable=True):
    r = Raw(inst, tls=True)
    r.send(f"a LOGIN {ALICE} secret\r\n")
    caps = b"".join(r.until("a"))
    assert b"UTF8=ACCEPT" in caps
    if enable:
        r.send("b ENABLE UTF8=ACCEPT\r\n")
        out = b"".join(r.until("b"))
        assert b"* ENABLED UTF8=ACCEPT" in out, out
    return r


def cmd(r, tag, text):
    r.send(tag.encode() + b" " + (text if isinstance(text, bytes) else text.encode()) + b"\r\n")
    return b"".join(r.until(tag))


def test_utf8_names_append_and_search(instance):
    inst = start(instance)
    r = session(inst)
    assert b"c OK" in cmd(r, "c", f'CREATE "{NAME}"'.encode())
    listing = cmd(r, "d", 'LIST "" "*"')
    assert f'"{NAME}"'.encode() in listing, listing
    r.send(f'e APPEND "{NAME}" UTF8 (~{{{len(MESSAGE)}+}}\r\n'.encode() + MESSAGE + b")\r\n")
    out = b"".join(r.until("e"))
    assert b"e OK" in out, out
    assert b"f OK" in cmd(r, "f", f'SELECT "{NAME}"'.encode())
    env = cmd(r, "g", "FETCH 1 ENVELOPE")
    assert "Grüße aus Köln".encode() in env, env
    found = cmd(r, "h", 'SEARCH SUBJECT "Grüße"'.encode())
    assert b"* SEARCH 1" in found or b"ALL 1" in found, found
    assert cmd(r, "i", "SEARCH CHARSET UTF-8 ALL").splitlines()[-1].startswith(b"i BAD")
    assert cmd(r, "j", "SORT (SUBJECT) ISO-8859-1 ALL").splitlines()[-1].startswith(b"j BAD")
    assert b"k OK" in cmd(r, "k", "SORT (SUBJECT) UTF-8 ALL")
    r.close()
    # A rev1 session that did not enable it sees the name in modified UTF-7 (RFC 3501 5.1.3).
    r = session(inst, enable=False)
    listing = cmd(r, "c", 'LIST "" "*"')
    assert b"&ANw-berweisungen" in listing and NAME.encode() not in listing, listing
    assert b"d OK" in cmd(r, "d", "SELECT &ANw-berweisungen")
    assert b"e OK" in cmd(r, "e", "SEARCH CHARSET UTF-8 ALL")  # without UTF8=ACCEPT: allowed
    r.close()
