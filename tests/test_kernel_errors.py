"""errno -> typed error mapping and the sentences users see (no kernel needed)."""
import errno

import pytest

from gdb_plugin.kernel import syscalls
from gdb_plugin.kernel.errors import (SETCAP_FIX, InvalidAttribute, KernelError,
                                      NoDebugRegister, OutOfResources, PermissionDenied,
                                      Unsupported, VerifierRejected, from_errno)


@pytest.mark.parametrize("err, cls", [
    (errno.EPERM, PermissionDenied),
    (errno.EACCES, PermissionDenied),
    (errno.EINVAL, InvalidAttribute),
    (errno.ENOENT, Unsupported),
    (errno.EOPNOTSUPP, Unsupported),
    (errno.ENOSYS, Unsupported),
    (errno.EMFILE, OutOfResources),
    (errno.ENFILE, OutOfResources),
    (errno.ENOMEM, OutOfResources),
    (errno.EBADF, KernelError),
])
def test_mapping(err, cls):
    e = from_errno(err, "bpf")
    assert type(e) is cls
    assert isinstance(e, OSError)
    assert e.errno == err
    assert str(e).startswith("bpf")


def test_enospc_on_perf_open_means_no_debug_register():
    e = from_errno(errno.ENOSPC, "perf_event_open(breakpoint)")
    assert isinstance(e, NoDebugRegister)
    assert "no free hardware debug register (x86 has 4, shared with GDB's hbreak/watch)" in str(e)
    # ENOSPC elsewhere is not about debug registers.
    assert not isinstance(from_errno(errno.ENOSPC, "bpf"), NoDebugRegister)


def test_out_of_descriptors_names_the_limit_and_the_fix():
    import resource
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    e = from_errno(errno.EMFILE, "perf_event_open(breakpoint at 0x1000 on thread 7)")
    assert str(e) == ("perf_event_open(breakpoint at 0x1000 on thread 7): out of file descriptors: "
                      f"GDB may have {soft} open, and each breakpoint needs one per thread; "
                      "`ulimit -n` before starting GDB raises the limit")


def test_permission_denied_names_capabilities_and_fix():
    e = from_errno(errno.EPERM, "BPF_PROG_LOAD")
    assert "CAP_BPF" in str(e) and "CAP_PERFMON" in str(e)
    assert "setcap cap_bpf,cap_perfmon+ep <private copy of gdb>" in str(e)
    assert SETCAP_FIX in str(e)


def test_invalid_attribute_names_suspect():
    e = from_errno(errno.EINVAL, "perf_event_open", attribute="sigtrap requires remove_on_exec")
    assert e.attribute == "sigtrap requires remove_on_exec"
    assert "sigtrap requires remove_on_exec" in str(e)


def test_verifier_rejected_quotes_last_meaningful_lines():
    log = ("func#0 @0\n0: R1=ctx() R10=fp0\n0: (bf) r0 = r2\nR2 !read_ok\n"
           "processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0\n\n")
    e = VerifierRejected(errno.EACCES, log)
    assert e.log == log
    assert str(e).splitlines()[-1].strip() == "R2 !read_ok"
    assert "processed" not in str(e)
    assert "0: (bf) r0 = r2" in str(e)


def test_verifier_rejected_without_log():
    assert "no log" in str(VerifierRejected(errno.EINVAL, ""))


def test_a_machine_with_no_table_is_unsupported(monkeypatch):
    monkeypatch.setattr(syscalls, "MACHINE", None)
    monkeypatch.setattr(syscalls.platform, "machine", lambda: "riscv64")
    with pytest.raises(Unsupported, match="implemented for x86_64 and aarch64.*riscv64"):
        syscalls.syscall("bpf", 0, 0, 0)
