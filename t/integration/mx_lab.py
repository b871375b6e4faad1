"""mx_lab.py - a small Internet on loopback for the SMTP client tests (doc/smtp-client.md).

- LoopbackDNS: Debian's `unbound` on 127.0.0.1 and a free high port, serving only the test
  zones given to it as local data. Everything else is refused locally (local-zone "."
  refuse): it has no forwarder, no stub, and never asks a root server, so no DNS packet
  leaves the machine (check_isolated() asserts this from its configuration).
- address_block(): a /24 of 127.0.0.0/8 (127.A.B.0) that this test process holds a lock on,
  so tests running in parallel never put two peers on one address; peers use port 25 of
  127.A.B.2, 127.A.B.3, ... as the SMTP client always connects to port 25 (tests run as
  root, which binding port 25 needs).
- PeerMTA: a scriptable SMTP server (threads, stdlib only) on one of those addresses:
  EHLO extensions, greeting, per-RCPT and end-of-data replies, STARTTLS with a given
  certificate, AUTH PLAIN/LOGIN, and a record of every transaction it saw.
- PolicyServer: an HTTPS server (http.server + ssl, stdlib) on port 443 of one of those
  addresses serving an MTA-STS policy file (RFC 8461 sec 3.3) with a given certificate,
  status, media type or redirect, and a record of every request.
- PostfixPeer: a private instance of Debian's Postfix (`postfix -c DIR`, as
  bench/lib/postfix.sh runs one) listening on one lab address, delivering one domain to
  Maildir with virtual(8), optionally relaying another domain to a given [host]:port.
"""
import fcntl
import os
import random
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from conftest import lock_dir

UNBOUND = shutil.which("unbound", path="/usr/sbin:/usr/local/sbin:/sbin") or ""
LDNS_SIGNZONE = shutil.which("ldns-signzone") or ""


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no free port")


class LoopbackDNS:
    """unbound answering the zones {zone: [records]} and refusing everything else. signed
    {zone: [records]} are DNSSEC-signed with ldns-signzone (Debian package ldnsutils) and
    served from files (auth-zone, never transferred from anywhere); trust_anchor is then the
    file of their DS records for a validating client."""

    def __init__(self, zones, signed=None):
        self.zones = zones
        self.signed = signed or {}
        self.dir = Path(tempfile.mkdtemp(prefix="posthorn-dns-"))
        os.chmod(self.dir, 0o755)  # smtp-client (mail_owner) reads the trust anchor here
        self.port = free_port()
        self.proc = None
        self.trust_anchor = str(self.dir / "trust-anchor.ds")

    @property
    def resolver(self):
        return f"127.0.0.1@{self.port}"

    def config(self):
        lines = ["server:",
                 "  interface: 127.0.0.1", f"  port: {self.port}", "  do-ip6: no",
                 "  do-daemonize: no", "  use-syslog: no", '  logfile: ""', "  verbosity: 1",
                 '  username: ""', '  chroot: ""', f'  directory: "{self.dir}"', '  pidfile: ""',
                 "  access-control: 127.0.0.0/8 allow", '  module-config: "iterator"',
                 "  num-threads: 1", "  so-reuseport: no",
                 "  rrset-roundrobin: no",  # the records' order is the client's to shuffle
                 '  local-zone: "." refuse']
        for zone, records in self.zones.items():
            lines.append(f'  local-zone: "{zone}." static')
            lines += [f"  local-data: '{r}'" for r in records]
        for zone in self.signed:  # past the "." refusal to the auth-zone below
            lines.append(f'  local-zone: "{zone}." transparent')
        for zone in self.signed:
            lines += ["auth-zone:", f'  name: "{zone}."',
                      f'  zonefile: "{self.dir / zone}.zone.signed"',
                      "  for-downstream: yes", "  for-upstream: no", "  fallback-enabled: no"]
        lines += ["remote-control:", "  control-enable: no"]
        return "\n".join(lines) + "\n"

    def sign_zones(self):
        """Write, key and sign each signed zone; collect their DS records."""
        anchors = []
        for zone, records in self.signed.items():
            text = [f"$ORIGIN {zone}.", "$TTL 300",
                    f"@ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 300",
                    f"@ IN NS ns.{zone}.", "ns IN A 127.0.0.1", *records]
            src = self.dir / f"{zone}.zone"
            src.write_text("\n".join(text) + "\n")

            def keygen(*flags):
                p = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", *flags, zone],
                                   cwd=self.dir, check=True, capture_output=True, text=True)
                return p.stdout.strip()
            ksk, zsk = keygen("-k"), keygen()
            subprocess.run(["ldns-signzone", "-o", zone, str(src), ksk, zsk], cwd=self.dir,
                           check=True, capture_output=True)
            anchors.append((self.dir / f"{ksk}.ds").read_text())
        Path(self.trust_anchor).write_text("".join(anchors))

    def check_isolated(self):
        """Nothing in the configuration may send a query anywhere: every name is either
        local data or refused."""
        text = self.config()
        for word in ("forward-zone", "stub-zone", "forward-addr", "root-hints", "primary:",
                     "master:", "url:", "allow-notify"):
            assert word not in text, word
        assert '  local-zone: "." refuse' in text
        assert text.count("auth-zone:") == text.count("for-upstream: no") == len(self.signed)

    def start(self):
        try:
            return self.run_server()
        except BaseException:
            self.stop()
            raise

    def restart(self, zones):
        """Serve ZONES instead, on the same port (a changed record, as after an update)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.zones = zones
        return self.run_server()

    def run_server(self):
        if not UNBOUND:
            raise RuntimeError("unbound is not installed (Debian package unbound)")
        self.check_isolated()
        if self.signed:
            self.sign_zones()
        conf = self.dir / "unbound.conf"
        conf.write_text(self.config())
        log = open(self.dir / "unbound.log", "wb")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", str(conf)], stdout=log, stderr=log)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("unbound did not start:\n" + (self.dir / "unbound.log").read_text())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


_blocks = []


def address_block():
    """'127.A.B.' (the caller appends 2, 3, ...), locked for this process's life."""
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(500):
        prefix = f"127.{rng.randrange(100, 250)}.{rng.randrange(1, 250)}."
        path = lock_dir() / f"mx-{prefix}0"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o444)
        except PermissionError:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _blocks.append(fd)
        return prefix
    raise RuntimeError("no free loopback address block")


# --- a scriptable SMTP server ------------------------------------------------------------

DEFAULT_EXTS = ("PIPELINING", "SIZE 10240000", "8BITMIME", "SMTPUTF8", "DSN",
                "ENHANCEDSTATUSCODES")


class ServerThread:
    """Start and stop of a socketserver-based test server run on a daemon thread."""
    server = None

    def run(self, server):
        self.server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class Transaction:
    def __init__(self, session):
        self.session = session
        self.mail = None       # the MAIL FROM line as received
        self.rcpts = []        # RCPT TO lines that got 250
        self.data = None       # the content, dot-unstuffed, CRLF line ends
        self.started = time.time()  # when MAIL FROM came


class PeerMTA(ServerThread):
    """An SMTP server on (addr, port). Behaviour is set by attributes tests may change at
    any time: greeting (code, text), exts (EHLO keywords; "STARTTLS" needs cert), rcpt
    (function (address) -> (code, text) or None for 250), data_reply (function
    (transaction) -> (code, text) or None for 250), auth ({user: password} or None),
    starttls_broken (answer 220 to STARTTLS, then garbage instead of a handshake),
    greeting_delay (seconds of silence before the greeting), one_transaction (hang up when
    a second transaction starts on a connection), no_ehlo (an old server: 502 to EHLO),
    bdat_reply (function (transaction, chunk number) -> (code, text) or None for 250: the
    reply to a BDAT chunk; CHUNKING must be in exts for BDAT to be taken), data_command_reply
    ((code, text) answered to DATA instead of 354, after which commands go on: a broken
    server, or one whose replies are out of step).
    STARTTLS is announced only when a certificate (cert, key) is given."""

    def __init__(self, addr, port=25, name=None, exts=DEFAULT_EXTS + ("STARTTLS",), cert=None):
        self.addr, self.port = addr, port
        self.name = name or f"peer-{addr}.example"
        self.greeting = (220, f"{self.name} ESMTP test peer")
        self.exts = list(exts)
        self.rcpt = None
        self.data_reply = None
        self.auth = None
        self.cert = cert
        self.starttls_broken = False
        self.greeting_delay = 0
        self.one_transaction = False
        self.no_ehlo = False
        self.bdat_reply = None
        self.data_command_reply = None
        self.lock = threading.Lock()
        self.transactions = []  # completed (250 after the dot)
        self.open_transactions = 0  # MAIL seen, end not yet (a client in mid-delivery)
        self.connected = self.max_connected = 0  # connections now, and at most at once
        self.sessions = []      # one dict per connection: ehlo, tls, auth, commands
        self.server = None

    # results
    def delivered(self):
        with self.lock:
            return list(self.transactions)

    def wait_delivered(self, count, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.delivered()) >= count:
                return self.delivered()
            time.sleep(0.05)
        raise AssertionError(f"{self.addr}: {len(self.delivered())} transactions, expected {count}")

    def start(self):
        peer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                peer.serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True
            # A burst of connections (a restarted client) must not overflow the accept
            # queue: the kernel would then drop connections the client sees established.
            request_queue_size = 256

        return self.run(Server((self.addr, self.port), Handler))

    # the protocol
    def serve(self, sock):
        state = {"open": False}
        with self.lock:
            self.connected += 1
            self.max_connected = max(self.max_connected, self.connected)
        try:
            self.converse(sock, state)
        finally:
            with self.lock:
                self.connected -= 1
            if state["open"]:
                self.count_open(-1)

    def converse(self, sock, state):
        sess = {"ehlo": None, "tls": False, "auth": None, "commands": []}
        with self.lock:
            self.sessions.append(sess)
        f = sock.makefile("rb")

        def send(code, text, more=()):
            """One reply; MORE are further lines (the EHLO keywords)."""
            texts = [text, *more]
            lines = [f"{code}-{t}" for t in texts[:-1]] + [f"{code} {texts[-1]}"]
            sock.sendall(("\r\n".join(lines) + "\r\n").encode())

        def end_txn():
            if state["open"]:
                state["open"] = False
                self.count_open(-1)

        if self.greeting_delay:  # a server that says nothing for a while
            time.sleep(self.greeting_delay)
        code, text = self.greeting
        send(code, text)
        if code != 220:
            return
        txn = None
        while True:
            line = f.readline(4096)
            if not line:
                return
            cmd = line.rstrip(b"\r\n").decode("utf-8", "replace")
            sess["commands"].append(cmd if not cmd.upper().startswith("AUTH") else "AUTH")
            verb = cmd.split(" ", 1)[0].upper()
            if self.one_transaction and sess.get("done") and verb in ("MAIL", "RSET"):
                return  # hang up without a word, as a server that timed the session out
            if verb == "EHLO" and self.no_ehlo:
                send(502, "5.5.2 Error: command not recognized")
            elif verb == "EHLO":
                sess["ehlo"] = cmd[5:]
                exts = [e for e in self.exts if e != "STARTTLS" or (self.cert and not sess["tls"])]
                if self.auth is not None:
                    exts.append("AUTH PLAIN LOGIN")
                send(250, self.name, exts)
            elif verb == "HELO":
                sess["ehlo"] = cmd[5:]
                send(250, self.name)
            elif verb == "STARTTLS" and self.cert and not sess["tls"]:
                send(220, "2.0.0 Ready to start TLS")
                if self.starttls_broken:  # not TLS at all: the client's handshake fails
                    sock.sendall(b"this is not a TLS server hello\r\n")
                    return
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(*self.cert)
                ctx.sni_callback = lambda s, name, c: sess.__setitem__("sni", name)
                sock = ctx.wrap_socket(sock, server_side=True)
                f = sock.makefile("rb")
                sess["tls"] = True
                txn = None
            elif verb == "AUTH" and self.auth is not None:
                sess["auth"] = self.do_auth(cmd, f, send)
            elif verb == "MAIL":
                if not state["open"]:
                    state["open"] = True
                    self.count_open(1)
                txn = Transaction(sess)
                txn.mail = cmd
                send(250, "2.1.0 Ok")
            elif verb == "RCPT":
                if txn is None:
                    send(503, "5.5.1 Error: need MAIL command")
                    continue
                addr = cmd[cmd.find("<") + 1:cmd.find(">")]
                r = self.rcpt(addr) if self.rcpt else None
                if r:
                    send(*r)
                else:
                    txn.rcpts.append(cmd)
                    send(250, "2.1.5 Ok")
            elif verb == "DATA":
                if txn is None or not txn.rcpts:
                    send(554, "5.5.1 Error: no valid recipients")
                    continue
                if self.data_command_reply:
                    send(*self.data_command_reply)
                    continue
                send(354, "End data with <CR><LF>.<CR><LF>")
                data = bytearray()
                while True:
                    dl = f.readline()
                    if not dl:
                        return  # the client went away mid-DATA: no transaction
                    if dl == b".\r\n":
                        break
                    data += dl[1:] if dl.startswith(b".") else dl
                txn.data = bytes(data)
                r = self.data_reply(txn) if self.data_reply else None
                if r:
                    send(*r)
                else:
                    with self.lock:
                        self.transactions.append(txn)
                        n = len(self.transactions)
                    send(250, f"2.0.0 Ok: queued as PEER{n}")
                    sess["done"] = True
                txn = None
                end_txn()
            elif verb == "BDAT" and "CHUNKING" in self.exts:
                txn = self.bdat(cmd, f, send, txn, sess)
                if txn is None:
                    end_txn()
            elif verb == "RSET":
                txn = None
                end_txn()
                send(250, "2.0.0 Ok")
            elif verb == "NOOP":
                send(250, "2.0.0 Ok")
            elif verb == "QUIT":
                send(221, "2.0.0 Bye")
                return
            else:
                send(502, "5.5.2 Error: command not recognized")

    def bdat(self, cmd, f, send, txn, sess):
        """One BDAT chunk (RFC 3030): its bytes are read whatever the reply; the transaction
        (or None once it ended: delivered, or refused and to be discarded)."""
        parts = cmd.split()
        size = int(parts[1])
        chunk = f.read(size)
        last = len(parts) > 2 and parts[2].upper() == "LAST"
        if txn is None or not txn.rcpts:
            send(554, "5.5.1 Error: no valid recipients")
            return None
        txn.chunks = getattr(txn, "chunks", 0) + 1
        txn.data = (txn.data or b"") + chunk
        if getattr(txn, "refused", False):
            send(554, "5.5.0 Error: earlier chunk refused")
            return None if last else txn
        r = self.bdat_reply(txn, txn.chunks) if self.bdat_reply else None
        if r:
            txn.refused = True
            send(*r)
            return None if last else txn
        if not last:
            send(250, f"2.0.0 Ok: {size} octets received")
            return txn
        with self.lock:
            self.transactions.append(txn)
            n = len(self.transactions)
        send(250, f"2.0.0 Ok: queued as PEER{n}")
        sess["done"] = True
        return None

    def count_open(self, n):
        with self.lock:
            self.open_transactions += n

    def do_auth(self, cmd, f, send):
        import base64
        parts = cmd.split()
        mech = parts[1].upper() if len(parts) > 1 else ""
        if mech == "PLAIN" and len(parts) == 3:
            _, user, pw = base64.b64decode(parts[2]).decode().split("\0")
        elif mech == "LOGIN":
            send(334, "VXNlcm5hbWU6")
            user = base64.b64decode(f.readline().strip()).decode()
            send(334, "UGFzc3dvcmQ6")
            pw = base64.b64decode(f.readline().strip()).decode()
        else:
            send(504, "5.5.4 Unrecognized authentication type")
            return None
        if self.auth.get(user) == pw:
            send(235, "2.7.0 Authentication successful")
            return user
        send(535, "5.7.8 Error: authentication failed")
        return None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def make_cert(directory, names, ca=None):
    """A certificate for NAMES (the first is the CN) in DIRECTORY: signed by CA
    ((cert, key) paths) or self-signed. Returns (cert, key)."""
    directory = Path(directory)
    base = directory / names[0].replace("*", "star")
    key, csr, crt = f"{base}.key", f"{base}.csr", f"{base}.crt"
    ext = directory / f"{names[0]}.ext"
    ext.write_text("subjectAltName=" + ",".join(f"DNS:{n}" for n in names) + "\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", csr, "-subj", f"/CN={names[0]}"], check=True, capture_output=True)
    if ca:
        cmd = ["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
               "-CAcreateserial", "-days", "30", "-out", crt, "-extfile", str(ext)]
    else:
        cmd = ["openssl", "x509", "-req", "-in", csr, "-signkey", key, "-days", "30",
               "-out", crt, "-extfile", str(ext)]
    subprocess.run(cmd, check=True, capture_output=True)
    return crt, key


def spki_sha256(cert):
    """The TLSA 3 1 1 (or 2 1 1) data of a PEM certificate: SHA-256 of its public key."""
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub, check=True,
                         capture_output=True).stdout
    import hashlib
    return hashlib.sha256(der).hexdigest()


def make_ca(directory):
    directory = Path(directory)
    key, crt = str(directory / "ca.key"), str(directory / "ca.crt")
    subprocess.run(["openssl", "req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "30", "-subj", "/CN=Posthorn test CA",
                    "-addext", "basicConstraints=critical,CA:true",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                   check=True, capture_output=True)
    os.chmod(key, 0o644)
    return crt, key


# --- an MTA-STS policy server ----------------------------------------------------------

class PolicyServer(ServerThread):
    """HTTPS on ADDR:443 (root) with CERT (cert, key): GET /.well-known/mta-sts.txt answers
    with policy (text), status and content_type, or with a 301 to redirect when set;
    requests lists (Host header, path) of every request."""

    def __init__(self, addr, cert, policy=None, port=443):
        self.addr, self.port, self.cert = addr, port, cert
        self.policy = policy
        self.status = 200
        self.content_type = "text/plain"
        self.redirect = None
        self.requests = []
        self.server = None

    def start(self):
        import http.server
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                srv.requests.append((self.headers.get("Host"), self.path))
                if srv.redirect and self.path == "/.well-known/mta-sts.txt":
                    self.send_response(301)
                    self.send_header("Location", srv.redirect)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                found = self.path in ("/.well-known/mta-sts.txt", "/moved/mta-sts.txt")
                body = (srv.policy or "").encode() if found else b"not found\n"
                self.send_response(srv.status if found else 404)
                self.send_header("Content-Type", srv.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.cert)
        server = http.server.ThreadingHTTPServer((self.addr, self.port), Handler)
        server.daemon_threads = True
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        return self.run(server)


# --- a private Postfix -------------------------------------------------------------------

POSTFIX = shutil.which("postfix", path="/usr/sbin:/sbin") or ""


class PostfixPeer:
    """Debian's Postfix in its own directory, on ADDR:25 (and nowhere else), accepting mail
    for DOMAIN's USERS into Maildirs (virtual(8), uid/gid of vmail). relay: optional
    {domain: "[host]:port"} sent on by its smtp client (no DNS at all)."""

    def __init__(self, addr, domain, users, relay=None, hostname=None):
        self.addr, self.domain, self.users = addr, domain, users
        self.relay = relay or {}
        self.hostname = hostname or f"postfix.{domain}"
        self.dir = Path(tempfile.mkdtemp(prefix="posthorn-postfix-"))
        os.chmod(self.dir, 0o755)
        self.started = False

    def main_cf(self, uid, gid):
        d = self.dir
        return f"""# main.cf of a test Postfix (t/integration/mx_lab.py)
compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-test
maillog_file_prefixes = {d}
maillog_file = {d}/log/maillog
myhostname = {self.hostname}
mydomain = {self.domain}
myorigin = $myhostname
mydestination =
# The listener is master.cf's ADDR:25; inet_interfaces must name interface addresses.
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = {" ".join(self.relay)}
transport_maps = hash:{d}/etc/transport
alias_maps =
alias_database =
local_recipient_maps =
append_dot_mydomain = no
biff = no
smtputf8_enable = yes
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtp_tls_security_level = none
local_header_rewrite_clients =
virtual_mailbox_domains = {self.domain}
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = hash:{d}/etc/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""

    MASTER_CF = """# master.cf of a test Postfix (t/integration/mx_lab.py)
{addr}:25 inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

    def start(self):
        try:
            return self.set_up_and_start()
        except BaseException:
            self.stop()  # no half-made instance or directory left behind
            raise

    def set_up_and_start(self):
        if not POSTFIX:
            raise RuntimeError("postfix is not installed (Debian package postfix)")
        import pwd
        vm = pwd.getpwnam("vmail")
        d = self.dir
        for sub in ("etc", "spool", "data", "log", "mail"):
            (d / sub).mkdir()
        os.chown(d / "mail", vm.pw_uid, vm.pw_gid)
        shutil.chown(d / "data", "postfix")
        (d / "etc/main.cf").write_text(self.main_cf(vm.pw_uid, vm.pw_gid))
        (d / "etc/master.cf").write_text(self.MASTER_CF.format(addr=self.addr))
        (d / "etc/vmailbox").write_text(
            "".join(f"{u}@{self.domain} {self.domain}/{u}/\n" for u in self.users))
        (d / "etc/transport").write_text(
            "".join(f"{dom} smtp:{hop}\n" for dom, hop in self.relay.items()))
        for table in ("vmailbox", "transport"):
            subprocess.run(["postmap", "-c", str(d / "etc"), f"hash:{d}/etc/{table}"], check=True)
        subprocess.run([POSTFIX, "-c", str(d / "etc"), "set-permissions"], capture_output=True)
        subprocess.run([POSTFIX, "-c", str(d / "etc"), "check"], check=True, capture_output=True)
        subprocess.run([POSTFIX, "-c", str(d / "etc"), "start"], check=True, capture_output=True)
        self.started = True
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection((self.addr, 25), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("postfix did not start:\n" + self.log())

    def log(self):
        try:
            return (self.dir / "log/maillog").read_text(errors="replace")
        except OSError:
            return ""

    def messages(self, user):
        md = self.dir / "mail" / self.domain / user
        files = []
        for sub in ("new", "cur"):
            if (md / sub).is_dir():
                files += [p for p in (md / sub).iterdir() if p.is_file()]
        files.sort(key=lambda p: (p.stat().st_mtime, p.name))
        return [p.read_bytes() for p in files]

    def wait_messages(self, user, count, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            msgs = self.messages(user)
            if len(msgs) >= count:
                return msgs
            time.sleep(0.1)
        raise AssertionError(f"postfix {user}: {len(self.messages(user))} messages, expected "
                             f"{count}\n{self.log()[-3000:]}")

    def stop(self):
        if self.started:
            pidfile = self.dir / "spool/pid/master.pid"
            try:
                pid = int(pidfile.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pid = None
            subprocess.run([POSTFIX, "-c", str(self.dir / "etc"), "stop"], capture_output=True)
            deadline = time.time() + 20
            while pid and time.time() < deadline:
                try:
                    os.kill(pid, 0)
                    time.sleep(0.1)
                except OSError:
                    break
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
