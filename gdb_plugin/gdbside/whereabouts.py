"""Which process on this machine an inferior is, if any.

A perf event goes only on a process this GDB controls, never on whatever has the
inferior's pid number here: a core file carries the pids of the process it was
taken from, which may still run; a remote target's pids belong to another
machine or pid namespace, where the same number names another process.

* native: the process is live and its tracer is this GDB.
* remote / extended-remote: the process is local only when proven so: the 16
  random bytes the kernel gave it (the auxiliary vector's AT_RANDOM) read the
  same through the connection and from the local /proc/PID.  Such a process
  (gdbserver over a pipe, or on this machine's namespace) is armed like a native
  one; any other remote inferior is served by GDB's own breakpoints (remote.py).
* anything else (a core file, a program not started): nothing to arm yet.
"""
import os
import struct
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import gdb

AT_RANDOM = 25
RANDOM_BYTES = 16
REMOTE_CONNECTIONS = ("remote", "extended-remote")


@dataclass(frozen=True)
class Whereabouts:
    pid: Optional[int]   # the local process to arm, once proven
    remote: bool         # live on another machine or namespace: GDB's own breakpoints serve it
    why: str             # where it is, for `info hbreak-if`
    other_tracer: Optional[int] = None  # the local gdbserver that traces it, if not GDB


_verdicts: Dict[Tuple[int, int, int], Whereabouts] = {}


def locate(inferior) -> Whereabouts:
    """Where `inferior` lives; remote proofs are kept per (inferior, pid, connection)."""
    connection = inferior.connection if inferior.is_valid() else None
    if connection is None or inferior.pid <= 0:
        return Whereabouts(None, False, "no live process: armed when the program runs")
    key = (inferior.num, inferior.pid, connection.num)
    if key not in _verdicts:
        _verdicts[key] = _find(inferior, connection.type)
    verdict = _verdicts[key]
    if verdict.pid is not None and connection.type == "native" and not _traced_by_us(verdict.pid):
        return Whereabouts(None, False, f"process {verdict.pid} is not traced by this GDB")
    return verdict


def forget(inferior) -> None:
    """The inferior exited or was let go: its pid may name another process next."""
    for key in [k for k in _verdicts if k[0] == inferior.num]:
        del _verdicts[key]


def _find(inferior, connection_type: str) -> Whereabouts:
    pid = inferior.pid
    if connection_type == "native":
        return Whereabouts(pid, False, f"local process {pid}")
    if connection_type in REMOTE_CONNECTIONS:
        if _same_process_here(inferior, pid):
            return Whereabouts(pid, False, f"local process {pid}, debugged through "
                                           f"{connection_type} (same random bytes here)",
                               _tracer(pid))
        return Whereabouts(None, True, f"process {pid} of {_target(connection_type)}, not a "
                                       "process of this machine that GDB could prove")
    return Whereabouts(None, False, f"no live process ({_target(connection_type)}): armed "
                                    "when the program runs")


def _target(connection_type: str) -> str:
    if connection_type == "core":
        return "a core file"
    article = "an" if connection_type[:1] in "aeiou" else "a"
    return f"{article} {connection_type} target"


def _tracer(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1]) or None
    except (OSError, ValueError):
        pass
    return None


def _traced_by_us(pid: int) -> bool:
    return _tracer(pid) == os.getpid()


def _auxv_entry(pid: int, tag: int) -> Optional[int]:
    with open(f"/proc/{pid}/auxv", "rb") as auxv:
        data = auxv.read()
    for offset in range(0, len(data) - 15, 16):
        key, value = struct.unpack_from("<QQ", data, offset)
        if key == tag:
            return value
    return None


def _same_process_here(inferior, pid: int) -> bool:
    """Whether local process `pid` is the inferior: the same AT_RANDOM bytes, read locally
    and through GDB's connection (a kernel thread or another program has others)."""
    try:
        address = _auxv_entry(pid, AT_RANDOM)
        if address is None:
            return False
        with open(f"/proc/{pid}/mem", "rb") as memory:
            memory.seek(address)
            here = memory.read(RANDOM_BYTES)
        there = bytes(inferior.read_memory(address, RANDOM_BYTES))
    except (OSError, gdb.error):
        return False
    return len(here) == RANDOM_BYTES and here == there
