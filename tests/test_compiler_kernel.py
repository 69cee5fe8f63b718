"""Compiled predicates on real breakpoint hits: the kernel must agree with the reference.

A child (tests/programs/cond_probe.c) calls probe(a0..a5) once per test vector with a perf
breakpoint on probe's first instruction; the predicate sees the arguments in rdi..r9 and a
page of memory the vector fills. Each generated AX program is loaded twice: as the kernel tier
builds it (unsure counts as a match) and with unsure mapped to "suppress", so that the SIGTRAP
counts tell match, no match and unsure apart.
"""
from __future__ import annotations

import re
import struct
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.axref import STOP_UNSURE
from harness.kernel import require_kernel_tier
from harness.programs import build
from gdb_plugin.compiler import ReturnVerdict, SendSignal, build_program
from gdb_plugin.compiler.result import KernelLeaf
from gdb_plugin.ebpf import encode_program
from gdb_plugin.kernel.bpf import BpfProgram
from gdb_plugin.kernel.perf import PerfBreakpoint
from test_compiler_lower import (ARG_REGS, MASK, VARIED, ax_programs, listing, reference,
                                 resolve, vectors)

KERNEL_TIER = ReturnVerdict()                          # what hbreak-if loads
UNSURE_SUPPRESSED = ReturnVerdict(match_value=1, unsure_value=0)
_VECTOR = struct.Struct(f"<6Q{VARIED}s")


class ProbeChild:
    """A running cond_probe: run(program, vectors) -> SIGTRAPs per call."""

    def __init__(self, exe):
        self.proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        header = self.proc.stdout.readline().decode()
        m = re.match(r"probe=(0x[0-9a-f]+) page=(0x[0-9a-f]+)", header)
        assert m, header
        self.probe, self.page = int(m.group(1), 16), int(m.group(2), 16)
        # At probe's first instruction: rip, cs, ss as in any x86_64 user process, and
        # orig_rax -1 (not in a system call).
        self.fixed = {16: self.probe, 18: 0x33, 19: 0x2B, 57: MASK}

    def run(self, insns, resolved):
        program = BpfProgram.load(encode_program(insns), name="cond_test")
        try:
            with PerfBreakpoint.open(self.proc.pid, self.probe) as bp:
                bp.attach_bpf(program)
                bp.enable()
                batch = [struct.pack("<I", len(resolved))]
                for registers, memory in resolved:
                    args = [registers[n] for n in ARG_REGS]
                    batch.append(_VECTOR.pack(*args, memory.regions[self.page][:VARIED]))
                self.proc.stdin.write(b"".join(batch))
                self.proc.stdin.flush()
                counts = self.proc.stdout.read(len(resolved))
                assert bp.count() == len(resolved)
        finally:
            program.close()
        assert len(counts) == len(resolved), "the child died"
        return list(counts)

    def close(self):
        try:
            self.proc.stdin.write(struct.pack("<I", 0))
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def child():
    require_kernel_tier()
    subject = ProbeChild(build("cond_probe", "-O2"))
    yield subject
    subject.close()


def expected_counts(expr, resolved):
    verdicts = [reference(expr, registers, memory) for registers, memory in resolved]
    as_built = [int(v != 0) for v in verdicts]                   # match or unsure: stop
    suppressed = [int(v == 1) for v in verdicts]
    return verdicts, as_built, suppressed


def check_on_kernel(child, expr, vector_list):
    resolved = [resolve(v, child.page, child.fixed) for v in vector_list]
    verdicts, as_built, suppressed = expected_counts(expr, resolved)
    got = child.run(build_program(KernelLeaf("x", expr), KERNEL_TIER), resolved)
    assert got == as_built, f"{expr.format()}\nreference {verdicts}\nkernel {got}"
    got = child.run(build_program(KernelLeaf("x", expr), UNSURE_SUPPRESSED), resolved)
    assert got == suppressed, f"{expr.format()}\nreference {verdicts}\nkernel {got}"


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(expr=ax_programs(), vector_list=st.lists(vectors(), min_size=1, max_size=8))
def test_generated_programs_on_real_hits(kernel_tier, child, expr, vector_list):
    check_on_kernel(child, expr, vector_list)


def test_registers_reach_the_predicate(kernel_tier, child):
    """Every argument register, rip, cs, ss and orig_rax read through pt_regs."""
    vector = (tuple(("abs", 1000 + n) for n in range(6)), bytes(VARIED))
    for number in (*ARG_REGS, 16, 18, 19, 57):
        resolved = resolve(vector, child.page, child.fixed)
        value = resolved[0][number]
        hit = listing(f"reg {number}", "const64 " + str(value - (1 << 64) if value >> 63
                                                          else value), "equal", "end")
        assert child.run(build_program(KernelLeaf("x", hit)), [resolved]) == [1], number
        miss = listing(f"reg {number}", "const8 7", "equal", "end")
        assert child.run(build_program(KernelLeaf("x", miss)), [resolved]) == [0], number


def test_unreadable_memory_lets_the_hit_through(kernel_tier, child):
    expr = listing("reg 5", "ref8", "const8 0", "equal", "log_not", "end")  # *rdi != 0
    for address, want in ((0, 1), (8, 1), (0xFFFF_FFFF_8100_0000, 1), ("page", 0),
                          ("page-end", 1), ("below page", 1)):
        if address == "page":
            value = ("page", 16)
        elif address == "page-end":
            value = ("page", 4096)
        elif address == "below page":
            value = ("page", -1)
        else:
            value = ("abs", address)
        vector = ((value,) + tuple(("abs", 0) for _ in range(5)), bytes(VARIED))
        resolved = resolve(vector, child.page, child.fixed)
        assert reference(expr, *resolved) == (0 if want == 0 else STOP_UNSURE)
        assert child.run(build_program(KernelLeaf("x", expr)), [resolved]) == [want], address


def test_signal_tier_program_loads(kernel_tier):
    """The kernel-signal tier's program passes the verifier (helper 117 is allowed)."""
    expr = listing("reg 5", "const8 3", "equal", "end")
    BpfProgram.load(encode_program(build_program(KernelLeaf("x", expr), SendSignal(40)))).close()
