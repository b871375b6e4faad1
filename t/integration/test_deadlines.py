"""Session deadlines (doc/smtpd.md, Policy and limits): smtpd's idle timer restarts on every
byte, so a client trickling one byte every 0.2 s never goes idle; smtpd_command_time_limit
(greeting to DATA/BDAT) and smtpd_min_data_rate (during DATA or BDAT, after
smtpd_min_data_rate_grace) cut it with 421 4.4.2, and nothing it sent is queued. Small
limits make the tests quick; the idle timeout is kept well above the byte interval."""
import re
import socket
import time

from conftest import DOMAIN

ALICE = "alice@" + DOMAIN
STEP = 0.2  # seconds between two bytes


class Trickler:
    """A raw SMTP client that can send whole lines or one byte at a time."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.f = self.sock.makefile("rb")

    def reply(self):
        while True:
            line = self.f.readline(10000)
            if not line or line[3:4] != b"-":
                return line

    def cmd(self, data):
        self.sock.sendall(data + b"\r\n")
        return self.reply()

    def trickle(self, data, limit):
        """Send data one byte per STEP until the server closes or `limit` seconds pass;
        returns (seconds it took, what the server said)."""
        start = time.monotonic()
        self.sock.settimeout(STEP)
        got = b""
        i = 0
        while time.monotonic() - start < limit:
            try:
                self.sock.sendall(data[i % len(data):i % len(data) + 1])
                i += 1
            except OSError:
                break
            try:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                got += chunk
            except socket.timeout:
                continue
            except OSError:
                break
        return time.monotonic() - start, got

    def close(self):
        self.f.close()
        self.sock.close()


def start(instance, **conf):
    instance.add_user(ALICE)
    instance.set_conf(smtpd_timeout="2s", **conf)
    instance.start()


def test_trickled_commands_are_cut_by_the_command_time_limit(instance):
    start(instance, smtpd_command_time_limit="3s")
    c = Trickler(instance.ports["smtp"])
    assert c.reply().startswith(b"220")
    took, got = c.trickle(b"NOOP\r\n", limit=15)
    c.close()
    assert b"421 4.4.2" in got, got
    assert took < 3 + 3, took   # the limit plus the once-a-second check and some slack
    assert took >= 2.5, took
    instance.wait_log("localhost[127.0.0.1]: time limit exceeded")
    instance.wait_log("timeout after NOOP from localhost[127.0.0.1]")


def test_trickled_data_is_cut_by_the_minimum_data_rate(instance):
    start(instance, smtpd_min_data_rate="100", smtpd_min_data_rate_grace="2s",
          smtpd_command_time_limit="60s")
    c = Trickler(instance.ports["smtp"])
    assert c.reply().startswith(b"220")
    assert c.cmd(b"EHLO client.test").startswith(b"250")
    assert c.cmd(b"MAIL FROM:<s@remote.test>").startswith(b"250")
    assert c.cmd(f"RCPT TO:<{ALICE}>".encode()).startswith(b"250")
    assert c.cmd(b"DATA").startswith(b"354")
    took, got = c.trickle(b"Subject: slow\r\n\r\n" + b"x" * 1000 + b"\r\n.\r\n", limit=15)
    c.close()
    assert b"421 4.4.2" in got, got
    assert took < 2 + 3, took
    instance.wait_log("localhost[127.0.0.1]: data rate too low")
    instance.wait_log("bytes) from localhost[127.0.0.1]")
    assert re.search(r"timeout after DATA \(\d+ bytes\) from localhost\[127\.0\.0\.1\]$",
                     instance.log(), re.M), "Postfix's shape of the timeout line"
    assert instance.queue_files() == []
    assert instance.messages(ALICE) == []


def test_a_queued_message_restarts_the_command_time_limit(instance):
    """A client that keeps delivering mail is not cut: time spent sending content does not
    count against the command time limit, and each queued message starts it again. Here
    each round spends 2 s in commands and 3.5 s in DATA against a 3 s limit."""
    instance.add_user(ALICE)
    instance.set_conf(smtpd_timeout="10s", smtpd_command_time_limit="3s",
                      smtpd_min_data_rate="10", smtpd_min_data_rate_grace="1s")
    instance.start()
    c = Trickler(instance.ports["smtp"])
    assert c.reply().startswith(b"220")
    assert c.cmd(b"EHLO client.test").startswith(b"250")
    for i in range(2):
        time.sleep(2)  # a slow client between commands (the point of the test, not a wait)
        assert c.cmd(b"MAIL FROM:<s@remote.test>").startswith(b"250"), i
        assert c.cmd(f"RCPT TO:<{ALICE}>".encode()).startswith(b"250"), i
        assert c.cmd(b"DATA").startswith(b"354"), i
        c.sock.sendall(b"Subject: m\r\n\r\n" + b"y" * 100 + b"\r\n")
        time.sleep(3.5)  # slow content, still above 10 bytes/s on average
        assert c.cmd(b".").startswith(b"250"), i
    assert c.cmd(b"NOOP").startswith(b"250")
    c.cmd(b"QUIT")
    c.close()
    instance.wait_messages(ALICE, 2)
