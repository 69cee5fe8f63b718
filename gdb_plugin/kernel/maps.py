"""A BPF array map of 64-bit counters (bpf BPF_MAP_CREATE, LOOKUP_ELEM, UPDATE_ELEM).

Predicates keep state across hits in it, e.g. how many more matching hits to
let pass for GDB's ignore count, counted in the kernel.
"""
import ctypes
import os

from . import syscalls

BPF_MAP_CREATE = 0
BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_TYPE_ARRAY = 2
BPF_ANY = 0


class _MapCreateAttr(ctypes.Structure):
    _fields_ = [
        ("map_type", ctypes.c_uint32),
        ("key_size", ctypes.c_uint32),
        ("value_size", ctypes.c_uint32),
        ("max_entries", ctypes.c_uint32),
        ("map_flags", ctypes.c_uint32),
    ]


class _MapElemAttr(ctypes.Structure):
    _fields_ = [
        ("map_fd", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("key", ctypes.c_uint64),
        ("value", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),
    ]


class CounterArray:
    """`size` signed 64-bit counters, all 0 at creation; owns its fd until close()."""

    def __init__(self, size: int = 1):
        attr = _MapCreateAttr(map_type=BPF_MAP_TYPE_ARRAY, key_size=4, value_size=8,
                              max_entries=size)
        self._fd = syscalls.bpf(BPF_MAP_CREATE, attr, operation="BPF_MAP_CREATE")
        self.size = size

    @property
    def fd(self) -> int:
        if self._fd is None:
            raise ValueError("BPF map is closed")
        return self._fd

    def _elem(self, command, index, value, operation):
        key = ctypes.c_uint32(index)
        attr = _MapElemAttr(map_fd=self.fd, key=ctypes.addressof(key),
                            value=ctypes.addressof(value), flags=BPF_ANY)
        syscalls.bpf(command, attr, operation=operation)

    def __getitem__(self, index: int) -> int:
        value = ctypes.c_int64()
        self._elem(BPF_MAP_LOOKUP_ELEM, index, value, "BPF_MAP_LOOKUP_ELEM")
        return value.value

    def __setitem__(self, index: int, number: int) -> None:
        self._elem(BPF_MAP_UPDATE_ELEM, index, ctypes.c_int64(number), "BPF_MAP_UPDATE_ELEM")

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
