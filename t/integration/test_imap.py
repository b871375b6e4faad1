"""imapd end to end (doc/imapd.md) with Python's imaplib and raw sockets: logins on 143 and 993
and their refusals, the login limits shared with POP3 through anvil, commands pipelined behind
LOGIN, literals, SELECT/FETCH/STORE/EXPUNGE/SEARCH/STATUS/LIST, IDLE told of a delivery within a
second, and the same message byte-identical over IMAP and POP3."""
import imaplib
import poplib
import re
import socket
import ssl
import time

import pytest

from conftest import DOMAIN
from test_pop3 import ALICE, BOB, deliver, start_pop3, tls_context


def start(instance, **conf):
    settings = {"login_allow_plaintext_auth": "yes"}
    settings.update(conf)
    inst = start_pop3(instance, **settings)
    inst.wait_port(inst.ports["imap"])
    inst.wait_port(inst.ports["imaps"])
    return inst


@pytest.fixture
def imap(instance):
    return start(instance)


def message(i, body=None):
    return (f"From: Sender <sender@remote.test>\r\nTo: {ALICE}\r\nSubject: message {i}\r\n"
            f"Message-ID: <m{i}@remote.test>\r\n\r\n{body or f'body of message {i}'}\r\n").encode()


def connect(inst):
    return imaplib.IMAP4("127.0.0.1", inst.ports["imap"])


class Raw:
    """A raw IMAP connection, for exact bytes."""

    def __init__(self, inst, tls=False, rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(30)
        if rcvbuf:  # a small window makes the server's writes block early
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.connect(("127.0.0.1", inst.ports["imaps" if tls else "imap"]))
        self.sock = tls_context().wrap_socket(s) if tls else s
        self.f = self.sock.makefile("rb")
        self.greeting = self.line()

    def line(self):
        return self.f.readline(1000000)

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def until(self, tag):
        """Lines up to and including the tagged reply of tag."""
        out = []
        while True:
            line = self.line()
            assert line, f"connection closed; got {out}"
            out.append(line)
            if line.startswith(tag.encode() + b" "):
                return out

    def close(self):
        self.f.close()
        self.sock.close()


def test_new_user_selects_an_empty_inbox(imap):
    imap.add_user(f"dora@{DOMAIN}")
    m = connect(imap)
    m.login(f"dora@{DOMAIN}", "secret")
    assert m.select("INBOX") == ("OK", [b"0"])
    assert m.search(None, "ALL") == ("OK", [b""])
    m.logout()


def test_greeting_capabilities_and_plaintext_policy(instance):
    inst = start(instance, login_allow_plaintext_auth="no")
    r = Raw(inst)
    assert re.match(rb"^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 .*STARTTLS.*LOGINDISABLED\] ", r.greeting), r.greeting
    r.send("a LOGIN alice secret\r\n")
    assert r.until("a")[-1].startswith(b"a NO [PRIVACYREQUIRED]")
    r.send("b STARTTLS\r\n")
    assert r.until("b")[-1].startswith(b"b OK")
    r.sock = tls_context().wrap_socket(r.sock)
    r.f = r.sock.makefile("rb")
    r.send("c CAPABILITY\r\n")
    caps = r.until("c")
    assert b"AUTH=PLAIN" in caps[0] and b"STARTTLS" not in caps[0] and b"LOGINDISABLED" not in caps[0]
    r.send(f"d LOGIN {ALICE} secret\r\n")
    ok = r.until("d")[-1]
    assert ok.startswith(b"d OK [CAPABILITY IMAP4rev1") and b"IDLE" in ok, ok
    r.close()
    # Implicit TLS on 993.
    m = imaplib.IMAP4_SSL("127.0.0.1", inst.ports["imaps"], ssl_context=tls_context())
    assert m.login(ALICE, "secret")[0] == "OK"
    m.logout()


def test_wrong_password_and_authenticate(imap):
    m = connect(imap)
    with pytest.raises(imaplib.IMAP4.error, match=r"AUTHENTICATIONFAILED"):
        m.login(ALICE, "wrong")
    m.authenticate("PLAIN", lambda _: f"\0{ALICE}\0secret".encode())
    assert m.state == "AUTH"
    m.logout()
    # SASL-IR (RFC 4959) and a literal password with a space and a quote in it.
    imap.add_user(f"carol@{DOMAIN}", password='pa ss"word')
    r = Raw(imap)
    r.send(f"x LOGIN carol@{DOMAIN} {{10}}\r\n")
    assert r.line() == b"+ OK\r\n"
    r.send(b'pa ss"word\r\n')
    assert r.until("x")[-1].startswith(b"x OK")
    r.close()
    r = Raw(imap)
    r.send(f"y LOGIN {{{len(ALICE)}+}}\r\n{ALICE} secret\r\n")  # LITERAL+: no continuation
    assert r.until("y")[-1].startswith(b"y OK")
    r.close()


def test_commands_pipelined_behind_login_are_served(imap):
    deliver(imap, ALICE, [message(1)])
    r = Raw(imap)
    r.send(f"a LOGIN {ALICE} secret\r\nb SELECT INBOX\r\nc UID FETCH 1:* (FLAGS)\r\nd LOGOUT\r\n")
    lines = r.until("d")
    text = b"".join(lines)
    assert b"a OK" in text and b"* 1 EXISTS" in text and b"b OK [READ-WRITE]" in text, text
    assert re.search(rb"\* 1 FETCH \(FLAGS \((\\Recent)?\) UID 1\)", text), text
    r.close()


def deliver_each(inst, n):
    """One at a time, so UIDs follow the message numbers."""
    for i in range(1, n + 1):
        deliver(inst, ALICE, [message(i)])


def test_select_fetch_store_expunge(imap):
    deliver_each(imap, 3)
    m = connect(imap)
    m.login(ALICE, "secret")
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"3"]
    typ, data = m.fetch("2", "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert data[0][1] == b"Subject: message 2\r\n\r\n"
    size = int(re.search(rb"RFC822.SIZE (\d+)", data[0][0]).group(1))
    typ, data = m.fetch("2", "(BODY[])")
    body = data[0][1]
    assert len(body) == size and body.endswith(b"body of message 2\r\n")
    # BODY[] (not PEEK) set \Seen.
    assert m.fetch("2", "(FLAGS)")[1][0] == b"2 (FLAGS (\\Seen \\Recent))"
    assert m.search(None, "UNSEEN") == ("OK", [b"1 3"])
    assert m.search(None, "SUBJECT", '"message 3"') == ("OK", [b"3"])
    assert m.uid("SEARCH", "BODY", "message 1") == ("OK", [b"1"])
    # Partial fetch counts CRLF octets.
    typ, data = m.fetch("1", "(BODY.PEEK[]<0.10>)")
    assert data[0][1] == body.replace(b"message 2", b"message 1")[:10] or len(data[0][1]) == 10
    m.store("1", "+FLAGS", "(\\Deleted)")
    typ, data = m.expunge()
    assert data == [b"1"]
    assert m.search(None, "ALL") == ("OK", [b"1 2"])
    assert m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)")[1] == [b'"INBOX" (MESSAGES 2 UNSEEN 1 UIDNEXT 4)']
    m.close()
    m.logout()
    # The expunge removed the message from the store: POP3 sees two.
    p = poplib.POP3("127.0.0.1", imap.ports["pop3"])
    p.user(ALICE)
    p.pass_("secret")
    assert p.stat()[0] == 2
    p.quit()


def test_same_bytes_over_imap_and_pop3(imap):
    original = message(7, body="line one\r\n.starts with a dot\r\n\r\nlast")
    deliver(imap, ALICE, [original])
    m = connect(imap)
    m.login(ALICE, "secret")
    m.select("INBOX", readonly=True)
    imap_bytes = m.fetch("1", "(BODY.PEEK[])")[1][0][1]
    m.logout()
    p = poplib.POP3("127.0.0.1", imap.ports["pop3"])
    p.user(ALICE)
    p.pass_("secret")
    pop_bytes = b"\r\n".join(p.retr(1)[1]) + b"\r\n"
    p.quit()
    assert imap_bytes == pop_bytes
    assert imap_bytes.endswith(original)  # after our trace headers, exactly what was sent


def test_idle_sees_a_delivery_within_a_second(imap):
    deliver(imap, ALICE, [message(1)])
    r = Raw(imap)
    r.send(f"a LOGIN {ALICE} secret\r\nb SELECT INBOX\r\n")
    r.until("b")
    r.send("c IDLE\r\n")
    assert r.line() == b"+ idling\r\n"
    t = time.monotonic()
    deliver(imap, ALICE, [message(2)])
    r.sock.settimeout(5)
    assert r.line() == b"* 2 EXISTS\r\n"
    assert time.monotonic() - t < 2.5  # delivery included
    assert r.line() == b"* 2 RECENT\r\n"  # an IMAP4rev1 session
    # Another session's flag change arrives too.
    m = connect(imap)
    m.login(ALICE, "secret")
    m.select("INBOX")
    m.store("1", "+FLAGS", "(\\Flagged)")
    assert r.line() == b"* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))\r\n"
    m.store("1", "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.logout()
    line = r.line()  # the \Deleted flag may be seen first, or only the expunge
    if line.startswith(b"* 1 FETCH"):
        assert line == b"* 1 FETCH (UID 1 FLAGS (\\Flagged \\Deleted \\Recent))\r\n"
        line = r.line()
    assert line == b"* 1 EXPUNGE\r\n"
    r.send("DONE\r\n")
    assert r.until("c")[-1].startswith(b"c OK")
    r.close()


def test_examine_is_read_only_and_errors_keep_the_session(imap):
    deliver(imap, ALICE, [message(1)])
    r = Raw(imap)
    r.send(f"a LOGIN {ALICE} secret\r\nb EXAMINE INBOX\r\n")
    assert r.until("b")[-1].startswith(b"b OK [READ-ONLY]")
    r.send("c STORE 1 +FLAGS (\\Seen)\r\nd FETCH 1 (BODY[])\r\ne FETCH 1 (FLAGS)\r\n")
    out = b"".join(r.until("e"))
    assert b"c NO [READ-ONLY]" in out and b"* 1 FETCH (FLAGS (\\Recent))" in out, out
    r.send("f SELECT nosuchbox\r\ng FETCH 1:* (BOGUS)\r\nh NOOP\r\n")
    out = b"".join(r.until("h"))
    assert b"f NO [NONEXISTENT]" in out and b"g BAD" in out and b"h OK" in out, out
    r.send("i LIST \"\" \"*\"\r\nj NAMESPACE\r\n")
    out = b"".join(r.until("j"))
    assert b'* LIST (\\HasNoChildren) "." INBOX' in out or b'* LIST (\\HasNoChildren) "." "INBOX"' in out, out
    assert b'* NAMESPACE (("" ".")) NIL NIL' in out
    r.close()


def test_login_limits_are_shared_with_pop3(instance):
    """anvil counts failures per address across services: failures on POP3 and IMAP add up."""
    inst = start(instance, login_max_failures="3", login_failure_delay="0",
                 login_failure_delay_limit="0")
    for _ in range(2):
        p = poplib.POP3("127.0.0.1", inst.ports["pop3"])
        p.user(ALICE)
        with pytest.raises(poplib.error_proto):
            p.pass_("wrong")
        p.close()
    m = connect(inst)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        m.login(ALICE, "wrong")
    # The address has 3 failures: the right password is refused on IMAP (or at connect).
    try:
        m = connect(inst)
    except imaplib.IMAP4.abort:
        return
    with pytest.raises((imaplib.IMAP4.error, imaplib.IMAP4.abort)):
        m.login(ALICE, "secret")
    inst.wait_log("login refused: user=<%s>, method=LOGIN" % ALICE)


def test_large_fetch_is_streamed_while_other_sessions_are_served(imap):
    """A FETCH bigger than the output limit goes out piece by piece: a client that reads
    slowly gets it all, and another session is served meanwhile."""
    body = "x" * 70 + "\r\n"
    deliver(imap, ALICE, [message(i, body=body * 700) for i in range(40)])  # ~2 MB in all
    slow = Raw(imap, rcvbuf=8192)
    slow.send(f"a LOGIN {ALICE} secret\r\nb SELECT INBOX\r\n")
    slow.until("b")
    slow.send("c FETCH 1:* (BODY.PEEK[])\r\n")
    time.sleep(0.5)  # not reading: the server must not block on us
    m = connect(imap)
    m.login(ALICE, "secret")
    assert m.select("INBOX", readonly=True)[1] == [b"40"]
    m.logout()
    total = 0
    while True:
        line = slow.line()
        assert line, "connection closed"
        if line.startswith(b"c "):
            assert line.startswith(b"c OK"), line
            break
        n = re.search(rb"\{(\d+)\}\r\n$", line)
        if n:
            total += len(slow.f.read(int(n.group(1))))
    assert total > 40 * 700 * 72
    slow.close()


def test_mailboxes_append_copy_move(imap):
    m = connect(imap)
    m.login(ALICE, "secret")
    typ, data = m.list('""', "*")
    listing = b"\n".join(data)
    for box, use in [(b"Sent", b"\\Sent"), (b"Drafts", b"\\Drafts"), (b"Trash", b"\\Trash"),
                     (b"Junk", b"\\Junk"), (b"Archive", b"\\Archive")]:
        assert re.search(rb"\(.*" + re.escape(use) + rb".*\) \".\" \"?" + box + rb"\"?$", listing, re.M), listing
    assert m.create("Projects")[0] == "OK"
    assert m.create("Projects.2026")[0] == "OK"
    assert m.create("Projects.2026")[0] == "NO"
    typ, data = m.append("Projects.2026", "(\\Seen)", '"01-Feb-2026 10:00:00 +0100"', message(1))
    assert typ == "OK" and re.match(rb"\[APPENDUID \d+ 1\]", data[0]), data
    typ, data = m.append("Nowhere", None, None, message(2))
    assert typ == "NO" and b"[TRYCREATE]" in data[0]
    m.select("Projects.2026")
    typ, data = m.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])")
    assert b"\\Seen" in data[0][0] and b'"01-Feb-2026' in data[0][0] or b"INTERNALDATE" in data[0][0]
    assert data[0][1] == message(1)
    typ, data = m.copy("1", "INBOX")
    assert typ == "OK" and re.match(rb"\[COPYUID \d+ 1 \d+\]", data[0]), data
    typ, data = m.uid("MOVE", "1", "Archive")
    assert typ == "OK"
    assert m.select("Projects.2026")[1] == [b"0"]
    assert m.select("Archive")[1] == [b"1"]
    assert m.rename("Projects", "Old")[0] == "OK"
    names = b"\n".join(m.list('""', "Old*")[1])
    assert b"Old.2026" in names, names
    assert m.subscribe("Old.2026")[0] == "OK"
    assert b"Old.2026" in b"\n".join(m.lsub('""', "*")[1])
    assert m.delete("Old.2026")[0] == "OK"
    assert m.delete("INBOX")[0] == "NO"
    m.logout()
    # The copy in INBOX is there for POP3 too, byte for byte.
    p = poplib.POP3("127.0.0.1", imap.ports["pop3"])
    p.user(ALICE)
    p.pass_("secret")
    assert b"\r\n".join(p.retr(1)[1]) + b"\r\n" == message(1)
    p.quit()


def test_keywords_and_recent(imap):
    deliver(imap, ALICE, [message(1)])
    m = connect(imap)
    m.login(ALICE, "secret")
    typ, data = m.select("INBOX")
    assert m.response("RECENT")[1] == [b"1"]
    assert m.fetch("1", "(FLAGS)")[1] == [b"1 (FLAGS (\\Recent))"]
    typ, data = m.store("1", "+FLAGS", "($Label1 Junk)")
    assert typ == "OK" and b"$Label1" in data[0] and b"Junk" in data[0], data
    assert m.search(None, "KEYWORD", "$Label1") == ("OK", [b"1"])
    assert m.search(None, "UNKEYWORD", "Junk") == ("OK", [b""])
    # A second session: no longer \Recent; sees the keywords, and the FLAGS list names them.
    m2 = connect(imap)
    m2.login(ALICE, "secret")
    m2.select("INBOX")
    assert m2.response("RECENT")[1] == [b"0"]
    flags = m2.response("FLAGS")[1][0]
    assert b"$Label1" in flags and b"Junk" in flags, flags
    assert m2.fetch("1", "(FLAGS)")[1] == [b"1 (FLAGS ($Label1 Junk))"]
    m2.store("1", "-FLAGS", "($Label1)")
    m2.logout()
    assert m.fetch("1", "(FLAGS)")[1][-1] == b"1 (FLAGS (Junk \\Recent))"
    m.logout()


def test_append_into_the_selected_mailbox_is_recent_there_only(imap):
    """RFC 3501 sec 2.3.2: the appending session is the first told of its message (the claim
    is made in the APPEND's own transaction); a delivery it had not seen yet comes with it.
    Another session, selected before, sees the messages without \\Recent."""
    m, other = connect(imap), connect(imap)
    for c in (m, other):
        c.login(ALICE, "secret")
        c.select("INBOX")
    deliver(imap, ALICE, [message(1)])
    assert m.append("INBOX", None, None, message(2))[0] == "OK"
    assert m.response("RECENT")[1][-1] == b"2"
    assert m.fetch("1:2", "(FLAGS)")[1] == [b"1 (FLAGS (\\Recent))", b"2 (FLAGS (\\Recent))"]
    other.noop()
    assert other.fetch("1:2", "(FLAGS)")[1] == [b"1 (FLAGS ())", b"2 (FLAGS ())"]
    # EXAMINE does not claim: an APPEND from a read-only session leaves the claim to others.
    other.select("INBOX", readonly=True)
    assert other.append("INBOX", None, None, message(3))[0] == "OK"
    assert m.noop()[0] == "OK" and m.response("RECENT")[1][-1] == b"3"
    assert m.fetch("3", "(FLAGS)")[1] == [b"3 (FLAGS (\\Recent))"]
    m.logout()
    other.logout()


def test_search_decodes_headers_and_bodies(imap):
    """SEARCH matches the decoded text: RFC 2047 words, base64 bodies in Latin-1, case folded."""
    deliver(imap, ALICE, [  # one at a time: two in one session may be stored in either order
        b"From: =?UTF-8?Q?J=C3=BCrgen?= <j@remote.test>\r\nSubject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + __import__("base64").encodebytes("Schöne Grüße".encode("latin-1"))])
    deliver(imap, ALICE, [message(2)])
    m = connect(imap)
    m.login(ALICE, "secret")
    m.select("INBOX")
    m.literal = "KÖLN".encode()
    assert m.search("UTF-8", "SUBJECT") == ("OK", [b"1"])
    m.literal = "jürgen".encode()
    assert m.search("UTF-8", "FROM") == ("OK", [b"1"])
    m.literal = "SCHÖNE".encode()
    assert m.search("UTF-8", "BODY") == ("OK", [b"1"])
    assert m.search(None, "TEXT", '"body of message 2"') == ("OK", [b"2"])
    m.logout()
