"""submit_client.py: the client side of the submission and smtp-relay loads: parallel SMTP
sessions over TLS with AUTH PLAIN (Python's smtplib and ssl), as a mail client submits.

Worker threads take sessions off one shared list until none is left; each session sends its
share of the messages. A session: connect to 127.0.0.1:PORT; TLS from the first byte
(implicit, port 465 style) or EHLO + STARTTLS (port 587 style); TLS 1.3 only, the server's
certificate verified against CAFILE when one is given (so both servers are seen to present
the same certificate); EHLO; AUTH PLAIN with an initial response (one round trip) as its
user; then each message: MAIL FROM:<user> RCPT TO:<rcpt> DATA, one command at a time
(smtplib does not pipeline); QUIT. Every message has From: the user (a submission server
may insist that the sender belongs to the login), Date and a unique Message-ID (so neither
server adds them). Sessions resume no TLS session: every handshake is a full one.
With barrier=True every session first connects and logs in, and the clock starts only
when all have (the figure is then the messages alone, without the logins).
Any refusal or error ends the whole run (Load.error says why)."""
import email.utils
import os
import smtplib
import ssl
import threading
import time

HELO = "client.bench.test"   # given explicitly: smtplib would otherwise ask the resolver


def tls_context(cafile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def message(sender, rcpt, size, tag):
    """About SIZE bytes of body in whole CRLF lines, after a header section with From (the
    sender), To, Subject, Date and Message-ID."""
    line = b"The quick brown fox jumps over the lazy dog, and again and again.\r\n"
    body = line * max(1, size // len(line))
    domain = sender.rpartition("@")[2]
    head = (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: bench message {tag}\r\n"
            f"Date: {email.utils.formatdate()}\r\nMessage-ID: <bench.{tag}@{domain}>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
    return head.encode() + body


class Load:
    """plan: the number of messages of each session; users: the login names (worker k logs
    in as users[k % len(users)]); tls: "starttls" or "implicit"."""

    def __init__(self, port, plan, workers, users, password, rcpt, size, tls, cafile,
                 barrier=False, timeout=60.0):
        self.port, self.plan, self.users, self.password = port, plan, users, password
        self.rcpt, self.size, self.tls, self.timeout = rcpt, size, tls, timeout
        self.workers = min(workers, len(plan))
        if barrier and len(plan) > self.workers:
            raise ValueError("a barrier needs one session per worker")
        self.ctx = tls_context(cafile)
        self.run_id = f"{os.getpid()}.{int(time.time() * 1000)}"
        self.lock = threading.Lock()
        self.next = 0
        self.error = None
        self.started = None
        self.tls_seen = ("-", "-")
        self.barrier = threading.Barrier(self.workers, action=self._go) if barrier else None

    def _go(self):
        self.started = time.monotonic()

    def _take(self):
        with self.lock:
            if self.error is not None or self.next >= len(self.plan):
                return None
            self.next += 1
            return self.next - 1

    def _fail(self, why):
        with self.lock:
            if self.error is None:
                self.error = why
        if self.barrier:
            self.barrier.abort()

    def _connect(self):
        if self.tls == "implicit":
            return smtplib.SMTP_SSL("127.0.0.1", self.port, local_hostname=HELO,
                                    timeout=self.timeout, context=self.ctx)
        s = smtplib.SMTP("127.0.0.1", self.port, local_hostname=HELO, timeout=self.timeout)
        s.ehlo()
        s.starttls(context=self.ctx)
        return s

    def _session(self, worker, number):
        user = self.users[worker % len(self.users)]
        s = self._connect()
        try:
            s.ehlo()
            s.user, s.password = user, self.password
            s.auth("PLAIN", s.auth_plain)
            if number == 0:
                self.tls_seen = (s.sock.version(), s.sock.cipher()[0])
            if self.barrier:
                self.barrier.wait()
            for n in range(self.plan[number]):
                if self.error is not None:
                    return
                tag = f"{self.run_id}.{number}.{n}"
                s.sendmail(user, [self.rcpt], message(user, self.rcpt, self.size, tag))
            s.quit()
        finally:
            s.close()

    def _worker(self, k):
        number = None
        try:
            while (number := self._take()) is not None:
                self._session(k, number)
        except threading.BrokenBarrierError:
            self._fail(f"worker {k}: another session failed before the start")
        except (OSError, smtplib.SMTPException, ssl.SSLError) as e:
            self._fail(f"worker {k}, session {number}: {type(e).__name__}: {e}")

    def run(self, deadline):
        """Run every session; returns the time.monotonic() when the last one ended, or None
        with self.error set. self.started is when they started (before the first
        connection, or at the barrier)."""
        threads = [threading.Thread(target=self._worker, args=(k,), daemon=True)
                   for k in range(self.workers)]
        if self.barrier is None:
            self.started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                self._fail("sessions still running at the deadline")
                return None
        if self.error is not None:
            return None
        return time.monotonic()
