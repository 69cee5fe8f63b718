"""The kernel's own run-time statistics of hbreak-if's BPF predicates (the profile).

`enabled()` turns the kernel's BPF run-time accounting on while its fd is open
(BPF_ENABLE_STATS, no global sysctl left behind); `python3 -m bench.bpf_stats`,
run from GDB's `shell` while hbreak-if's predicates are loaded, prints their run
count and run time as one `BPF-STATS {json}` line.
"""
import ctypes
import errno
import json
import os
import sys

from gdb_plugin.kernel import syscalls
from gdb_plugin.kernel.errors import KernelError
from gdb_plugin.kernel.owned import OwnedFd

BPF_PROG_GET_NEXT_ID = 11
BPF_PROG_GET_FD_BY_ID = 13
BPF_OBJ_GET_INFO_BY_FD = 15
BPF_ENABLE_STATS = 32
BPF_STATS_RUN_TIME = 0
PROGRAM_PREFIX = b"hbreak_if_"     # hbreak-if loads breakpoint N's predicate as hbreak_if_N


class _IdAttr(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32), ("next_id", ctypes.c_uint32),
                ("open_flags", ctypes.c_uint32)]


class _InfoAttr(ctypes.Structure):
    _fields_ = [("bpf_fd", ctypes.c_uint32), ("info_len", ctypes.c_uint32),
                ("info", ctypes.c_uint64)]


class _ProgInfo(ctypes.Structure):
    """struct bpf_prog_info (linux/bpf.h) up to run_cnt; the kernel fills what fits."""
    _fields_ = [("type", ctypes.c_uint32), ("id", ctypes.c_uint32),
                ("tag", ctypes.c_uint8 * 8),
                ("jited_prog_len", ctypes.c_uint32), ("xlated_prog_len", ctypes.c_uint32),
                ("jited_prog_insns", ctypes.c_uint64), ("xlated_prog_insns", ctypes.c_uint64),
                ("load_time", ctypes.c_uint64),
                ("created_by_uid", ctypes.c_uint32), ("nr_map_ids", ctypes.c_uint32),
                ("map_ids", ctypes.c_uint64), ("name", ctypes.c_char * 16),
                ("ifindex", ctypes.c_uint32), ("gpl_compatible", ctypes.c_uint32),
                ("netns_dev", ctypes.c_uint64), ("netns_ino", ctypes.c_uint64),
                ("nr_jited_ksyms", ctypes.c_uint32), ("nr_jited_func_lens", ctypes.c_uint32),
                ("jited_ksyms", ctypes.c_uint64), ("jited_func_lens", ctypes.c_uint64),
                ("btf_id", ctypes.c_uint32), ("func_info_rec_size", ctypes.c_uint32),
                ("func_info", ctypes.c_uint64),
                ("nr_func_info", ctypes.c_uint32), ("nr_line_info", ctypes.c_uint32),
                ("line_info", ctypes.c_uint64), ("jited_line_info", ctypes.c_uint64),
                ("nr_jited_line_info", ctypes.c_uint32), ("line_info_rec_size", ctypes.c_uint32),
                ("jited_line_info_rec_size", ctypes.c_uint32), ("nr_prog_tags", ctypes.c_uint32),
                ("prog_tags", ctypes.c_uint64),
                ("run_time_ns", ctypes.c_uint64), ("run_cnt", ctypes.c_uint64)]


def enabled() -> OwnedFd:
    """Run-time accounting of every BPF program, on until the returned fd is closed."""
    attr = ctypes.c_uint32(BPF_STATS_RUN_TIME)
    return OwnedFd(syscalls.syscall("bpf", BPF_ENABLE_STATS, ctypes.addressof(attr),
                                    ctypes.sizeof(attr), operation="bpf(BPF_ENABLE_STATS)"))


def _program_ids():
    attr = _IdAttr()
    while True:
        try:
            syscalls.bpf(BPF_PROG_GET_NEXT_ID, attr)
        except KernelError as error:
            if error.errno == errno.ENOENT:     # no program after this id
                return
            raise
        attr.id = attr.next_id
        yield attr.next_id


def _info(program_id: int):
    """The program's info, or None if it went away since it was listed."""
    try:
        fd = syscalls.bpf(BPF_PROG_GET_FD_BY_ID, _IdAttr(id=program_id))
    except KernelError as error:
        if error.errno == errno.ENOENT:
            return None
        raise
    try:
        info = _ProgInfo()
        syscalls.bpf(BPF_OBJ_GET_INFO_BY_FD, _InfoAttr(bpf_fd=fd, info_len=ctypes.sizeof(info),
                                                       info=ctypes.addressof(info)))
        return info
    finally:
        os.close(fd)


def hbreak_if_programs() -> list:
    """[{id, run_cnt, run_time_ns}] of every loaded hbreak-if predicate."""
    found = []
    for program_id in _program_ids():
        info = _info(program_id)
        if info is not None and info.name.startswith(PROGRAM_PREFIX):
            found.append({"id": info.id, "run_cnt": info.run_cnt,
                          "run_time_ns": info.run_time_ns})
    return found


if __name__ == "__main__":
    print("BPF-STATS " + json.dumps(hbreak_if_programs()), flush=True)
    sys.exit(0)
