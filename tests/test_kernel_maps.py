"""BPF counter arrays: state a predicate keeps in the kernel, read and written from user space."""
import os

from gdb_plugin.ebpf import (Alu, Jmp, Reg, alu64, atomic_fetch_add, call, encode_program,
                             exit_insn, jmp, ld_map_fd, mov64, st)
from gdb_plugin.kernel.bpf import BpfProgram
from gdb_plugin.kernel.maps import counter_array

MAP_LOOKUP_ELEM = 1


def test_counters_start_at_zero_and_keep_signed_values(kernel_tier):
    with counter_array(3) as counters:
        assert [counters[i] for i in range(3)] == [0, 0, 0]
        counters[1] = -5
        counters[2] = 1 << 40
        assert [counters[i] for i in range(3)] == [0, -5, 1 << 40]


def test_a_program_decrementing_a_counter_loads_and_every_fd_is_released(kernel_tier):
    before = len(os.listdir("/proc/self/fd"))
    with counter_array() as counters:
        program = [
            st(4, Reg.R10, -4, 0),                   # key 0 on the stack
            ld_map_fd(Reg.R1, counters.fd),
            mov64(Reg.R2, Reg.R10),
            alu64(Alu.ADD, Reg.R2, -4),
            call(MAP_LOOKUP_ELEM),
            jmp(Jmp.EQ, Reg.R0, 0, 2),               # the verifier insists on the NULL check
            mov64(Reg.R1, -1),
            atomic_fetch_add(8, Reg.R0, 0, Reg.R1),
            mov64(Reg.R0, 1),
            exit_insn(),
        ]
        with BpfProgram.load(encode_program(program)):
            pass
    assert len(os.listdir("/proc/self/fd")) == before
