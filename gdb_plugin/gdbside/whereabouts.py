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
  one.  Any other remote inferior is armed by the agent beside its gdbserver where
  one is set (agentlink.py), which checks the same evidence in its own namespace;
  without one it is served by GDB's own breakpoints (remote.py).
* anything else (a core file, a program not started): nothing to arm yet.
"""
import os
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import gdb

from ..kernel import procfs
from ..kernel.procfs import AT_RANDOM, RANDOM_BYTES
from . import agentlink

REMOTE_CONNECTIONS = ("remote", "extended-remote")


@dataclass(frozen=True)
class Whereabouts:
    pid: Optional[int]   # the local process to arm, once proven
    remote: bool         # live on another machine or namespace: GDB's own breakpoints serve it
    why: str             # where it is, for `info hbreak-if`
    other_tracer: Optional[int] = None  # the local gdbserver that traces it, if not GDB
    agent: Optional[agentlink.AgentLink] = None  # the target's agent, which arms pid there


_verdicts: Dict[Tuple[int, int, int, str], Whereabouts] = {}


def locate(inferior) -> Whereabouts:
    """Where `inferior` lives; remote proofs are kept per (inferior, pid, connection)."""
    verdict = _verdict(inferior)
    if verdict.pid is None:
        return verdict
    if inferior.connection.type == "native" and not _traced_by_us(verdict.pid):
        return Whereabouts(None, False, f"process {verdict.pid} is not traced by this GDB")
    if _left_after_fork(inferior, verdict):
        return Whereabouts(None, False, f"process {verdict.pid}: GDB follows its child and "
                                        "detaches it")
    return verdict


def _verdict(inferior) -> Whereabouts:
    connection = inferior.connection if inferior.is_valid() else None
    if connection is None or inferior.pid <= 0:
        return Whereabouts(None, False, "no live process: armed when the program runs")
    key = _key(inferior)
    if key not in _verdicts:
        _verdicts[key] = _find(inferior, connection.type)
    return _verdicts[key]


def _key(inferior) -> Tuple[int, int, int, str]:
    return inferior.num, inferior.pid, inferior.connection.num, agentlink.command()


def unproven_remote(inferior) -> bool:
    """A live remote inferior whose place is not known yet."""
    connection = inferior.connection if inferior.is_valid() else None
    return (connection is not None and connection.type in REMOTE_CONNECTIONS
            and inferior.pid > 0 and _key(inferior) not in _verdicts)


def _left_after_fork(inferior, verdict: Whereabouts) -> bool:
    """Whether GDB, following the child of a fork, is about to detach `inferior`: it loads the
    child's symbols first, and a parent armed then would run on with its events, untraced,
    and die of the first SIGTRAP a match sends.  The child has its pid before its connection."""
    if gdb.parameter("follow-fork-mode") != "child" or not gdb.parameter("detach-on-fork"):
        return False
    connection = inferior.connection.num
    return any(other.num != inferior.num and other.pid > 0
               and (other.connection is None or other.connection.num == connection)
               and _parent_of(other.pid, verdict) == inferior.pid for other in gdb.inferiors())


def _parent_of(pid: int, verdict: Whereabouts) -> Optional[int]:
    """The parent of process `pid` of the target through which `verdict` was reached."""
    try:
        return verdict.agent.parent_of(pid) if verdict.agent is not None else procfs.parent_of(pid)
    except (procfs.TargetError, agentlink.AgentError):
        return None


def forget(inferior) -> None:
    """The inferior exited or was let go: its pid may name another process next."""
    for key in [k for k in _verdicts if k[0] == inferior.num]:
        del _verdicts[key]
    agentlink.close(inferior)


def drop_agent(link) -> None:
    """The agent `link` cannot serve: where it did, the inferior is served by GDB's own
    breakpoints (its next stop moves them there)."""
    global _dropped
    for key in [k for k, verdict in _verdicts.items() if verdict.agent is link]:
        pid = key[1]
        _verdicts[key] = Whereabouts(None, True, f"process {pid} of a remote target, whose agent "
                                                 f"`{link.command}` ended")
        _dropped = True
    agentlink.forget(link)


_dropped = False


def agent_dropped() -> bool:
    """Whether an agent was dropped since the last call."""
    global _dropped
    dropped, _dropped = _dropped, False
    return dropped


def _find(inferior, connection_type: str) -> Whereabouts:
    pid = inferior.pid
    if connection_type == "native":
        return Whereabouts(pid, False, f"local process {pid}")
    if connection_type in REMOTE_CONNECTIONS:
        if _same_process_here(inferior, pid):
            return Whereabouts(pid, False, f"local process {pid}, debugged through "
                                           f"{connection_type} (same random bytes here)",
                               _tracer(pid))
        return _served_by_agent(inferior, connection_type)
    return Whereabouts(None, False, f"no live process ({_target(connection_type)}): armed "
                                    "when the program runs")


def _served_by_agent(inferior, connection_type: str) -> Whereabouts:
    """A remote process, armed by the agent on its machine where one is set and proves it."""
    pid, target = inferior.pid, _target(connection_type)
    unproven = f"process {pid} of {target}, not a process of this machine that GDB could prove"
    command = agentlink.command()
    if not command:
        return Whereabouts(None, True, unproven)
    try:
        link = agentlink.link_for(inferior, command)
    except agentlink.AgentError as error:
        gdb.write(f"warning: hbreak-if: the remote agent cannot serve process {pid}: {error}\n"
                  "GDB's own breakpoints serve it, the condition evaluated by the target.\n",
                  gdb.STDERR)
        return Whereabouts(None, True, f"{unproven}; the agent `{command}` could not serve it: "
                                       f"{error}")
    return Whereabouts(pid, False, f"process {pid} of {target}, armed by the agent on "
                                   f"{link.host} beside gdbserver (`{command}`)", agent=link)


def _target(connection_type: str) -> str:
    if connection_type == "core":
        return "a core file"
    article = "an" if connection_type[:1] in "aeiou" else "a"
    return f"{article} {connection_type} target"


def _tracer(pid: int) -> Optional[int]:
    try:
        return procfs.tracer_of(pid)
    except procfs.TargetError:
        return None


def _traced_by_us(pid: int) -> bool:
    return _tracer(pid) == os.getpid()


def _same_process_here(inferior, pid: int) -> bool:
    """Whether local process `pid` is the inferior: the same AT_RANDOM bytes, read locally
    and through GDB's connection (a kernel thread or another program has others)."""
    try:
        address = procfs.auxv_value(pid, AT_RANDOM)
        if address is None:
            return False
        procfs.check_evidence(pid, address, bytes(inferior.read_memory(address, RANDOM_BYTES)))
    except (procfs.TargetError, gdb.error):
        return False
    return True
