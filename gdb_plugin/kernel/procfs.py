"""The process the agent serves, as /proc shows it: the evidence that names it, its threads,
its tracer and its mappings.  Every path is of the agent's own pid namespace, checked by
`check_proc_is_ours` before a pid is trusted."""
import errno
import os
import struct
from typing import List, NamedTuple, Optional, Set, Tuple


AT_RANDOM = 25     # the auxiliary vector's tag for 16 bytes the kernel chose at random
RANDOM_BYTES = 16
_AUXV_ENTRY = struct.Struct("@LL")  # (tag, value), native unsigned longs


class TargetError(Exception):
    """The process cannot be named or read; the text says why."""


def _unreadable(path: str, error: OSError) -> TargetError:
    why = f"cannot read {path}: {error.strerror}"
    if error.errno in (errno.EACCES, errno.EPERM):
        why += "; the agent acts only on processes its own user may ptrace"
    return TargetError(why)


def check_proc_is_ours() -> None:
    """/proc must be the agent's pid namespace's, or its pids name other processes than the
    kernel's calls (perf_event_open, pidfd_open) do."""
    try:
        seen_as = os.readlink("/proc/self")
    except OSError as error:
        raise TargetError(f"/proc is not readable: {error.strerror}") from None
    if seen_as != str(os.getpid()):
        raise TargetError("/proc is not of the agent's pid namespace: start the agent "
                          "in the target's mount namespace too (nsenter --mount)")


def auxv_value(pid: int, tag: int) -> Optional[int]:
    path = f"/proc/{pid}/auxv"
    try:
        with open(path, "rb") as auxv:
            data = auxv.read()
    except FileNotFoundError:
        raise TargetError(f"no process {pid} in the agent's pid namespace") from None
    except OSError as error:
        raise _unreadable(path, error) from None
    whole = len(data) - len(data) % _AUXV_ENTRY.size
    return next((value for found, value in _AUXV_ENTRY.iter_unpack(data[:whole])
                 if found == tag), None)


def read_memory(pid: int, address: int, size: int) -> bytes:
    path = f"/proc/{pid}/mem"
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.pread(fd, size, address)
        finally:
            os.close(fd)
    except OSError as error:
        raise _unreadable(path, error) from None


def write_memory(pid: int, address: int, data: bytes) -> None:
    """Write `data` at `address` in process `pid` (its tracer may, as GDB does, in its code)."""
    path = f"/proc/{pid}/mem"
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.pwrite(fd, data, address)
        finally:
            os.close(fd)
    except OSError as error:
        raise _unreadable(path, error) from None


def check_evidence(pid: int, random_address: int, random: bytes) -> None:
    """Process `pid` is the one GDB debugs: its AT_RANDOM bytes, 16 bytes the kernel chose at
    random for it, are where and what GDB read through gdbserver."""
    address = auxv_value(pid, AT_RANDOM)
    if address is None:
        raise TargetError(f"process {pid} has no AT_RANDOM entry in its auxiliary vector")
    if address != random_address:
        raise TargetError(f"process {pid}'s AT_RANDOM address is {address:#x}, not "
                          f"{random_address:#x}: it is not the process GDB debugs")
    if read_memory(pid, address, RANDOM_BYTES) != random:
        raise TargetError(f"process {pid}'s AT_RANDOM bytes differ from GDB's: it is not the "
                          "process GDB debugs")


def tracer_of(pid: int) -> Optional[int]:
    """The process tracing `pid` (its gdbserver), if any."""
    return _status_pid(pid, "TracerPid:")


def parent_of(pid: int) -> Optional[int]:
    return _status_pid(pid, "PPid:")


def _status_pid(pid: int, field: str) -> Optional[int]:
    path = f"/proc/{pid}/status"
    try:
        with open(path) as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1]) or None
    except OSError as error:
        raise _unreadable(path, error) from None
    return None


def tasks(pid: int) -> Set[int]:
    """The threads of process `pid`."""
    try:
        return {int(tid) for tid in os.listdir(f"/proc/{pid}/task")}
    except OSError:
        return set()


def is_thread_of(pid: int, tid: int) -> bool:
    """Whether thread `tid` is one of process `pid`'s now: a tid listed earlier may since have
    exited and been given to another process's thread."""
    return os.path.exists(f"/proc/{pid}/task/{tid}")


def mappings(pid: int) -> List[list]:
    """[start, end, executable] of the process's mappings, adjacent ones of one kind merged: the
    answer stays short for a process of thousands of threads.  Once the main thread has exited
    (pthread_exit), the process's own maps file is empty: a live thread's is read instead."""
    ranges = _read_maps(f"/proc/{pid}/maps")
    for tid in [] if ranges else sorted(tasks(pid)):
        ranges = _read_maps(f"/proc/{pid}/task/{tid}/maps")
        if ranges:
            break
    return ranges


class MappedFile(NamedTuple):
    path: str    # as the kernel names the file
    offset: int  # of the address in the file
    file: Tuple[str, int]  # its device and inode


class FileMapping(NamedTuple):
    start: int
    end: int
    offset: int  # of `start` in the file
    path: str    # as the kernel names the file
    file: Tuple[str, int]  # its device and inode


def file_mappings(pid: int) -> List[FileMapping]:
    """The executable mappings of files in process `pid` (none if it cannot be read)."""
    found = []
    try:
        with open(f"/proc/{pid}/maps") as maps:
            for line in maps:
                fields = line.split(maxsplit=5)
                if "x" in fields[1] and fields[4] != "0":
                    start, end = (int(bound, 16) for bound in fields[0].split("-"))
                    path = fields[5].rstrip("\n") if len(fields) == 6 else ""
                    found.append(FileMapping(start, end, int(fields[2], 16), path,
                                             (fields[3], int(fields[4]))))
    except OSError:
        pass
    return found


def file_at(mappings: List[FileMapping], address: int) -> Optional[MappedFile]:
    """The file, and the offset in it, of an address in one of `mappings` (a uprobe is set at
    a file offset); None elsewhere (anonymous code, a JIT's) or in a deleted file."""
    for mapping in mappings:
        if mapping.start <= address < mapping.end:
            if not mapping.path.startswith("/") or mapping.path.endswith(" (deleted)"):
                return None
            return MappedFile(mapping.path, mapping.offset + address - mapping.start,
                              mapping.file)
    return None


def files_run(pid: int) -> Set[Tuple[str, int]]:
    """Device and inode of each file process `pid` maps executable."""
    return {mapping.file for mapping in file_mappings(pid)}


def traced_processes() -> List[int]:
    """The processes a debugger (or another tracer) traces now."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if tracer_of(int(entry)):
                    found.append(int(entry))
            except TargetError:
                pass  # gone since
    return found


def _read_maps(path: str) -> List[list]:
    ranges: List[list] = []
    try:
        with open(path) as maps:
            for line in maps:
                span, perms = line.split()[:2]
                start, end = (int(bound, 16) for bound in span.split("-"))
                executable = "x" in perms
                if ranges and ranges[-1][1] == start and ranges[-1][2] == executable:
                    ranges[-1][1] = end
                else:
                    ranges.append([start, end, executable])
    except OSError:
        pass
    return ranges
