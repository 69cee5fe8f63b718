"""Running a workload without a debugger: alone, or under a counting perf breakpoint (the floor),
or a counting uprobe (the uprobe floor).

The child is forked here, disables address-space randomization (as GDB and
gdbserver do, so the breakpoint address is the one GDB resolves), and waits
on a pipe; the perf event is opened on it with enable_on_exec, so it counts
the workload's hits and nothing of the fork.  The event only counts: no
sample period, no BPF program, no signal -- one debug exception per hit.
The uprobe is a link bound to the child, whose program only counts: its int3
goes into the child's memory when its exec maps the program.
"""
import ctypes
import os
import re
import signal
import subprocess
import time
from typing import List, NamedTuple, Optional

from gdb_plugin.ebpf import (Alu, Jmp, Reg, alu64, atomic_fetch_add, call, encode_program,
                             exit_insn, jmp, ld_map_fd, mov64, st)
from gdb_plugin.ebpf.helpers import Helper
from gdb_plugin.kernel import syscalls, uprobe
from gdb_plugin.kernel.maps import BPF_MAP_TYPE_ARRAY, BpfMap
from gdb_plugin.kernel.perf import AttrFlag, BpType, PerfBreakpoint, breakpoint_attr

ADDR_NO_RANDOMIZE = 0x0040000
PIE_BASE = 0x555555554000  # where Linux loads a PIE program with randomization off
_libc = ctypes.CDLL(None, use_errno=True)


def resolve_address(workload, gdb="gdb") -> int:
    """The address GDB puts `break LOCATION` at, or of the watched `LOCATION`, in the running
    workload (ASLR off)."""
    argv = workload.argv(workload.threads * 2)
    stop, address = (("main", f"&({workload.location})") if workload.watch
                     else (workload.location, "$pc"))
    command = [gdb, "-batch", "-nx", "-ex", "set breakpoint pending on",
               "-ex", f"break {stop}", "-ex", "run",
               "-ex", f'printf "BENCH-ADDR %#lx\\n", {address}', "-ex", "kill", "--args", *argv]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    match = re.search(r"BENCH-ADDR (0x[0-9a-f]+)", out)
    if not match:
        raise RuntimeError(f"could not resolve {workload.location} in {workload.name}:\n{out}")
    return int(match.group(1), 16)


def _open_counter(pid: int, address: int, watch_length: int) -> PerfBreakpoint:
    kind = dict(bp_type=BpType.W, length=watch_length) if watch_length else {}
    attr = breakpoint_attr(address, sigtrap=False, remove_on_exec=False, inherit=True,
                           disabled=True, sample_period=0, **kind)
    attr.flags = int(attr.flags) | AttrFlag.ENABLE_ON_EXEC
    fd = syscalls.perf_event_open(attr, pid, -1, -1, syscalls.PERF_FLAG_FD_CLOEXEC,
                                  operation=f"perf_event_open(counting breakpoint at "
                                  f"{address:#x} on {pid})")
    return PerfBreakpoint(fd, pid, attr)


def counting_program(counter_fd: int) -> bytes:
    """A uprobe's program that only counts its hits, in slot 0 of array map `counter_fd`."""
    return encode_program([
        st(4, Reg.R10, -4, 0), ld_map_fd(Reg.R1, counter_fd),
        mov64(Reg.R2, Reg.R10), alu64(Alu.ADD, Reg.R2, -4), call(Helper.MAP_LOOKUP_ELEM),
        jmp(Jmp.EQ, Reg.R0, 0, 2),
        mov64(Reg.R1, 1), atomic_fetch_add(8, Reg.R0, 0, Reg.R1),
        mov64(Reg.R0, 0), exit_insn()])


class _UprobeCounter:
    """A counting uprobe at `address` of the program `path` (a PIE, run with randomization
    off), in process `pid`."""

    def __init__(self, pid: int, path: str, address: int):
        self.counter = BpfMap.create(BPF_MAP_TYPE_ARRAY, 1, ctypes.c_uint32, ctypes.c_uint64)
        self.program = uprobe.load(counting_program(self.counter.fd), "bench_uprobe_floor")
        self.link = uprobe.UprobeLink.attach(self.program, pid, os.path.realpath(path),
                                             address - PIE_BASE)

    def count(self) -> int:
        return self.counter.get(0)

    def close(self):
        uprobe.release([self.link])
        self.program.close()
        self.counter.close()


def _wait(pid, timeout):
    """Blocking wait4 -> (pid, status, rusage), the child killed after `timeout` seconds."""
    def expire(signum, frame):
        raise TimeoutError(f"the workload ran longer than {timeout:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return os.wait4(pid, 0)
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Timed(NamedTuple):
    wall: float             # seconds from the release of the child to its exit
    cpu: float              # user + system seconds of the child (all its threads)
    count: Optional[int]    # hits the counting breakpoint saw, or None


def run(argv: List[str], address: Optional[int] = None, timeout: float = 600.0,
        watch_length: int = 0, with_uprobe: bool = False) -> Timed:
    """Run `argv` to completion -> its times and the breakpoint count.

    With `address`, a counting hardware breakpoint is on the program (and its
    threads) from its exec to its exit: on the instruction there, or with
    `watch_length`, on writes to that many bytes there; `with_uprobe`, a
    counting uprobe on the instruction there instead.
    """
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(ready_w)
            _libc.personality(ADDR_NO_RANDOMIZE)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.read(ready_r, 1)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    os.close(ready_r)
    counter = None
    try:
        if address is not None and with_uprobe:
            counter = _UprobeCounter(pid, argv[0], address)
        elif address is not None:
            counter = _open_counter(pid, address, watch_length)
        start = time.perf_counter()
        os.write(ready_w, b"x")
        os.close(ready_w)
        ready_w = None
        _, status, usage = _wait(pid, timeout)
        elapsed = time.perf_counter() - start
        if os.WIFSIGNALED(status):
            raise RuntimeError(f"{os.path.basename(argv[0])} was killed by "
                               f"{signal.Signals(os.WTERMSIG(status)).name}")
        if os.WEXITSTATUS(status) != 0:
            raise RuntimeError(f"{os.path.basename(argv[0])} exited with status "
                               f"{os.WEXITSTATUS(status)}")
        return Timed(elapsed, usage.ru_utime + usage.ru_stime,
                     counter.count() if counter is not None else None)
    finally:
        if ready_w is not None:
            os.close(ready_w)
        if counter is not None:
            counter.close()
