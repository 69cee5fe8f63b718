"""x86-64: GDB's amd64 register numbers (amd64-tdep.h; 57-59 from amd64-linux-tdep.h), the
kernel's `struct pt_regs` (arch/x86/include/asm/ptrace.h) and syscall table
(arch/x86/entry/syscalls/syscall_64.tbl).

fs_base and gs_base are not in pt_regs: the predicate reads them from the current task's
`thread` (thread_bases), where the kernel keeps the values arch_prctl and clone set.
"""
from typing import Dict

from .registers import FULL, Arch, PtRegsField, SubRegister

_REGISTERS = {
    0: "rax", 1: "rbx", 2: "rcx", 3: "rdx", 4: "rsi", 5: "rdi", 6: "rbp", 7: "rsp",
    **{8 + n: f"r{8 + n}" for n in range(8)},
    16: "rip", 17: "eflags", 18: "cs", 19: "ss", 20: "ds", 21: "es", 22: "fs", 23: "gs",
    **{24 + n: f"st{n}" for n in range(8)},
    32: "fctrl", 33: "fstat", 34: "ftag", 35: "fiseg", 36: "fioff", 37: "foseg", 38: "fooff",
    39: "fop", **{40 + n: f"xmm{n}" for n in range(16)}, 56: "mxcsr",
    57: "orig_rax", 58: "fs_base", 59: "gs_base",
}

_PT_REGS = {
    0: PtRegsField(80, FULL), 1: PtRegsField(40, FULL), 2: PtRegsField(88, FULL),
    3: PtRegsField(96, FULL), 4: PtRegsField(104, FULL), 5: PtRegsField(112, FULL),
    6: PtRegsField(32, FULL), 7: PtRegsField(152, FULL),
    8: PtRegsField(72, FULL), 9: PtRegsField(64, FULL), 10: PtRegsField(56, FULL),
    11: PtRegsField(48, FULL), 12: PtRegsField(24, FULL), 13: PtRegsField(16, FULL),
    14: PtRegsField(8, FULL), 15: PtRegsField(0, FULL),
    16: PtRegsField(128, FULL),
    17: PtRegsField(144, FULL),
    # With FRED (Linux 6.9+) the upper bits of the cs and ss slots carry event data.
    18: PtRegsField(136, 0xFFFF),
    19: PtRegsField(160, 0xFFFF),
    57: PtRegsField(120, FULL),
}

# GDB's own types for its amd64 pseudo-registers: $eax is int32_t, $ax int16_t, $al and $ah
# int8_t -- all signed.
_INT32, _INT16, _INT8 = "int", "short", "signed char"


def _sub_registers() -> Dict[str, SubRegister]:
    subs: Dict[str, SubRegister] = {}
    for letter in "abcd":
        full = f"r{letter}x"
        subs[f"e{letter}x"] = SubRegister(full, _INT32)
        subs[f"{letter}x"] = SubRegister(full, _INT16)
        subs[f"{letter}l"] = SubRegister(full, _INT8)
        subs[f"{letter}h"] = SubRegister(full, _INT8, 8)
    for short in ("si", "di", "bp", "sp"):
        full = f"r{short}"
        subs[f"e{short}"] = SubRegister(full, _INT32)
        subs[f"{short}l"] = SubRegister(full, _INT8)
        if short != "sp":          # GDB has no 16-bit $sp: $sp is the stack pointer
            subs[short] = SubRegister(full, _INT16)
    for n in range(8, 16):
        subs[f"r{n}d"] = SubRegister(f"r{n}", _INT32)
        subs[f"r{n}w"] = SubRegister(f"r{n}", _INT16)
        subs[f"r{n}l"] = SubRegister(f"r{n}", _INT8)
    return subs


X86_64 = Arch(
    name="x86_64",
    machines=("x86_64",),
    gdb_names=("i386:x86-64",),
    syscalls={"perf_event_open": 298, "bpf": 321, "tgkill": 234},
    breakpoint_length=8,            # sizeof(long): the kernel's rule for an execute breakpoint
    debug_registers="x86 has 4",
    registers=_REGISTERS,
    pt_regs=_PT_REGS,
    readable="only the general registers, rip, eflags, cs, ss, orig_rax, fs_base and gs_base",
    first_argument=5,               # rdi
    full_names=("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
                *[f"r{n}" for n in range(8, 16)], "rip", "eflags",
                "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base", "orig_rax"),
    sub_registers=_sub_registers(),
    # Intel's r8b spelling (GDB calls it $r8l), bare only.
    bare_only_sub_registers={f"r{n}b": SubRegister(f"r{n}", _INT8) for n in range(8, 16)},
    aliases={"pc": "rip", "sp": "rsp"},
    # `$fp` is deliberately absent: GDB's $fp is the frame base, which is not rbp in code
    # built without a frame pointer. AX refuses it, so it stays with GDB.
    dollar_aliases={"pc": "rip", "sp": "rsp", "ps": "eflags"},
    thread_bases={58: "fsbase", 59: "gsbase"},
    # System V psABI, figure 3.36.
    dwarf_registers=("rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
                     "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"),
)
