"""Helpers of the submission tests (doc/submission.md): an instance with submission on 587
(STARTTLS) and 465 (TLS), a raw SMTP client over a socket, and what a delivered message looks
like without the fields Posthorn adds."""
import base64
import re
import socket
import ssl

from conftest import DOMAIN, close_quietly

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
CAROL = f"carol@{DOMAIN}"
PASSWORD = "secret"


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def start_submission(instance, users=(ALICE, BOB, CAROL), **conf):
    """Users alice, bob and carol (password 'secret'), fast retries and failure replies, the
    given main.cf settings, then start and wait for 587 and 465."""
    settings = {"login_failure_delay": "0", "login_failure_delay_limit": "0"}
    settings.update(conf)
    instance.set_conf(**settings)
    for u in users:
        instance.add_user(u)
    instance.start()
    instance.wait_port(instance.ports["submission"])
    instance.wait_port(instance.ports["smtps"])
    return instance


def plain(user, password, authzid=""):
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()


class Smtp:
    """One SMTP session spoken by hand: on 587 in plaintext (then starttls()), or on 465 in
    TLS from the first byte."""

    def __init__(self, inst, implicit=False, source="127.0.0.1", greeting=True):
        port = inst.ports["smtps" if implicit else "submission"]
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60,
                                             source_address=(source, 0))
        if implicit:
            self.sock = tls_context().wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")
        self.greeting = self.reply() if greeting else None

    def reply(self):
        """The next reply: (code, [lines])."""
        lines = []
        while True:
            line = self.f.readline(10000)
            if not line:
                return (None, lines)
            text = line.decode(errors="replace").rstrip("\r\n")
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                return (int(text[:3]), lines)

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def cmd(self, text):
        self.send(text)
        return self.reply()

    def ehlo(self):
        code, lines = self.cmd("EHLO client.example")
        assert code == 250, lines
        return [l[4:] for l in lines[1:]]

    def starttls(self):
        assert self.cmd("STARTTLS")[0] == 220
        self.f.close()
        self.sock = tls_context().wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")

    def auth_plain(self, user=ALICE, password=PASSWORD):
        return self.cmd(f"AUTH PLAIN {plain(user, password)}")

    def close(self):
        close_quietly(self.f, self.sock)


def logged_in(inst, implicit=False, user=ALICE, password=PASSWORD):
    s = Smtp(inst, implicit=implicit)
    s.ehlo()
    if not implicit:
        s.starttls()
        s.ehlo()
    code, lines = s.auth_plain(user, password)
    assert code == 235, lines
    return s


ADDED = (b"Return-Path:", b"Delivered-To:", b"Received:")


def header_section(raw):
    return raw.split(b"\n\n", 1)[0]


def without_added(raw, added=(b"Message-ID:", b"Date:")):
    """The delivered message minus what Posthorn added: Return-Path, Delivered-To and
    Received at the top, and the given fields that the client did not send (they are added
    where the header section ends)."""
    lines = raw.split(b"\n")
    out, skipping, in_headers = [], False, True
    top = True
    for line in lines:
        if in_headers and line == b"":
            in_headers = False
        if in_headers and line[:1] in (b" ", b"\t"):
            if skipping:
                continue
        elif in_headers:
            name = line.split(b":", 1)[0] + b":"
            skipping = (top and name in ADDED) or name in added
            if name not in ADDED:
                top = False
            if skipping:
                continue
        out.append(line)
    return b"\n".join(out)


def received_of(raw):
    """The first Received: field, unfolded."""
    m = re.search(rb"^Received:.*?(?=\n\S)", raw, re.M | re.S)
    return m.group(0).replace(b"\n\t", b" ").replace(b"\n ", b" ").decode() if m else ""
