"""The open-file limit.  Arming takes a descriptor per thread and breakpoint: four breakpoints
on 2,000 threads need 8,000, while sessions usually start with a soft limit of 1,024 and a hard
limit far higher.  As many tools do, GDB's soft limit is raised to the hard limit; the programs
GDB starts, which inherit it, are given the original back."""
import resource

NOFILE = resource.RLIMIT_NOFILE


def _ceiling(hard: int) -> int:
    """The highest soft limit allowed: the hard limit, or fs.nr_open when that is unlimited."""
    if hard != resource.RLIM_INFINITY:
        return hard
    with open("/proc/sys/fs/nr_open") as nr_open:
        return int(nr_open.read())


def raise_open_files_limit() -> int:
    """Raise this process's soft limit of open files as far as allowed; the soft limit before."""
    soft, hard = resource.getrlimit(NOFILE)
    try:
        ceiling = _ceiling(hard)
        if soft < ceiling:
            resource.setrlimit(NOFILE, (ceiling, hard))
    except (OSError, ValueError):
        pass  # the limit stays: arming falls back where it runs out
    return soft


def restore_open_files_limit(pid: int, soft: int) -> None:
    """Give process `pid`, started with this process's raised limit, the soft limit `soft`."""
    current, hard = resource.prlimit(pid, NOFILE)
    if current != soft:
        resource.prlimit(pid, NOFILE, (min(soft, hard), hard))
