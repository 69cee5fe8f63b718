"""Member offsets from BTF (gdb_plugin/kernel/btf.py): a blob built here, then the running
kernel's own."""
import os
import struct

import pytest

from gdb_plugin.kernel import btf

INT, STRUCT, UNION, TYPEDEF, CONST = 1, 4, 5, 8, 10


class Blob:
    """A BTF blob, type by type (ids from 1)."""

    def __init__(self):
        self.types, self.strings = b"", b"\0"

    def name(self, text):
        if not text:
            return 0
        offset = len(self.strings)
        self.strings += text.encode() + b"\0"
        return offset

    def add(self, name, kind, ref, vlen=0, kind_flag=False, trailing=b""):
        info = (kind << 24) | vlen | (1 << 31 if kind_flag else 0)
        self.types += struct.pack("<III", self.name(name), info, ref) + trailing

    def composite(self, kind, name, size, members, kind_flag=False):
        data = b"".join(struct.pack("<III", self.name(n), t, off) for n, t, off in members)
        self.add(name, kind, size, len(members), kind_flag, data)

    def bytes(self):
        header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(self.types),
                             len(self.types), len(self.strings))
        return header + self.types + self.strings


def sample():
    """1 int; 2 struct inner {int x; int y;}; 3 typedef inner_t; 4 const inner_t;
    5 union {int u; inner_t in;} (anonymous); 6 struct outer {int a; <5> at 64 bits;
    const inner_t last at 192 bits}; 7 struct bits {int b:3 at 5} (bit-field)."""
    blob = Blob()
    blob.add("int", INT, 4, trailing=struct.pack("<I", 32))
    blob.composite(STRUCT, "inner", 8, [("x", 1, 0), ("y", 1, 32)])
    blob.add("inner_t", TYPEDEF, 2)
    blob.add("", CONST, 3)
    blob.composite(UNION, "", 8, [("u", 1, 0), ("in", 3, 0)])
    blob.composite(STRUCT, "outer", 32, [("a", 1, 0), ("", 5, 64), ("last", 4, 192)])
    blob.composite(STRUCT, "bits", 4, [("b", 1, (3 << 24) | 5)], kind_flag=True)
    return btf.parse(blob.bytes())


@pytest.mark.parametrize("path,offset", [
    (("a",), 0), (("u",), 8), (("in", "y"), 12), (("last", "x"), 24), (("last", "y"), 28),
])
def test_member_offsets_through_typedefs_qualifiers_and_anonymous_members(path, offset):
    assert btf.member_offset(sample(), "outer", path) == offset


@pytest.mark.parametrize("struct_name,path,message", [
    ("nosuch", ("a",), "no struct nosuch"),
    ("outer", ("missing",), "struct outer has no member missing"),
    ("outer", ("a", "x"), "struct outer.a has no member x"),
    ("bits", ("b",), "bits.b is a bit-field"),
])
def test_what_is_not_there_is_said(struct_name, path, message):
    with pytest.raises(btf.BtfError, match=message):
        btf.member_offset(sample(), struct_name, path)


def test_not_btf_is_refused():
    with pytest.raises(btf.BtfError, match="not BTF"):
        btf.parse(b"\0" * 64)


@pytest.mark.skipif(not os.path.exists(btf.VMLINUX), reason="the kernel publishes no BTF")
def test_the_running_kernels_task_keeps_fsbase_then_gsbase():
    fsbase = btf.task_thread_offset("fsbase")
    assert btf.task_thread_offset("gsbase") == fsbase + 8
    assert 0 < fsbase < 1 << 16
