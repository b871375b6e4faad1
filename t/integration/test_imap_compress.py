"""COMPRESS=DEFLATE (RFC 4978, doc/imapd.md): after the uncompressed tagged OK both directions
are raw DEFLATE streams; commands pipelined right behind COMPRESS are decoded as compressed; a
second COMPRESS gets NO [COMPRESSIONACTIVE]; a message comes back byte-identical through the
compressed stream, in fewer bytes on the wire; garbage instead of DEFLATE data ends only that
session; imapd_compress_level = 0 takes the capability away. mbsync (isync, built with zlib)
uses COMPRESS on its own whenever it is offered: test_imap_clients.py covers a real client."""
import re
import zlib

from test_imap import Raw, message, start
from test_imap_clients import crlf
from test_pop3 import ALICE, deliver


class Compressed:
    """A Raw IMAP connection after COMPRESS DEFLATE: zlib streams both ways."""

    def __init__(self, raw, pending=b""):
        self.raw = raw
        self.out = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.inp = zlib.decompressobj(-15)
        self.buf = b""
        self.wire_in = 0
        self.feed(pending)

    def feed(self, data):
        self.wire_in += len(data)
        self.buf += self.inp.decompress(data)

    def send(self, text):
        data = text.encode() if isinstance(text, str) else text
        self.raw.sock.sendall(self.out.compress(data) + self.out.flush(zlib.Z_SYNC_FLUSH))

    def until(self, tag):
        while True:
            m = re.search(rb"(?m)^" + re.escape(tag.encode()) + rb" [^\r\n]*\r\n", self.buf)
            if m:
                out, self.buf = self.buf[:m.end()], self.buf[m.end():]
                return out
            data = self.raw.sock.recv(65536)
            assert data, f"connection closed; got {self.buf[-500:]}"
            self.feed(data)


def login(inst):
    r = Raw(inst, tls=True)
    r.send(f"a LOGIN {ALICE} secret\r\n")
    caps = b"".join(r.until("a"))
    return r, caps


def start_compress(r, pipelined=b""):
    """Send COMPRESS DEFLATE (and, in the same write, pipelined bytes already compressed);
    read the plain OK without reading past it."""
    r.sock.sendall(b"z COMPRESS DEFLATE\r\n" + pipelined)
    line = b""
    while not line.endswith(b"\r\n"):
        line += r.sock.recv(1)
    assert line.startswith(b"z OK"), line
    return line


def test_compress_round_trip_and_pipelining(instance):
    inst = start(instance)
    body = "\r\n".join(f"line {i} of a long and repetitive body" for i in range(2000))
    deliver(inst, ALICE, [message(1, body)])
    r, caps = login(inst)
    assert b"COMPRESS=DEFLATE" in caps
    # A command pipelined right behind COMPRESS is already compressed.
    pre = zlib.compressobj(6, zlib.DEFLATED, -15)
    pipelined = pre.compress(b"b SELECT INBOX\r\n") + pre.flush(zlib.Z_SYNC_FLUSH)
    start_compress(r, pipelined)
    c = Compressed(r)
    c.out = pre  # the same stream goes on
    assert b"b OK" in c.until("b")
    c.send("c FETCH 1 (BODY.PEEK[])\r\n")
    wire_before = c.wire_in
    reply = c.until("c")
    plain = crlf(inst.messages(ALICE)[0])
    assert b"{%d}\r\n" % len(plain) + plain in reply
    assert c.wire_in - wire_before < len(plain) / 4, "the FETCH was not compressed"
    c.send("d COMPRESS DEFLATE\r\n")
    assert b"d NO [COMPRESSIONACTIVE]" in c.until("d")
    c.send("e LOGOUT\r\n")
    assert b"e OK" in c.until("e")
    r.close()


def test_garbage_instead_of_deflate_ends_only_that_session(instance):
    inst = start(instance)
    r, _ = login(inst)
    start_compress(r)
    r.sock.sendall(b"\xff" * 64 + b"not deflate at all\r\n")
    r.sock.settimeout(10)
    rest = b""
    while True:
        data = r.sock.recv(4096)
        if not data:
            break
        rest += data
    r.close()
    # Others are served as before.
    r2, caps = login(inst)
    r2.send("b NOOP\r\n")
    assert r2.until("b")[-1].startswith(b"b OK")
    r2.close()
    assert "COMPRESS: invalid DEFLATE data" in inst.log()


def test_compress_can_be_switched_off(instance):
    inst = start(instance, imapd_compress_level="0")
    r, caps = login(inst)
    assert b"COMPRESS" not in caps
    r.send("b COMPRESS DEFLATE\r\n")
    assert r.until("b")[-1].startswith(b"b BAD")
    r.send("c NOOP\r\n")
    assert r.until("c")[-1].startswith(b"c OK")
    r.close()
