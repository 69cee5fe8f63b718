"""Reading and clearing a predicate's state maps by fd (bpf(2) through the kernel layer).

The maps are those of predicate.c: hbreak_if_state, an array of u64 indexed
by u32, and hbreak_if_state_by, a hash from u64 to u64.
"""

import ctypes
import errno
import os

from ..kernel import syscalls
from ..kernel.errors import KernelError

BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_DELETE_ELEM = 3
BPF_MAP_GET_NEXT_KEY = 4
BPF_ANY = 0


class _ElemAttr(ctypes.Structure):
    _fields_ = [
        ("map_fd", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("key", ctypes.c_uint64),
        ("value", ctypes.c_uint64),     # | next_key
        ("flags", ctypes.c_uint64),
    ]


class StateMap:
    """A u64-valued BPF map owned through `fd`; keys of `key_type`."""

    def __init__(self, fd, key_type):
        self.fd = fd
        self.key_type = key_type

    def _call(self, cmd, key, value=None, operation="bpf"):
        attr = _ElemAttr(map_fd=self.fd, key=ctypes.addressof(key) if key is not None else 0,
                         value=ctypes.addressof(value) if value is not None else 0,
                         flags=BPF_ANY)
        syscalls.bpf(cmd, attr, operation=operation)

    def get(self, key):
        """The value at `key`, or None if there is none."""
        value = ctypes.c_uint64()
        try:
            self._call(BPF_MAP_LOOKUP_ELEM, self.key_type(key), value,
                       "BPF_MAP_LOOKUP_ELEM")
        except KernelError as e:
            if e.errno == errno.ENOENT:
                return None
            raise
        return value.value

    def set(self, key, number):
        self._call(BPF_MAP_UPDATE_ELEM, self.key_type(key),
                   ctypes.c_uint64(number & 0xFFFFFFFFFFFFFFFF), "BPF_MAP_UPDATE_ELEM")

    def keys(self):
        out = []
        key = None
        while True:
            nxt = self.key_type()
            try:
                self._call(BPF_MAP_GET_NEXT_KEY, key, nxt, "BPF_MAP_GET_NEXT_KEY")
            except KernelError as e:
                if e.errno == errno.ENOENT:
                    return out
                raise
            out.append(nxt.value)
            key = nxt

    def delete(self, key):
        try:
            self._call(BPF_MAP_DELETE_ELEM, self.key_type(key), None, "BPF_MAP_DELETE_ELEM")
        except KernelError as e:
            if e.errno != errno.ENOENT:
                raise

    def close(self):
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)
