"""How a thread stopped at one of the plugin's perf breakpoints passes it once when resumed.

x86-64: eflags.RF.  The kernel sets it at every hit, and the plugin sets it where GDB moved the
thread back onto the breakpoint (a carrier's int3) or clears it to run into it again.

AArch64 has no such flag, and its kernel passes a user breakpoint with a single step of its own,
still pending when the thread stops there first: for the hit's signal, or at a BRK (a
carrier's, any breakpoint of GDB's at that pc) the kernel's step ran into (kernel/settle.py).
So at each breakpoint stop where the plugin has a perf breakpoint, GDB's side settles the
thread, and notes in the pass-once map that the thread's next hit at that pc is to pass
(compiler/passonce.py): the kernel then steps it over as at any hit it suppresses.  The note
goes where the thread was not resumed at that pc: GDB stepped it elsewhere (a displaced step),
it stopped elsewhere, or it is gone.  Only the tracer can settle a thread: GDB's own process,
not a gdbserver; and only a single-threaded process, since GDB stops and resumes the others
where Python does not see it (problem()).
"""
import os
from typing import Dict

import gdb

from ..compiler.passonce import PassOnceFirst
from ..kernel import procfs
from ..kernel.maps import thread_mailbox
from ..kernel.syscalls import MACHINE
from ..kernel.errors import KernelError
from ..kernel.settle import PC_OFFSET, SettleError, scratch_address, settle, thread_pc
from .model import registry

RESUME_FLAG = 0x10000  # eflags.RF

_passes = None
_noted: Dict[int, Dict[int, int]] = {}    # thread id -> {breakpoint number: pc}
_passed: Dict[int, int] = {}              # breakpoint number -> hits passed, which perf counted


def _steps_over() -> bool:
    """This machine's kernel steps over user breakpoints itself (the programs GDB traces here
    are this machine's)."""
    return MACHINE is not None and MACHINE.kernel_steps_over


def passes():
    """The pass-once map, made at first use."""
    global _passes
    if _passes is None:
        _passes = thread_mailbox()
    return _passes


def on_match(bp, then):
    """`then`, for `bp`'s predicate, which looks up the pass-once map first where the CPU has
    no RF."""
    if not _steps_over():
        return then
    return PassOnceFirst(then, passes().fd, bp.number, PC_OFFSET)


def problem(pid: int) -> str:
    """Why the kernel tiers cannot serve process `pid` (none: they can)."""
    if not _steps_over():
        return ""
    try:
        tracer = procfs.tracer_of(pid)
    except procfs.TargetError:
        tracer = None
    if tracer != os.getpid():
        return ("on AArch64 a thread stopped by a perf breakpoint's signal must be settled by "
                "its tracer, and GDB does not trace this process (gdbserver does)")
    if len(procfs.tasks(pid)) > 1:
        return ("on AArch64 the kernel tiers serve single-threaded processes only: GDB stops "
                "every thread of a process with SIGSTOP, also inside the kernel's own step over a "
                "hit, and resumes some without the plugin seeing it, which would leave their "
                "breakpoints suspended and lose their later hits (measured on Linux 6.12)")
    try:
        scratch_address(pid)  # read again at each settle: an exec changes it
    except SettleError as error:
        return (f"on AArch64 hbreak-if settles a thread its breakpoint stopped with code put "
                f"in the program's entry code, and cannot here: {error}")
    return ""


def _settle(thread) -> bool:
    """Whether the kernel was stepping `thread` over a hit at its pc (now settled)."""
    pid, tid = thread.inferior.pid, thread.ptid[1]
    try:
        return settle(pid, tid, scratch_address(pid))
    except SettleError as error:
        gdb.write(f"warning: hbreak-if: {error}; the thread's hardware breakpoints may stay "
                  "suspended.\n", gdb.STDERR)
        return False


def _perf_bps_at(pc: int):
    """The hbreak-ifs with a perf breakpoint at `pc`."""
    return [bp for bp in registry
            if bp.uses_perf and pc in bp.addresses() and pc not in bp.int3_at]


def _armed_in_kernel() -> bool:
    return any(bp.uses_perf and not bp.software for bp in registry)


def after_trap(thread, pc: int, ours: bool) -> None:
    """The thread stopped at `pc` for a breakpoint (`ours`: one of the plugin's signals; a BRK,
    a hardware breakpoint of GDB's).  Where a perf breakpoint of the plugin is at `pc` too, it
    may have fired first, and on AArch64 the kernel's step over it was still pending: settled,
    and the thread passes it once when resumed (x86's kernel has set RF)."""
    if _steps_over() and _perf_bps_at(pc) and (_settle(thread) or ours):
        pass_once(thread, pc)


def _settle_the_stopped() -> None:
    """Threads GDB stopped with SIGSTOP for another's event may have been stopped in the
    kernel's step over a hit that did not match, or resumed from there before: settled, and
    the first pass the breakpoint at their pc once."""
    if not _armed_in_kernel():
        return
    for inferior in gdb.inferiors():
        if inferior.pid == 0 or inferior.connection is None \
                or inferior.connection.type != "native":
            continue
        for thread in inferior.threads():
            try:
                pc = thread_pc(thread.ptid[1])
            except KernelError:
                continue  # running (non-stop), or gone
            if _settle(thread) and _perf_bps_at(pc):
                pass_once(thread, pc)


def pass_once(thread, pc: int) -> None:
    """`thread` (the selected one) runs the instruction at `pc` without a hit of the plugin's
    perf breakpoints there."""
    if not _steps_over():
        _set_resume_flag(True)
        return
    tid = thread.ptid[1]
    noted = _noted.setdefault(tid, {})
    for bp in _perf_bps_at(pc):
        if bp.number in noted:
            _take_out(tid, bp.number)  # counted, if it passed
        passes().set(tid << 32 | bp.number, pc)
        noted[bp.number] = pc


def run_into_again(thread) -> None:
    """`thread` (the selected one) runs into the breakpoint at its pc when resumed."""
    if not _steps_over():
        _set_resume_flag(False)
        return
    forget(thread.ptid[1])


def forget(tid: int) -> None:
    for number in _noted.pop(tid, {}):
        _take_out(tid, number)


def _take_out(tid: int, number: int) -> None:
    key = tid << 32 | number
    if passes().get(key) == 0:
        _passed[number] = _passed.get(number, 0) + 1
    passes().delete(key)


def passed(number: int) -> int:
    """The hits of breakpoint `number` its predicates let pass, as RF would have."""
    for tid, noted in list(_noted.items()):
        for done in [n for n in noted if passes().get(tid << 32 | n) == 0]:
            _take_out(tid, done)
            del noted[done]
    return _passed.get(number, 0)


def forget_elsewhere(thread, pc: int) -> None:
    """`thread` stopped at `pc`: a note for another pc is stale."""
    noted = _noted.get(thread.ptid[1])
    if noted and any(at != pc for at in noted.values()):
        forget(thread.ptid[1])


def on_stop(*_) -> None:
    """Every stopped thread settled; notes of threads gone, or of the stopped thread elsewhere,
    are stale."""
    if _steps_over():
        _settle_the_stopped()
    if not _noted:
        return
    live = {thread.ptid[1] for inferior in gdb.inferiors() for thread in inferior.threads()}
    for tid in set(_noted) - live:
        forget(tid)
    thread = gdb.selected_thread()
    if thread is not None and not thread.is_exited():
        try:
            forget_elsewhere(thread, int(gdb.selected_frame().pc()))
        except gdb.error:
            pass  # no frame: no registers to read


def forget_process(*_) -> None:
    for tid in list(_noted):
        forget(tid)


def on_breakpoint_created(gdb_bp) -> None:
    """GDB's own hbreak on AArch64 writes every breakpoint register of the thread
    (NT_ARM_HW_BREAK), one of which an armed hbreak-if holds: said."""
    if _steps_over() and gdb_bp.type == gdb.BP_HARDWARE_BREAKPOINT and _armed_in_kernel():
        gdb.write("warning: on AArch64 GDB's hbreak claims every hardware breakpoint register "
                  "of the threads it is set in, so GDB cannot insert it while an hbreak-if is "
                  "armed in the kernel (\"Unexpected error setting hardware debug registers\"); "
                  "`break` has no such limit.\n", gdb.STDERR)


def _set_resume_flag(on: bool) -> None:
    eflags = int(gdb.parse_and_eval("(int) $eflags"))
    eflags = eflags | RESUME_FLAG if on else eflags & ~RESUME_FLAG
    gdb.execute(f"set $eflags = {eflags:#x}", to_string=True)
