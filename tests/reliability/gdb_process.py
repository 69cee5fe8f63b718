"""Inside GDB: what the GDB process holds, for the soak and input drivers' before/after checks."""
import os


def fds():
    """Open fds by kind: perf events and BPF objects are anon inodes, the rest is "other"."""
    kinds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue                      # the listing's own fd, closed by now
        kind = target if target.startswith("anon_inode:") else "other"
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
