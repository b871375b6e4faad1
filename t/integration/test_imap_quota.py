"""QUOTA (RFC 9208, doc/imapd.md) with Python's imaplib: one quota root "" per user with the
STORAGE resource in KiB, the same limit delivery, APPEND and COPY enforce; usage follows an
APPEND; over the limit APPEND gets NO [OVERQUOTA]; no quota, no root; SETQUOTA is refused."""
import imaplib
import re

from conftest import DOMAIN
from test_imap import start
from test_pop3 import tls_context


def login(inst, user):
    m = imaplib.IMAP4_SSL("127.0.0.1", inst.ports["imaps"], ssl_context=tls_context())
    m.login(user, "secret")
    return m


def storage(m):
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK", data
    roots, quotas = data
    assert roots in ([b'INBOX ""'], [b'"INBOX" ""']), roots
    found = re.fullmatch(rb'"" \(STORAGE (\d+) (\d+)\)', quotas[0])
    assert found, quotas
    return int(found.group(1)), int(found.group(2))


def test_quota_root_usage_and_limit(instance):
    inst = start(instance)
    user = f"quota@{DOMAIN}"
    inst.add_user(user, quota=200 * 1024)
    m = login(inst, user)
    assert b"QUOTA=RES-STORAGE" in m.capability()[1][0]
    used, limit = storage(m)
    assert (used, limit) == (0, 200)
    big = b"Subject: big\r\n\r\n" + b"x" * 100 * 1024 + b"\r\n"
    assert m.append("INBOX", None, None, big)[0] == "OK"
    used, _ = storage(m)
    assert 100 <= used <= 102, used
    typ, data = m.getquota('""')
    assert typ == "OK" and data == [b'"" (STORAGE %d 200)' % used], data
    assert m.append("INBOX", None, None, big)[0] == "OK"  # usage was under the limit
    typ, data = m.append("INBOX", None, None, big)
    assert typ == "NO" and b"[OVERQUOTA]" in data[0], data
    typ, data = m.setquota('""', "(STORAGE 1000000)")
    assert typ == "NO" and b"[NOPERM]" in data[0], data
    typ, data = m.getquotaroot("NoSuchFolder")
    assert typ == "NO" and "[NONEXISTENT]" in str(data), data
    m.logout()


def test_no_quota_no_root(instance):
    inst = start(instance)
    user = f"free@{DOMAIN}"
    inst.add_user(user)
    m = login(inst, user)
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK" and data[0] in ([b"INBOX"], [b'"INBOX"']), data
    typ, data = m.getquota('""')
    assert typ == "NO" and "[NONEXISTENT]" in str(data), data
    m.logout()
