"""perf_event_attr layout and flag word against the offsets measured on this machine (DESIGN 3.1)."""
import ctypes

import pytest

from gdb_plugin.kernel import syscalls
from gdb_plugin.kernel.perf import (PERF_TYPE_BREAKPOINT, AttrFlag, BpType, PerfEventAttr,
                                    breakpoint_attr, explain_einval)


def test_size_is_ver8():
    assert ctypes.sizeof(PerfEventAttr) == 136


@pytest.mark.parametrize("field, offset, size", [
    ("type", 0, 4), ("size", 4, 4), ("config", 8, 8), ("sample_period", 16, 8),
    ("sample_type", 24, 8), ("read_format", 32, 8), ("flags", 40, 8),
    ("wakeup_events", 48, 4), ("bp_type", 52, 4), ("bp_addr", 56, 8), ("bp_len", 64, 8),
    ("branch_sample_type", 72, 8), ("sample_regs_user", 80, 8), ("sample_stack_user", 88, 4),
    ("clockid", 92, 4), ("sample_regs_intr", 96, 8), ("aux_watermark", 104, 4),
    ("sample_max_stack", 108, 2), ("aux_sample_size", 112, 4), ("sig_data", 120, 8),
    ("config3", 128, 8),
])
def test_field_offsets(field, offset, size):
    assert getattr(PerfEventAttr, field).offset == offset
    assert getattr(PerfEventAttr, field).size == size


@pytest.mark.parametrize("flag, bit", [
    (AttrFlag.DISABLED, 0), (AttrFlag.INHERIT, 1), (AttrFlag.PINNED, 2),
    (AttrFlag.EXCLUDE_KERNEL, 5), (AttrFlag.EXCLUDE_HV, 6), (AttrFlag.INHERIT_THREAD, 35),
    (AttrFlag.REMOVE_ON_EXEC, 36), (AttrFlag.SIGTRAP, 37),
])
def test_flag_bits(flag, bit):
    assert int(flag) == 1 << bit


def test_breakpoint_defaults():
    attr = breakpoint_attr(0x401000, sig_data=42)
    assert attr.type == PERF_TYPE_BREAKPOINT and attr.size == 136
    assert attr.bp_type == BpType.X == 4
    assert attr.bp_addr == 0x401000 and attr.bp_len == 8
    assert attr.sample_period == 1 and attr.sig_data == 42
    assert AttrFlag(attr.flags) == (AttrFlag.DISABLED | AttrFlag.EXCLUDE_KERNEL
                                    | AttrFlag.EXCLUDE_HV | AttrFlag.REMOVE_ON_EXEC
                                    | AttrFlag.SIGTRAP)
    raw = bytes(attr)
    assert int.from_bytes(raw[40:48], "little") == attr.flags
    assert int.from_bytes(raw[120:128], "little") == 42


def test_flag_arguments():
    attr = breakpoint_attr(0x1000, sigtrap=False, remove_on_exec=False, exclude_kernel=False,
                           exclude_hv=False, inherit=True, inherit_thread=True, disabled=False)
    assert AttrFlag(attr.flags) == AttrFlag.INHERIT | AttrFlag.INHERIT_THREAD


def test_sig_data_is_unsigned_64():
    assert breakpoint_attr(0x1000, sig_data=-1).sig_data == (1 << 64) - 1


def test_data_breakpoint_needs_length():
    with pytest.raises(ValueError):
        breakpoint_attr(0x1000, BpType.W)
    assert breakpoint_attr(0x1000, BpType.W, 4).bp_len == 4


@pytest.mark.parametrize("kwargs, expected", [
    (dict(remove_on_exec=False), "sigtrap requires remove_on_exec"),
    (dict(inherit_thread=True), "inherit_thread requires inherit"),
    (dict(length=3), "an execute breakpoint needs bp_len"),
    (dict(bp_type=BpType.RW, length=3), "not 1, 2, 4 or 8"),
    (dict(bp_type=BpType.RW, length=8, addr=0x1004), "not aligned"),
    (dict(bp_type=BpType.R, length=8), "no read-only breakpoints"),
])
def test_einval_explanations(kwargs, expected):
    addr = kwargs.pop("addr", 0x1000)
    assert expected in explain_einval(breakpoint_attr(addr, **kwargs))


def test_ioctl_numbers():
    assert syscalls.PERF_EVENT_IOC_ENABLE == 0x2400
    assert syscalls.PERF_EVENT_IOC_DISABLE == 0x2401
    assert syscalls.PERF_EVENT_IOC_REFRESH == 0x2402
    assert syscalls.PERF_EVENT_IOC_RESET == 0x2403
    assert syscalls.PERF_EVENT_IOC_SET_BPF == 0x40042408
