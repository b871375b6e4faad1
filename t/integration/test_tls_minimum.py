"""The TLS 1.2 minimum (doc/smtpd.md SECURITY, smtpd_tls_protocols_min; doc/pop3d.md,
pop3d_tls_protocols_min) on every TLS entry point: smtpd STARTTLS, pop3d STLS on 110 and
POP3S on 995. The client is told to really offer TLS 1.1 and 1.0 (tls_probe.py), the same
client must succeed at TLS 1.2, and the refusal must be the server's protocol_version alert."""
import pytest

from tls_probe import assert_server_accepts, assert_server_refuses

ENTRY_POINTS = [("smtp", "smtp"), ("pop3", "pop3"), ("pop3s", None)]


@pytest.fixture(scope="module")
def tls_server():
    from conftest import make_instance
    import shutil
    inst = make_instance()
    try:
        inst.start()
        inst.wait_port(inst.ports["pop3"])
        inst.wait_port(inst.ports["pop3s"])
        yield inst
    finally:
        inst.stop()
        inst.kill_all()
        shutil.rmtree(inst.root, ignore_errors=True)


@pytest.mark.parametrize("service,starttls", ENTRY_POINTS)
def test_tls12_accepted(tls_server, service, starttls):
    assert_server_accepts(tls_server.ports[service], "-tls1_2", starttls)


@pytest.mark.parametrize("version", ["-tls1_1", "-tls1"])
@pytest.mark.parametrize("service,starttls", ENTRY_POINTS)
def test_older_than_tls12_refused_by_server(tls_server, service, starttls, version):
    assert_server_refuses(tls_server.ports[service], version, starttls)
