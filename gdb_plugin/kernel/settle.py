"""Settling an AArch64 thread that a perf breakpoint's signal stopped (tracer side, ptrace).

On AArch64 the kernel passes a user breakpoint itself: at a hit it suspends the thread's
breakpoints and arms a single step.  A signal raised by the hit (the perf SIGTRAP, or a
predicate's real-time signal) is delivered first, with that step still pending; then a
PTRACE_CONT drops the step and leaves every breakpoint of the thread suspended, and a
PTRACE_SINGLESTEP completes it and the kernel swallows the report, so the thread runs away
(tests/arch_matrix/RESULTS.md, cases g1-g8).  The tracer cannot clear the step bit either.
A thread stopped by any signal between a hit and the end of the kernel's step is left the same
way: GDB stops every thread with SIGSTOP to present a stop.

Settling completes the pending step where it harms nothing: with the thread's signals
blocked, `NOP; BRK` goes at a scratch address, the thread single-steps from there (the step
completes on the NOP, whether or not the kernel swallows its report, and the thread traps at
the BRK), and the code, the registers and the signal mask are put back.  The thread is then
stopped where it was, nothing pending, its breakpoints live (also where a resume had already
dropped the step).  The scratch address is in the
program's entry code (_start), which runs once at startup and never again; GDB's own
displaced stepping and inferior calls use its first 12 bytes, the settle the 8 after them.
"""
import ctypes
import os
import struct

from .errors import KernelError, from_errno
from .syscalls import libc, tgkill
from .procfs import TargetError, auxv_value

PTRACE_SINGLESTEP = 9
PTRACE_GETSIGINFO = 0x4202
PTRACE_GETREGSET = 0x4204
PTRACE_SETREGSET = 0x4205
PTRACE_GETSIGMASK = 0x420A
PTRACE_SETSIGMASK = 0x420B
NT_PRSTATUS = 1
USER_PT_REGS_SIZE = 34 * 8  # regs[31], sp, pc, pstate
PC_OFFSET = 32 * 8
WALL = 0x40000000
SIGTRAP = 5
SIGSTOP = 19
TRAP_BRKPT = 1
SIGINFO_SIZE = 128
SI_CODE_OFFSET = 8
AT_ENTRY = 9

NOP = 0xD503201F
BRK = 0xD4200000                # brk #0, as GDB's own breakpoints
SCRATCH_OFFSET = 12             # after GDB's dummy-call breakpoint and displaced-step buffer
SETTLE_CODE = struct.pack("<II", NOP, BRK)


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]


class SettleError(Exception):
    """The thread could not be settled; the message says why."""


def _ptrace(request: int, tid: int, address, data, operation: str) -> None:
    ptrace = libc().ptrace
    ptrace.restype = ctypes.c_long
    ctypes.set_errno(0)
    if (ptrace(ctypes.c_long(request), ctypes.c_long(tid), ctypes.c_void_p(address),
               data) == -1 and ctypes.get_errno()):
        raise from_errno(ctypes.get_errno(), f"{operation} of thread {tid}")


def _registers(tid: int) -> ctypes.Array:
    buffer = ctypes.create_string_buffer(USER_PT_REGS_SIZE)
    iovec = _Iovec(ctypes.addressof(buffer), USER_PT_REGS_SIZE)
    _ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, ctypes.byref(iovec), "PTRACE_GETREGSET")
    return buffer


def _set_registers(tid: int, buffer: ctypes.Array) -> None:
    iovec = _Iovec(ctypes.addressof(buffer), USER_PT_REGS_SIZE)
    _ptrace(PTRACE_SETREGSET, tid, NT_PRSTATUS, ctypes.byref(iovec), "PTRACE_SETREGSET")


def _sigmask(tid: int, mask=None) -> int:
    """The thread's blocked signals; `mask`: set them first."""
    value = ctypes.c_uint64(0 if mask is None else mask)
    request = PTRACE_GETSIGMASK if mask is None else PTRACE_SETSIGMASK
    _ptrace(request, tid, 8, ctypes.byref(value), "PTRACE_GETSIGMASK" if mask is None
            else "PTRACE_SETSIGMASK")
    return value.value


def thread_pc(tid: int) -> int:
    """The pc of thread `tid`, stopped under ptrace by this process."""
    return _pc(_registers(tid))


def _pc(buffer: ctypes.Array) -> int:
    return struct.unpack_from("<Q", buffer.raw, PC_OFFSET)[0]


def _with_pc(buffer: ctypes.Array, pc: int) -> ctypes.Array:
    changed = ctypes.create_string_buffer(buffer.raw, USER_PT_REGS_SIZE)
    struct.pack_into("<Q", changed, PC_OFFSET, pc)
    return changed


def _step_to_the_brk(tid: int, scratch: int, stops: list) -> bool:
    """Whether a kernel step was pending: then the kernel swallowed the step's report, and the
    thread ran into the BRK.  A SIGSTOP on the way goes in `stops`: GDB's, sent to stop the
    thread while it ran, which GDB's native target waits for; it is sent again once the thread
    is settled."""
    for _ in range(3):
        _ptrace(PTRACE_SINGLESTEP, tid, None, None, "PTRACE_SINGLESTEP")
        _, status = os.waitpid(tid, WALL)
        if not os.WIFSTOPPED(status):
            raise SettleError(f"thread {tid} ended while settling (wait status {status:#x})")
        signo = os.WSTOPSIG(status)
        if signo == SIGSTOP and not stops:
            stops.append(signo)  # taken before the step ran: step again
            continue
        pc = _pc(_registers(tid))
        if signo != SIGTRAP or pc != scratch + 4:
            raise SettleError(f"thread {tid} stopped with signal {signo} at {pc:#x} while "
                              f"settling, not at the BRK at {scratch + 4:#x}")
        siginfo = ctypes.create_string_buffer(SIGINFO_SIZE)
        _ptrace(PTRACE_GETSIGINFO, tid, None, siginfo, "PTRACE_GETSIGINFO")
        return struct.unpack_from("<i", siginfo.raw, SI_CODE_OFFSET)[0] == TRAP_BRKPT
    raise SettleError(f"thread {tid} stopped again and again while settling")


def settle(pid: int, tid: int, scratch: int) -> bool:
    """Complete the kernel's pending step of thread `tid` (stopped under ptrace by this process)
    at `scratch`, or turn its suspended breakpoints back on (a resume dropped the step), leaving
    it stopped as it was.  Whether its breakpoints were suspended: then the hit at its pc is
    over, the kernel was stepping it past (or the thread reached the pc with them off)."""
    stops: list = []
    pending = False
    try:
        registers = _registers(tid)
        mask = _sigmask(tid)
        with open(f"/proc/{pid}/mem", "r+b", buffering=0) as memory:
            saved = os.pread(memory.fileno(), len(SETTLE_CODE), scratch)
            if len(saved) != len(SETTLE_CODE):
                raise SettleError(f"the scratch code at {scratch:#x} is not readable")
            _sigmask(tid, ~0 & 0xFFFF_FFFF_FFFF_FFFF)  # no signal is delivered on the way
            try:
                os.pwrite(memory.fileno(), SETTLE_CODE, scratch)
                try:
                    _set_registers(tid, _with_pc(registers, scratch))
                    pending = _step_to_the_brk(tid, scratch, stops)
                finally:
                    os.pwrite(memory.fileno(), saved, scratch)
                    _set_registers(tid, registers)
            finally:
                _sigmask(tid, mask)
    except (KernelError, OSError) as error:
        raise SettleError(f"thread {tid} could not be settled: {error}") from None
    finally:
        if stops:
            try:
                tgkill(pid, tid, SIGSTOP)
            except KernelError:
                pass  # the thread is gone
    return pending


def scratch_address(pid: int) -> int:
    """Where `settle` may put its code in process `pid`: 12 bytes into the entry code, which
    must run straight on, so that nothing ever comes back to the bytes used.  Raises
    SettleError."""
    try:
        entry = auxv_value(pid, AT_ENTRY)
        if entry is None:
            raise SettleError("the process has no entry point (AT_ENTRY)")
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as memory:
            code = os.pread(memory.fileno(), SCRATCH_OFFSET + 8, entry)
    except (OSError, TargetError) as error:
        raise SettleError(f"the program's entry code is not readable: {error}") from None
    if not runs_straight_on(code):
        raise SettleError(f"the program's entry code at {entry:#x} branches within its first "
                          f"{SCRATCH_OFFSET + 4} bytes")
    return entry + SCRATCH_OFFSET


def runs_straight_on(code: bytes) -> bool:
    """Whether entry code beginning with `code` runs on through the settle's bytes: no branch or
    return among its first four instructions (a call never returns to _start)."""
    words = struct.unpack(f"<{len(code) // 4}I", code[:len(code) // 4 * 4])
    return len(words) >= 5 and not any(_leaves(word) for word in words[:4])


def _leaves(word: int) -> bool:
    """A branch that does not come back: B, B.cond, CBZ/CBNZ, TBZ/TBNZ, BR, RET and the
    authenticated forms (BL and BLR return, or never: __libc_start_main)."""
    if word & 0xFC000000 == 0x14000000:      # B
        return True
    if word & 0xFF000010 == 0x54000000:      # B.cond
        return True
    if word & 0x7E000000 in (0x34000000, 0x36000000):  # CBZ/CBNZ, TBZ/TBNZ
        return True
    if word & 0xFE000000 == 0xD6000000:      # branch to register
        return word & 0x00600000 != 0x00200000   # all but BLR/BLRAA/BLRAB
    return False
