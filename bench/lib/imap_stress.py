"""imap_stress.py: one run of Dovecot's imaptest in stress mode against one IMAP server.

  imap_stress.py prepare --prefix DIR --mbox FILE
      finds DIR/bin/imaptest (building it into DIR with ../shared/tools/build-imaptest when
      missing, as t/imaptest/run does), writes the stress mbox (imaptest's test mailboxes
      with unique Message-IDs, t/imaptest/imaptest_tool.py) and prints "imaptest=PATH";
      exits 77 when the build script is not there.
  imap_stress.py run --imaptest PATH --mbox FILE --port P --user U --password PW
                 --clients C --secs S [--seed N] [--msgs N] [--log FILE] [STATE=N%...]
      runs `imaptest host=127.0.0.1 port=P user=U pass=PW mbox=FILE clients=C secs=S
      seed=N msgs=N STATE=N%...` (plaintext IMAP, LOGIN; STATE=N% changes the probability
      of a command, e.g. logout=0 keeps the sessions logged in) and prints imaptest's
      per-command totals:
        Logi=n List=n Stat=n Sele=n Fetc=n Fet2=n Stor=n Dele=n Expu=n Appe=n Logo=n
        secs=S wall=W problems=K
      K is the number of error and protocol-violation lines imaptest reported (the first
      few go to stderr, the whole output to --log). Exits 1 without a "Totals:" block.
The counts include the commands of imaptest's final logout phase after S seconds."""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / "t" / "imaptest"))
import imaptest_tool  # noqa: E402


def prepare(a):
    try:
        exe, tests = imaptest_tool.binary(a.prefix)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    if exe is None:
        print(f"{imaptest_tool.TOOLS}/build-imaptest is not there", file=sys.stderr)
        return 77
    imaptest_tool.stress_mbox(tests, a.mbox)
    print(f"imaptest={exe}")
    return 0


def run(a):
    cmd = [a.imaptest, "host=127.0.0.1", f"port={a.port}", f"user={a.user}",
           f"pass={a.password}", f"mbox={a.mbox}", f"clients={a.clients}", f"secs={a.secs}",
           f"seed={a.seed}", f"msgs={a.msgs}", *a.states]
    start = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.secs + 300,
                           cwd=os.path.dirname(os.path.abspath(a.mbox)))
        out = r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        out += "\n(imaptest did not finish)"
    wall = time.monotonic() - start
    if a.log:
        Path(a.log).write_text(out)
    totals = imaptest_tool.totals(out)
    problems = imaptest_tool.problems(out)
    for line in problems[:5]:
        print(line[:300], file=sys.stderr)
    if not totals:
        print("imaptest printed no totals: " + out[-500:].replace("\n", " | "), file=sys.stderr)
        return 1
    print(" ".join(f"{k}={v}" for k, v in totals.items()) +
          f" secs={a.secs} wall={wall:.1f} problems={len(problems)}")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--prefix", required=True)
    p.add_argument("--mbox", required=True)
    r = sub.add_parser("run")
    r.add_argument("--imaptest", required=True)
    r.add_argument("--mbox", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--user", required=True)
    r.add_argument("--password", required=True)
    r.add_argument("--clients", type=int, default=10)
    r.add_argument("--secs", type=int, default=30)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--msgs", type=int, default=30)
    r.add_argument("--log")
    r.add_argument("states", nargs="*", help="imaptest state probabilities, e.g. logout=0")
    a = ap.parse_args()
    return prepare(a) if a.what == "prepare" else run(a)


if __name__ == "__main__":
    sys.exit(main())
