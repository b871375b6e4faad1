"""Hand-built queue files (doc/queue-format.md, Records) for tests that put files into the
spool themselves or hand a queue file's descriptor to a delivery agent: records are a type
byte, a 4-byte big-endian length and the payload."""
import os
import random
import struct
import time


def new_queue_id():
    """18 upper-case hex digits: 13 of the time in microseconds, 5 random."""
    return "%013X%05X" % (int(time.time() * 1e6), random.randrange(1 << 20))


def record(rtype, payload=b""):
    return rtype + struct.pack(">I", len(payload)) + payload


def queue_file_bytes(sender, rcpts, content, attrs=()):
    """A complete, valid queue file: V T S A* R* M B E."""
    out = [record(b"V", b"1"), record(b"T", b"%d.000000" % int(time.time())),
           record(b"S", sender.encode())]
    out += [record(b"A", a.encode()) for a in attrs]
    out += [record(b"R", r.encode() + b"\0\0") for r in rcpts]
    out += [record(b"M"), record(b"B", content), record(b"E")]
    return b"".join(out)


def write_queue_file(path, data, like):
    """Write data to path with the owner of the directory `like` and mode 0600, as smtpd
    would (the daemons run as mail_owner when the instance was started by root)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        st = os.stat(like)
        os.fchown(fd, st.st_uid, st.st_gid)
    finally:
        os.close(fd)
