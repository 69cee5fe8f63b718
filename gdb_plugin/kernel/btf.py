"""Byte offsets of members of the running kernel's structs, from its own BTF.

/sys/kernel/btf/vmlinux holds a header, a type section (each type a 12-byte record followed by
data whose size its kind and member count give) and a string section
(Documentation/bpf/btf.rst). Only what a member path needs is read: struct and union members,
followed through typedefs and qualifiers and into anonymous members.
"""
from __future__ import annotations

import struct
from functools import lru_cache
from typing import List, Optional, Sequence, Tuple

VMLINUX = "/sys/kernel/btf/vmlinux"

_MAGIC = 0xEB9F
_HEADER = struct.Struct("<HBBIIIII")
_RECORD = struct.Struct("<III")
_MEMBER = struct.Struct("<III")
_STRUCT, _UNION, _TYPEDEF, _VOLATILE, _CONST, _RESTRICT, _TYPE_TAG = 4, 5, 8, 9, 10, 11, 18
_QUALIFIERS = (_TYPEDEF, _VOLATILE, _CONST, _RESTRICT, _TYPE_TAG)
# Bytes after the record: (fixed, per member) for each kind that has any.
_TRAILING = {1: (4, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 13: (0, 8),
             14: (4, 0), 15: (0, 12), 17: (4, 0), 19: (0, 12)}


class BtfError(Exception):
    """The BTF is missing, unreadable, or lacks the member asked for."""


class _Type:
    __slots__ = ("name", "kind", "ref", "members")

    def __init__(self, name: str, kind: int, ref: int, members: List[Tuple[str, int, int]]):
        self.name, self.kind, self.ref = name, kind, ref
        self.members = members      # (name, type id, bit offset) for structs and unions


def parse(data: bytes) -> List[Optional[_Type]]:
    """The types of a BTF blob, indexed by type id (id 0, void, is None)."""
    try:
        magic, _, _, header_length, type_off, type_len, str_off, str_len = \
            _HEADER.unpack_from(data)
    except struct.error as error:
        raise BtfError(f"BTF header unreadable: {error}") from None
    if magic != _MAGIC:
        raise BtfError(f"not BTF (magic {magic:#x})")
    strings = data[header_length + str_off:header_length + str_off + str_len]

    def name_at(offset: int) -> str:
        return strings[offset:strings.index(b"\0", offset)].decode(errors="replace")

    types: List[Optional[_Type]] = [None]
    at, end = header_length + type_off, header_length + type_off + type_len
    while at < end:
        name_off, info, size_or_type = _RECORD.unpack_from(data, at)
        at += _RECORD.size
        kind, vlen, kind_flag = (info >> 24) & 0x1F, info & 0xFFFF, bool(info >> 31)
        members = []
        if kind in (_STRUCT, _UNION):
            for n in range(vlen):
                member_name, member_type, offset = _MEMBER.unpack_from(data, at + n * 12)
                bit_offset = offset & 0xFFFFFF if kind_flag else offset
                members.append((name_at(member_name), member_type, bit_offset))
        fixed, per_member = _TRAILING.get(kind, (0, 0))
        at += fixed + per_member * vlen
        types.append(_Type(name_at(name_off), kind, size_or_type, members))
    return types


def _resolved(types: Sequence[Optional[_Type]], type_id: int) -> Optional[_Type]:
    """The type behind typedefs and qualifiers."""
    t = types[type_id]
    while t is not None and t.kind in _QUALIFIERS:
        t = types[t.ref]
    return t


def _member_bits(types: Sequence[Optional[_Type]], t: _Type,
                 name: str) -> Optional[Tuple[int, int]]:
    """(bit offset in t, type id) of member `name`, looking into anonymous members."""
    for member_name, member_type, bit_offset in t.members:
        if member_name == name:
            return bit_offset, member_type
        inner = _resolved(types, member_type)
        if not member_name and inner is not None and inner.kind in (_STRUCT, _UNION):
            found = _member_bits(types, inner, name)
            if found is not None:
                return bit_offset + found[0], found[1]
    return None


def member_offset(types: Sequence[Optional[_Type]], struct_name: str,
                  path: Sequence[str]) -> int:
    """The byte offset of struct_name.path[0].path[1]... (BtfError if there is none)."""
    t = next((t for t in types if t is not None and t.kind == _STRUCT
              and t.name == struct_name and t.members), None)
    if t is None:
        raise BtfError(f"the kernel's BTF has no struct {struct_name}")
    bits, where = 0, struct_name
    for name in path:
        found = _member_bits(types, t, name) if t is not None and t.members else None
        if found is None:
            raise BtfError(f"the kernel's struct {where} has no member {name}")
        bits += found[0]
        where = f"{where}.{name}"
        t = _resolved(types, found[1])
    if bits % 8:
        raise BtfError(f"{where} is a bit-field")
    return bits // 8


@lru_cache(maxsize=None)
def _vmlinux_types() -> List[Optional[_Type]]:
    try:
        with open(VMLINUX, "rb") as f:
            return parse(f.read())
    except OSError as error:
        raise BtfError(f"cannot read {VMLINUX}: {error.strerror}") from None


@lru_cache(maxsize=None)
def task_thread_offset(member: str) -> int:
    """Offset of task_struct.thread.MEMBER (fsbase, gsbase) in the running kernel."""
    return member_offset(_vmlinux_types(), "task_struct", ("thread", member))
