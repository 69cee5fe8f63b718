"""Loading BPF programs into the running kernel (needs CAP_BPF + CAP_PERFMON)."""
import errno
import os

import pytest

from gdb_plugin.ebpf import Alu, Jmp, Reg, alu64, call, encode_program, exit_insn, jmp, ldx, mov64
from gdb_plugin.kernel.bpf import (BPF_PROG_TYPE_PERF_EVENT, BpfProgram, prog_load)
from gdb_plugin.kernel.errors import VerifierRejected

R0, R1, R2 = Reg.R0, Reg.R1, Reg.R2
BPF_PROG_TYPE_SOCKET_FILTER = 1
RETURN_0 = encode_program([mov64(R0, 0), exit_insn()])


def open_fds():
    return set(os.listdir("/proc/self/fd"))


def prog_type_of(fd):
    with open("/proc/self/fdinfo/%d" % fd) as f:
        for line in f:
            if line.startswith("prog_type:"):
                return int(line.split()[1])
    return None


def test_load_and_close(kernel_tier):
    prog = BpfProgram.load(RETURN_0)
    fd = prog.fd
    assert prog_type_of(fd) == BPF_PROG_TYPE_PERF_EVENT
    assert prog.log == ""          # quiet load by default
    prog.close()
    assert prog.closed
    prog.close()                   # idempotent
    with pytest.raises(ValueError):
        prog.fd
    assert not os.path.exists("/proc/self/fd/%d" % fd) or prog_type_of(fd) is None


def test_context_manager_closes(kernel_tier):
    before = open_fds()
    with BpfProgram.load(RETURN_0) as prog:
        assert str(prog.fd) in open_fds()
    assert open_fds() == before


def test_thousand_instruction_program_loads(kernel_tier):
    body = [mov64(R0, 0)] + [alu64(Alu.ADD, R0, 1)] * 998 + [exit_insn()]
    assert len(body) == 1000
    with BpfProgram.load(encode_program(body)) as prog:
        assert prog.fd >= 0


def test_success_log_kept_on_request(kernel_tier):
    with BpfProgram.load(RETURN_0, log_level=1) as prog:
        assert "processed 2 insns" in prog.log


def test_uninitialized_register_is_rejected_with_verifier_text(kernel_tier):
    before = open_fds()
    with pytest.raises(VerifierRejected) as info:
        BpfProgram.load(encode_program([mov64(R0, R2), exit_insn()]))
    e = info.value
    assert e.errno == errno.EACCES
    assert "R2 !read_ok" in str(e)
    assert "R2 !read_ok" in e.log and "processed" in e.log     # the full log is kept
    assert "processed" not in str(e)                          # the message keeps the verdict
    assert open_fds() == before


def test_missing_exit_is_rejected(kernel_tier):
    with pytest.raises(VerifierRejected, match="last insn is not an exit or jmp"):
        BpfProgram.load(encode_program([mov64(R0, 0)]))


def test_out_of_bounds_context_read_is_rejected(kernel_tier):
    # pt_regs is 168 bytes; bpf_perf_event_data ends at 184.
    prog = encode_program([ldx(8, R0, R1, 4096), exit_insn()])
    with pytest.raises(VerifierRejected, match="invalid bpf_context access"):
        BpfProgram.load(prog)


def test_log_buffer_grows_when_too_small(kernel_tier):
    # A verbose log of this program is far bigger than 256 bytes; the kernel fails the load
    # with ENOSPC until the buffer fits it.
    body = [mov64(R0, 0)] + [alu64(Alu.ADD, R0, 1)] * 100 + [exit_insn()]
    fd, log = prog_load(encode_program(body), log_level=2, log_size=256)
    os.close(fd)
    assert len(log) > 256
    assert "processed 102 insns" in log


def test_gpl_license_needed_for_probe_read_user(kernel_tier):
    # bpf_probe_read_user(fp - 8, 8, NULL): reading the inferior's memory is GPL-only.
    prog = encode_program([mov64(R1, Reg.R10), alu64(Alu.ADD, R1, -8), mov64(R2, 8),
                           mov64(Reg.R3, 0), call(112), mov64(R0, 0), exit_insn()])
    with BpfProgram.load(prog):
        pass
    with pytest.raises(VerifierRejected, match="GPL"):
        BpfProgram.load(prog, license="Proprietary")


def test_send_signal_thread_loads(kernel_tier):
    prog = encode_program([mov64(R1, 40), call(117), mov64(R0, 0), exit_insn()])
    with BpfProgram.load(prog, license="Proprietary"):
        pass


def test_other_program_type(kernel_tier):
    with BpfProgram.load(RETURN_0, prog_type=BPF_PROG_TYPE_SOCKET_FILTER) as prog:
        assert prog_type_of(prog.fd) == BPF_PROG_TYPE_SOCKET_FILTER


@pytest.mark.parametrize("code", [b"", b"\x95" * 7])
def test_malformed_bytes_rejected_before_the_kernel(code):
    with pytest.raises(VerifierRejected, match="multiple of 8"):
        BpfProgram.load(code)


def test_no_fd_leak(kernel_tier):
    before = open_fds()
    for _ in range(20):
        with BpfProgram.load(RETURN_0):
            pass
        with pytest.raises(VerifierRejected):
            BpfProgram.load(encode_program([jmp(Jmp.EQ, R2, 0, 0), mov64(R0, 0), exit_insn()]))
        fd, _ = prog_load(RETURN_0, log_level=1)
        os.close(fd)
    assert open_fds() == before
