"""A stricter "queue is empty" for the tests that own it: conftest's wait_queue_empty looks
at incoming/, active/, deferred/ and hold/ only, so a message moved to corrupt/ or a
temporary file left in tmp/ would pass it. This waits for those four and then requires
corrupt/ and tmp/ to be empty as well."""
import time


def spool_leftovers(inst):
    """{queue: [names]} of every non-empty spool directory a message can be in."""
    out = {}
    for q in ("incoming", "active", "deferred", "hold", "corrupt", "tmp"):
        d = inst.spool / q
        names = sorted(p.name for p in d.iterdir()) if d.is_dir() else []
        if names:
            out[q] = names
    return out


def wait_spool_clean(inst, timeout=30):
    """Wait until no queue holds a message, then check nothing went to corrupt/ or tmp/."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        left = spool_leftovers(inst)
        if not set(left) & {"incoming", "active", "deferred", "hold"}:
            break
        time.sleep(0.05)
    left = spool_leftovers(inst)
    assert left == {}, f"spool not clean: {left}\n{inst.log()[-4000:]}"
