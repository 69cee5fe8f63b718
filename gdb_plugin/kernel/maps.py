"""BPF maps of 64-bit values, reached by fd (bpf BPF_MAP_CREATE and the element commands).

Predicates keep state across hits in them: the ignore count counted in the
kernel, a C predicate's STATE slots, the memory it could not read.
"""
import ctypes
import errno

from . import syscalls
from .errors import KernelError
from .owned import OwnedFd

BPF_MAP_CREATE = 0
BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_DELETE_ELEM = 3
BPF_MAP_GET_NEXT_KEY = 4
BPF_MAP_TYPE_HASH = 1
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


class _ElemAttr(ctypes.Structure):
    _fields_ = [
        ("map_fd", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("key", ctypes.c_uint64),
        ("value", ctypes.c_uint64),     # or next_key
        ("flags", ctypes.c_uint64),
    ]


class BpfMap(OwnedFd):
    """A map with `key_type` keys and `value_type` (64-bit) values; owns its fd."""

    _what = "BPF map"

    def __init__(self, fd, key_type=ctypes.c_uint32, value_type=ctypes.c_uint64):
        super().__init__(fd)
        self.key_type = key_type
        self.value_type = value_type

    @classmethod
    def create(cls, map_type, entries, key_type=ctypes.c_uint32, value_type=ctypes.c_uint64):
        attr = _MapCreateAttr(map_type=map_type, key_size=ctypes.sizeof(key_type),
                              value_size=ctypes.sizeof(value_type), max_entries=entries)
        return cls(syscalls.bpf(BPF_MAP_CREATE, attr, operation="BPF_MAP_CREATE"),
                   key_type, value_type)

    def _call(self, command, key, value, operation):
        attr = _ElemAttr(map_fd=self.fd, key=ctypes.addressof(key) if key is not None else 0,
                         value=ctypes.addressof(value) if value is not None else 0,
                         flags=BPF_ANY)
        syscalls.bpf(command, attr, operation=operation)

    def get(self, key):
        """The value at `key`, or None if there is none."""
        value = self.value_type()
        try:
            self._call(BPF_MAP_LOOKUP_ELEM, self.key_type(key), value, "BPF_MAP_LOOKUP_ELEM")
        except KernelError as error:
            if error.errno == errno.ENOENT:
                return None
            raise
        return value.value if isinstance(value, ctypes._SimpleCData) else list(value)

    def set(self, key, number):
        self._call(BPF_MAP_UPDATE_ELEM, self.key_type(key), self.value_type(number),
                   "BPF_MAP_UPDATE_ELEM")

    __getitem__ = get
    __setitem__ = set

    def delete(self, key):
        try:
            self._call(BPF_MAP_DELETE_ELEM, self.key_type(key), None, "BPF_MAP_DELETE_ELEM")
        except KernelError as error:
            if error.errno != errno.ENOENT:
                raise

    def keys(self):
        found, key = [], None
        while True:
            following = self.key_type()
            try:
                self._call(BPF_MAP_GET_NEXT_KEY, key, following, "BPF_MAP_GET_NEXT_KEY")
            except KernelError as error:
                if error.errno == errno.ENOENT:
                    return found
                raise
            found.append(following.value)
            key = following


def counter_array(size: int = 1) -> BpfMap:
    """`size` signed 64-bit counters, all 0 at creation, indexed counters[i]."""
    return BpfMap.create(BPF_MAP_TYPE_ARRAY, size, ctypes.c_uint32, ctypes.c_int64)


def thread_mailbox(entries: int = 4096) -> BpfMap:
    """A u64 per u64 key, e.g. (thread id << 32 | breakpoint) for the matches a predicate
    reports to GDB."""
    return BpfMap.create(BPF_MAP_TYPE_HASH, entries, ctypes.c_uint64, ctypes.c_uint64)


def thread_snapshots(words: int, entries: int = 4096) -> BpfMap:
    """`words` u64 per u64 key, e.g. (thread id << 32 | breakpoint) for what a predicate kept
    of a thread at a hit."""
    return BpfMap.create(BPF_MAP_TYPE_HASH, entries, ctypes.c_uint64, ctypes.c_uint64 * words)
