"""procmem.py: resident memory of a server instance: the process whose pid is given (a
master) and all its descendants, from /proc. VmRSS (from /proc/PID/status) counts shared
pages once per process; Pss (from /proc/PID/smaps_rollup) divides them among the sharers,
so it is the fairer sum for a process-per-connection server. Used by idle.py and runnable
alone: procmem.py PID -> "rss_kib=N pss_kib=N procs=N"."""
import os
import sys


def children_map():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def tree(root):
    kids = children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def field_kib(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(root):
    """(rss_kib, pss_kib, nprocs) summed over root and its descendants."""
    pids = tree(root)
    rss = sum(field_kib(f"/proc/{p}/status", "VmRSS:") for p in pids)
    pss = sum(field_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
    return rss, pss, len(pids)


if __name__ == "__main__":
    r, p, n = measure(int(sys.argv[1]))
    print(f"rss_kib={r} pss_kib={p} procs={n}")
