"""Uprobe links (kernel/uprobe.py) on this kernel: a link bound to one process runs its program
at every hit there, and nowhere else, and is gone once released."""
import ctypes
import subprocess
import sys
import textwrap

import pytest

from bench.native import counting_program
from gdb_plugin.ebpf import Reg, encode_program, exit_insn, mov64
from gdb_plugin.kernel import procfs, uprobe
from gdb_plugin.kernel.bpf import BpfProgram
from gdb_plugin.kernel.errors import KernelError
from gdb_plugin.kernel.maps import BPF_MAP_TYPE_ARRAY, BpfMap

CALLS = 1000
# Prints where labs is in its own memory, waits for a line, then calls it CALLS times.
CHILD = textwrap.dedent(f"""
    import ctypes, sys
    labs = ctypes.CDLL(None).labs
    print(ctypes.cast(labs, ctypes.c_void_p).value, flush=True)
    sys.stdin.readline()
    for k in range({CALLS}):
        labs(-k)
""")


def _child():
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    return child, int(child.stdout.readline())


def _where(pid, address):
    return procfs.file_at(procfs.file_mappings(pid), address)


def _run(child):
    child.stdin.write("go\n")
    child.stdin.flush()
    assert child.wait(timeout=60) == 0


def test_uprobe_links_are_available_here(kernel_tier):
    assert uprobe.problem() is None


def test_a_link_counts_the_hits_of_its_process_only(kernel_tier):
    counter = BpfMap.create(BPF_MAP_TYPE_ARRAY, 1, ctypes.c_uint32, ctypes.c_uint64)
    probed, address = _child()
    other, other_address = _child()
    where = _where(probed.pid, address)
    assert where is not None and where.path.endswith(".so.6"), where
    assert _where(other.pid, other_address).file == where.file  # the same libc
    with uprobe.load(counting_program(counter.fd), "hbreak_if_test") as program:
        link = uprobe.UprobeLink.attach(program, probed.pid, where.path, where.offset)
        try:
            _run(other)
            assert counter.get(0) == 0
            _run(probed)
            assert counter.get(0) == CALLS
        finally:
            uprobe.release([link])
    assert link.closed


def test_a_released_link_takes_no_more_hits(kernel_tier):
    counter = BpfMap.create(BPF_MAP_TYPE_ARRAY, 1, ctypes.c_uint32, ctypes.c_uint64)
    child, address = _child()
    where = _where(child.pid, address)
    with uprobe.load(counting_program(counter.fd), "hbreak_if_test") as program:
        uprobe.release([uprobe.UprobeLink.attach(program, child.pid, where.path, where.offset)])
    # No int3 is left in the child's memory, and its calls run untouched.
    assert procfs.read_memory(child.pid, address, 1) != b"\xcc"
    _run(child)
    assert counter.get(0) == 0


def test_a_program_that_is_not_for_uprobe_links_is_refused(kernel_tier):
    child, address = _child()
    where = _where(child.pid, address)
    try:
        with BpfProgram.load(encode_program([mov64(Reg.R0, 0), exit_insn()])) as program:
            with pytest.raises(KernelError):
                uprobe.UprobeLink.attach(program, child.pid, where.path, where.offset)
    finally:
        _run(child)
