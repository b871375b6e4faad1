"""smtp_wire.py - raw SMTP on a socket for the tests that need exact bytes (smtplib hides
them): read one whole reply, multi-line included (RFC 5321 sec 4.2.1), and send a command."""


def reply(f):
    """(code, all reply lines as bytes); code is None when the server closed first."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            return None, b"".join(lines)
        lines.append(line)
        if line[3:4] != b"-":
            return int(line[:3]), b"".join(lines)


def cmd(s, f, line):
    s.sendall(line + b"\r\n")
    return reply(f)
