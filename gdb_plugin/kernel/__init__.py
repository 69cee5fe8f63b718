"""Kernel interface through ctypes: bpf(2), perf hardware breakpoints, tier self-test.

No gdb, no encoder: programs arrive as encoded bytes.  Modules:
  errors    typed KernelError subclasses with user-facing explanations
  syscalls  raw syscall()/ioctl() via libc, errno -> typed errors (x86_64 only)
  bpf       BPF_PROG_LOAD with verifier logs (BpfProgram)
  perf      perf_event_attr and PerfBreakpoint (open, attach_bpf, enable, count...)
  procfs    a process as /proc shows it: threads, mappings, tracer, AT_RANDOM evidence
  privileges  what the self-test's child gives up before GDB opens a perf event on it
  probe     the self-test that chooses the tier (python3 -m gdb_plugin.kernel.probe);
            not imported here, so that running it with -m stays clean:
            `from gdb_plugin.kernel.probe import probe`
"""
from .bpf import BPF_PROG_TYPE_PERF_EVENT, BpfProgram, prog_load
from .errors import (InvalidAttribute, KernelError, NoDebugRegister, OutOfResources,
                     PermissionDenied, Unsupported, VerifierRejected)
from .perf import BpType, PerfBreakpoint

__all__ = [
    "BPF_PROG_TYPE_PERF_EVENT", "BpType", "BpfProgram", "InvalidAttribute", "KernelError",
    "NoDebugRegister", "OutOfResources", "PerfBreakpoint", "PermissionDenied", "Unsupported",
    "VerifierRejected", "prog_load",
]

