"""perf hardware breakpoints on a real child process, with and without BPF predicates.

The subject is tests/programs/kernel_calls.c: it calls target(x) for x = 0..N-1 once the test
has armed its breakpoint, records every SIGTRAP it receives (si_code, si_perf_data, si_addr)
and prints them at exit.
"""
import errno
import os
import re
import resource
import subprocess

import pytest

from harness.programs import build, symbol_address
from test_compiler_lower import listing

from gdb_plugin.compiler.passonce import PassOnceFirst
from gdb_plugin.compiler.predicate import ReturnVerdict, SendSignal, build_program
from gdb_plugin.compiler.result import KernelLeaf

from gdb_plugin.ebpf import (Alu, Jmp, Reg, alu64, call, encode_program, exit_insn, jmp, ldx,
                              mov64)
from gdb_plugin.kernel.bpf import BPF_PROG_TYPE_PERF_EVENT, BpfProgram
from gdb_plugin.kernel.errors import InvalidAttribute, KernelError, NoDebugRegister
from gdb_plugin.kernel.maps import thread_mailbox
from gdb_plugin.kernel.perf import FD_SETSIZE, BpType, PerfBreakpoint

R0, R1, R2 = Reg.R0, Reg.R1, Reg.R2
PT_REGS_RDI = 112
TRAP_PERF = 6
TRAP_PERF_FLAG_ASYNC = 1
SIG_DATA = 0xB0B0_0001


def rdi_equals(value):
    """return regs->rdi == value"""
    return encode_program([
        ldx(8, R2, R1, PT_REGS_RDI),
        mov64(R0, 1),
        jmp(Jmp.EQ, R2, value, 1),
        mov64(R0, 0),
        exit_insn(),
    ])


def rdi_mod_equals_zero(modulus):
    return encode_program([
        ldx(8, R2, R1, PT_REGS_RDI),
        alu64(Alu.MOD, R2, modulus),
        mov64(R0, 1),
        jmp(Jmp.EQ, R2, 0, 1),
        mov64(R0, 0),
        exit_insn(),
    ])


def returns(value):
    return encode_program([mov64(R0, value), exit_insn()])


@pytest.fixture(scope="module")
def subject_exe():
    return build("kernel_calls", "-O2", extra=("-no-pie",))


class Subject:
    """A running kernel_calls, stopped before its calls until go()."""

    def __init__(self, exe, n, *args):
        self.n = n
        self.proc = subprocess.Popen([str(exe), str(n), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        ready = self.proc.stdout.readline().split()
        assert ready[0] == "ready", ready
        self.pid = int(ready[1])
        self.target = int(ready[2], 16)
        assert self.target == symbol_address(exe, "target")

    def go(self, timeout=60):
        """Let it run; return its list of (x, si_code, si_perf_data, si_addr, flags)."""
        out, _ = self.proc.communicate("g", timeout=timeout)
        assert self.proc.returncode == 0, (self.proc.returncode, out)
        lines = out.splitlines()
        assert lines[0] == "calls %d" % self.n
        # A signal the kernel sends (SI_KERNEL) has no address: printf's "(nil)".
        traps = [tuple(0 if v == "(nil)" else int(v, 0) for v in re.findall(r"=(\S+)", ln))
                 for ln in lines[2:]]
        assert lines[1] == "traps %d" % len(traps)
        return traps

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


@pytest.fixture
def subject(subject_exe):
    started = []

    def start(n, *args):
        s = Subject(subject_exe, n, *args)
        started.append(s)
        return s
    yield start
    for s in started:
        s.kill()


def arm(subject, program=None, refresh=None, **kwargs):
    bp = PerfBreakpoint.open(subject.pid, subject.target, sig_data=SIG_DATA, **kwargs)
    if program is not None:
        with BpfProgram.load(program) as prog:
            bp.attach_bpf(prog)   # the event keeps its own reference to the program
    if refresh is None:
        bp.enable()
    else:
        bp.refresh(refresh)
    return bp


def open_fds():
    return set(os.listdir("/proc/self/fd"))


def test_predicate_stops_exactly_the_matching_call(kernel_tier, subject):
    s = subject(1000)
    with arm(s, rdi_equals(500)) as bp:
        traps = s.go()
        assert traps == [(500, TRAP_PERF, SIG_DATA, s.target, 0)]
        # The counter saw every call, including the 999 the predicate suppressed.
        assert bp.count() == 1000


def test_false_predicate_suppresses_every_hit(kernel_tier, subject):
    s = subject(1000)
    with arm(s, returns(0)) as bp:
        assert s.go() == []
        assert bp.count() == 1000


def test_without_program_every_hit_traps(kernel_tier, subject):
    # Resuming from the handler runs the instruction (RF): each call traps exactly once.
    s = subject(50)
    with arm(s) as bp:
        traps = s.go()
        assert [t[0] for t in traps] == list(range(50))
        assert {t[1:] for t in traps} == {(TRAP_PERF, SIG_DATA, s.target, 0)}
        assert bp.count() == 50


def test_blocked_sigtrap_is_queued_as_async(kernel_tier, subject):
    # What the probe relies on: a blocked perf SIGTRAP is queued (marked asynchronous),
    # not forced on the thread, and sigtimedwait sees its perf fields.
    s = subject(10, "block")
    with arm(s, rdi_equals(7)) as bp:
        assert s.go() == [(7, TRAP_PERF, SIG_DATA, s.target, TRAP_PERF_FLAG_ASYNC)]
        assert bp.count() == 10


def test_disabled_event_neither_counts_nor_traps(kernel_tier, subject):
    s = subject(20)
    with PerfBreakpoint.open(s.pid, s.target, sig_data=SIG_DATA) as bp:
        assert s.go() == []
        assert bp.count() == 0


def test_disable_and_reset(kernel_tier, subject):
    s = subject(20)
    bp = arm(s, returns(0))
    assert bp.count() == 0
    bp.disable()
    bp.reset()
    s.go()
    assert bp.count() == 0
    bp.close()


def test_refresh_counts_only_matching_hits(kernel_tier, subject):
    # refresh(n) disables the event after n overflows; a suppressed hit is not an overflow,
    # so refresh(2) with a predicate means "the next two matching hits".
    s = subject(10)
    with arm(s, rdi_mod_equals_zero(3), refresh=2) as bp:
        assert [t[0] for t in s.go()] == [0, 3]
        assert bp.count() == 4      # hits 0, 1, 2, 3; then the event is disabled


def test_fifth_breakpoint_has_no_debug_register(kernel_tier, subject):
    s = subject(1)
    bps = []
    try:
        for i in range(4):
            bps.append(PerfBreakpoint.open(s.pid, s.target + i))
        with pytest.raises(NoDebugRegister) as info:
            PerfBreakpoint.open(s.pid, s.target + 4)
        assert info.value.errno == errno.ENOSPC
        assert "no free hardware debug register (x86 has 4" in str(info.value)
    finally:
        for bp in bps:
            bp.close()
    # Closing gives the registers back.
    PerfBreakpoint.open(s.pid, s.target).close()


@pytest.mark.parametrize("kwargs, cause", [
    (dict(remove_on_exec=False), "sigtrap requires remove_on_exec"),
    (dict(length=3), "an execute breakpoint needs bp_len"),
    (dict(bp_type=BpType.R, length=8), "no read-only breakpoints"),
])
def test_invalid_attributes(kernel_tier, subject, kwargs, cause):
    s = subject(1)
    with pytest.raises(InvalidAttribute) as info:
        PerfBreakpoint.open(s.pid, s.target, **kwargs)
    assert info.value.errno == errno.EINVAL
    assert cause in str(info.value)


def test_attach_wrong_program_type(kernel_tier, subject):
    s = subject(1)
    with PerfBreakpoint.open(s.pid, s.target) as bp, \
            BpfProgram.load(returns(0), prog_type=1) as socket_filter:
        with pytest.raises(InvalidAttribute, match="not a BPF_PROG_TYPE_PERF_EVENT"):
            bp.attach_bpf(socket_filter.fd)
        with BpfProgram.load(returns(0), prog_type=BPF_PROG_TYPE_PERF_EVENT) as prog:
            bp.attach_bpf(prog.fd)
            with pytest.raises(InvalidAttribute, match="already has a BPF program"):
                bp.attach_bpf(prog.fd)


def test_exited_thread(kernel_tier, subject):
    s = subject(1)
    pid, target = s.pid, s.target
    s.kill()
    with pytest.raises(KernelError, match="no such thread") as info:
        PerfBreakpoint.open(pid, target)
    assert info.value.errno == errno.ESRCH


def test_fds_are_close_on_exec(kernel_tier, subject):
    s = subject(1)
    with PerfBreakpoint.open(s.pid, s.target) as bp:
        with open("/proc/self/fdinfo/%d" % bp.fd) as f:
            flags = int(re.search(r"flags:\s+(\d+)", f.read()).group(1), 8)
        assert flags & os.O_CLOEXEC


def test_fds_are_numbered_where_select_does_not_look(kernel_tier, subject):
    # GDB's own later descriptors stay below FD_SETSIZE, where its select() can take them.
    s = subject(1)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_SETSIZE + 8, hard))
        with PerfBreakpoint.open(s.pid, s.target) as bp:
            assert bp.fd >= FD_SETSIZE
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_SETSIZE, hard))
        with PerfBreakpoint.open(s.pid, s.target) as bp:  # no room there: numbered as it came
            assert bp.fd < FD_SETSIZE
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_closed_event(kernel_tier, subject):
    s = subject(1)
    bp = PerfBreakpoint.open(s.pid, s.target)
    bp.close()
    bp.close()
    assert bp.closed
    with pytest.raises(ValueError):
        bp.enable()


def test_no_fd_leak(kernel_tier, subject):
    s = subject(5)
    before = open_fds()
    for _ in range(10):
        with arm(s, returns(0)) as bp:
            bp.count()
        with pytest.raises(InvalidAttribute):
            PerfBreakpoint.open(s.pid, s.target, length=4)
        bps = [PerfBreakpoint.open(s.pid, s.target + i) for i in range(4)]
        with pytest.raises(NoDebugRegister):
            PerfBreakpoint.open(s.pid, s.target + 4)
        for bp in bps:
            bp.close()
    assert open_fds() == before


THREADS, CALLS = 8, 200
MATCH_SIGNAL = 40  # the kernel-signal tier's
SI_KERNEL = 0x80
SEND_SIGNAL_THREAD = 117


def signal_when_rdi_mod_equals_zero(modulus):
    """if regs->rdi % modulus == 0: bpf_send_signal_thread(40); return 0"""
    return encode_program([
        ldx(8, R2, R1, PT_REGS_RDI),
        alu64(Alu.MOD, R2, modulus),
        jmp(Jmp.NE, R2, 0, 2),
        mov64(R1, MATCH_SIGNAL),
        call(SEND_SIGNAL_THREAD),
        mov64(R0, 0),
        exit_insn(),
    ])


@pytest.fixture(scope="module")
def threads_exe():
    return build("kernel_threads", "-O2", extra=("-no-pie",))


def run_threads(exe, mode, program, sigtrap):
    """Arm target in the main thread of kernel_threads with `inherit`, before it starts any
    thread; run it; (the event's count, [(thread, x, signo, si_code, si_perf_data)], calls)."""
    proc = subprocess.Popen([str(exe), str(THREADS), str(CALLS), mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        _, pid, target = proc.stdout.readline().split()
        with PerfBreakpoint.open(int(pid), int(target, 16), sig_data=SIG_DATA, sigtrap=sigtrap,
                                 inherit=True, inherit_thread=True) as bp:
            if program is not None:
                with BpfProgram.load(program) as prog:
                    bp.attach_bpf(prog)
            bp.enable()
            out, _ = proc.communicate("g", timeout=60)
            count = bp.count()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    traps = [dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\S+)", line))
             for line in out.splitlines()[1:]]
    made_calls = range(THREADS + 1, 2 * THREADS + 1) if mode == "orphans" else \
        range(1, (2 if mode else 1) * THREADS + 1)
    calls = [k * 1000 + j for k in made_calls for j in range(CALLS)]
    return count, [(t["thread"], t["x"], t["sig"], t["code"], t["data"]) for t in traps], calls


@pytest.mark.parametrize("mode", ["", "nested", "orphans"])
@pytest.mark.parametrize("tier", ["kernel", "kernel-signal", "ptrace"])
def test_threads_created_later_get_a_copy_of_an_inherited_event(kernel_tier, threads_exe, tier,
                                                                 mode):
    # What arming relies on, in each tier's form of the event (6.18 and 6.1 alike): a thread
    # created by a thread with an event opened with inherit, or with a copy of one (nested),
    # even after its creator exited (orphans), runs the event's program at every hit; the
    # signal of a match goes to that thread, with the event's sig_data; the event's count
    # includes the copies' hits.
    if tier == "kernel":
        count, traps, calls = run_threads(threads_exe, mode, rdi_mod_equals_zero(100), True)
        expected = [(x // 1000, x, 5, TRAP_PERF, SIG_DATA) for x in calls if x % 100 == 0]
    elif tier == "kernel-signal":
        count, traps, calls = run_threads(threads_exe, mode, signal_when_rdi_mod_equals_zero(100),
                                          False)
        expected = [(x // 1000, x, MATCH_SIGNAL, SI_KERNEL, 0) for x in calls if x % 100 == 0]
    else:
        count, traps, calls = run_threads(threads_exe, mode, None, True)
        expected = [(x // 1000, x, 5, TRAP_PERF, SIG_DATA) for x in calls]
    assert sorted(traps) == sorted(expected)
    assert count == len(calls)


@pytest.mark.parametrize("namespace", ["its own", "another", "none given"])
def test_a_signal_predicate_notes_the_thread_by_its_id_in_a_pid_namespace(kernel_tier, subject,
                                                                          namespace):
    # The mailbox key of a match is (thread id << 32 | breakpoint number): the id in the pid
    # namespace given (the agent's, whose thread ids are gdbserver's), else the initial one's;
    # where the thread is not in the namespace given, the helper fails and the id is 0.
    s = subject(10)
    found = os.stat(f"/proc/{s.pid}/ns/pid")
    given = {"its own": (found.st_dev, found.st_ino), "another": (found.st_dev, found.st_ino + 1),
             "none given": None}[namespace]
    expr = listing("reg 5", "const8 3", "equal", "end")  # rdi == 3
    with thread_mailbox() as mailbox:
        program = build_program(KernelLeaf("x", expr),
                                SendSignal(5, mailbox.fd, number=7, pid_namespace=given))
        with arm(s, encode_program(program), sigtrap=False):
            traps = s.go()
        assert [t[0] for t in traps] == [3]
        thread = 0 if namespace == "another" else s.pid
        assert list(mailbox.keys()) == [thread << 32 | 7]


PT_REGS_RIP = 128


def test_a_thread_noted_in_the_pass_once_map_passes_one_hit_at_that_pc(kernel_tier, subject):
    # The check AArch64 needs for want of eflags.RF (compiler/passonce.py), on this kernel:
    # the noted hit passes and its note says so (0); a note for another pc goes, and passes
    # nothing.
    number = 7
    with thread_mailbox() as passes:
        always = PassOnceFirst(ReturnVerdict(), passes.fd, number, PT_REGS_RIP)
        program = encode_program(build_program(None, always))
        s = subject(5)
        passes.set(s.pid << 32 | number, s.target)
        passes.set(s.pid + 1 << 32 | number, s.target)      # another thread's
        with arm(s, program) as bp:
            assert [trap[0] for trap in s.go()] == [1, 2, 3, 4]
            assert bp.count() == 5
        assert passes.get(s.pid << 32 | number) == 0
        assert passes.get(s.pid + 1 << 32 | number) == s.target
        s = subject(3)
        passes.set(s.pid << 32 | number, s.target + 1)
        with arm(s, program):
            assert [trap[0] for trap in s.go()] == [0, 1, 2]
        assert passes.get(s.pid << 32 | number) is None
