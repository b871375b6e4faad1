"""One TLS handshake attempt with openssl s_client at a chosen protocol version, for the
tests of the TLS 1.2 minimum. Debian's OpenSSL 3 client will not even offer TLS 1.1 or 1.0
at its default security level, so a plain `-tls1_1` fails on the client side whatever the
server allows; `-cipher DEFAULT@SECLEVEL=0` makes the client really try, and the refusal
must then come from the server as a protocol_version alert."""
import subprocess


def s_client(port, version_flag, starttls=None):
    """(returncode, stdout, stderr) of one handshake at version_flag ("-tls1_1", ...)."""
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", version_flag,
            "-cipher", "DEFAULT@SECLEVEL=0"]
    if starttls:
        args += ["-starttls", starttls]
    p = subprocess.run(args, input=b"", capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def assert_server_refuses(port, version_flag, starttls=None):
    code, out, err = s_client(port, version_flag, starttls)
    assert code != 0 and "Cipher is (NONE)" in out, out + err
    # The server said no (alert 70), not our own client ("no protocols available").
    assert "alert protocol version" in err, err


def assert_server_accepts(port, version_flag, starttls=None, expect="TLSv1.2"):
    """The same client succeeds at a version the server allows."""
    code, out, err = s_client(port, version_flag, starttls)
    assert f"New, {expect}, Cipher is " in out and "Cipher is (NONE)" not in out, out + err
