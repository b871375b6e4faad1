"""procmem.py: resident memory of a server instance, from /proc.

The instance's processes are its master (the pid given) and all the master's descendants
(by parent pid, which process-title rewriting cannot change), plus, when EXE_DIR and MARKER
are given, any other process whose executable lies under EXE_DIR and whose command line or
environment contains MARKER (a process of the instance that was reparented; Posthorn's
daemons carry "-c CONFDIR" in their rewritten titles, Postfix's daemons MAIL_CONFIG=CONFDIR
in their environment; Posthorn's title rewrite overwrites its environment, so
POSTHORN_CONFIG cannot be read back from /proc/PID/environ).

VmRSS (from /proc/PID/status) counts shared pages once per process; Pss (from
/proc/PID/smaps_rollup) divides them among the sharers, so it is the fairer sum for a
process-per-connection server. Used by idle.py and runnable alone:
  procmem.py PID [EXE_DIR MARKER] -> "rss_kib=N pss_kib=N procs=N"."""
import os
import sys


def _read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def _pids():
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def children_map():
    kids = {}
    for pid in _pids():
        stat = _read(f"/proc/{pid}/stat")
        if stat is None:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(pid)
    return kids


def tree(root):
    kids = children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def marked(exe_dir, marker):
    """Processes whose executable is under exe_dir and whose cmdline or environ holds
    marker."""
    out, prefix, mark = [], exe_dir.rstrip("/") + "/", marker.encode()
    for pid in _pids():
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if not exe.startswith(prefix):
            continue
        for what in ("cmdline", "environ"):
            data = _read(f"/proc/{pid}/{what}", "rb")
            if data and mark in data:
                out.append(pid)
                break
    return out


def instance(root, exe_dir=None, marker=None):
    pids = set(tree(root))
    if exe_dir and marker:
        pids.update(marked(exe_dir, marker))
    return sorted(pids)


def field_kib(path, key):
    text = _read(path)
    for line in (text or "").splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def measure(root, exe_dir=None, marker=None):
    """(rss_kib, pss_kib, nprocs) summed over the instance's processes."""
    pids = instance(root, exe_dir, marker)
    rss = sum(field_kib(f"/proc/{p}/status", "VmRSS:") for p in pids)
    pss = sum(field_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
    return rss, pss, len(pids)


def _nfds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def top(root, exe_dir=None, marker=None, show=4):
    """The instance's processes grouped by executable name, biggest Pss first:
    "NAME xCOUNT rss=KiB pss=KiB fds=N" per group, with the fds of each process
    ("fds=5012+4990") when the group has at most `show` processes: how sessions spread."""
    groups = {}
    for p in instance(root, exe_dir, marker):
        try:
            name = os.path.basename(os.readlink(f"/proc/{p}/exe"))
        except OSError:
            continue
        g = groups.setdefault(name, [0, 0, []])
        g[0] += field_kib(f"/proc/{p}/status", "VmRSS:")
        g[1] += field_kib(f"/proc/{p}/smaps_rollup", "Pss:")
        g[2].append(_nfds(p))
    out = []
    for name, (rss, pss, fds) in sorted(groups.items(), key=lambda kv: -kv[1][1]):
        f = "+".join(map(str, sorted(fds, reverse=True))) if len(fds) <= show else str(sum(fds))
        out.append(f"{name} x{len(fds)} rss={rss} pss={pss} fds={f}")
    return "; ".join(out)


if __name__ == "__main__":
    args = sys.argv[1:]
    r, p, n = measure(int(args[0]), *(args[1:3] if len(args) >= 3 else ()))
    print(f"rss_kib={r} pss_kib={p} procs={n}")
