"""Register numbers -> pt_regs, and the rewrite of register names in conditions."""
import pytest

from harness.axref import PT_REGS_OFFSETS
from harness.gdb import run_gdb
from harness.programs import build
from gdb_plugin.compiler import UnsupportedAx, pt_regs_field, rewrite_registers
from gdb_plugin.arch import X86_64
from gdb_plugin.compiler.registers import register_rewrites


def no_symbols(name):
    return False


def test_pt_regs_offsets_match_the_kernel_layout():
    # axref's table is written independently, from arch/x86/include/asm/ptrace.h.
    for number, offset in PT_REGS_OFFSETS.items():
        assert pt_regs_field(number).offset == offset, number
    assert pt_regs_field(18).mask == pt_regs_field(19).mask == 0xFFFF       # cs, ss
    assert pt_regs_field(0).mask == (1 << 64) - 1


@pytest.mark.parametrize("number,name", [(20, "ds"), (21, "es"), (22, "fs"), (23, "gs"),
                                         (58, "fs_base"), (59, "gs_base"), (24, "st0"),
                                         (40, "xmm0"), (56, "mxcsr"), (108, "register 108")])
def test_registers_outside_pt_regs_are_refused_by_name(number, name):
    with pytest.raises(UnsupportedAx, match=rf"\${name} is not saved in the kernel's pt_regs"):
        pt_regs_field(number)


@pytest.mark.parametrize("condition,rewritten", [
    ("rax == 3", "$rax == 3"),
    ("rip != 0 && eflags & 0x200", "$rip != 0 && $eflags & 0x200"),
    ("r8 + r15 > rsp", "$r8 + $r15 > $rsp"),
    ("pc == 0x401000 || sp < 4096", "$rip == 0x401000 || $rsp < 4096"),
    ("eax < 0", "((int)((long)$rax & 0xffffffff)) < 0"),
    ("ax == -1", "((short)((long)$rax & 0xffff)) == -1"),
    ("al == 'a'", "((signed char)((long)$rax & 0xff)) == 'a'"),
    ("ah > 2", "((signed char)(((long)$rax >> 8) & 0xff)) > 2"),
    ("bh + ch + dh", "((signed char)(((long)$rbx >> 8) & 0xff)) + "
                     "((signed char)(((long)$rcx >> 8) & 0xff)) + "
                     "((signed char)(((long)$rdx >> 8) & 0xff))"),
    ("esi == edi", "((int)((long)$rsi & 0xffffffff)) == ((int)((long)$rdi & 0xffffffff))"),
    ("si + di + bp", "((short)((long)$rsi & 0xffff)) + ((short)((long)$rdi & 0xffff)) + "
                     "((short)((long)$rbp & 0xffff))"),
    ("sil | dil | bpl | spl", "((signed char)((long)$rsi & 0xff)) | "
                              "((signed char)((long)$rdi & 0xff)) | "
                              "((signed char)((long)$rbp & 0xff)) | "
                              "((signed char)((long)$rsp & 0xff))"),
    ("esp == ebp", "((int)((long)$rsp & 0xffffffff)) == ((int)((long)$rbp & 0xffffffff))"),
    ("r8d + r9w + r10l + r11b", "((int)((long)$r8 & 0xffffffff)) + ((short)((long)$r9 & 0xffff)) + "
                                "((signed char)((long)$r10 & 0xff)) + "
                                "((signed char)((long)$r11 & 0xff))"),
    ("$pc == $sp", "$rip == $rsp"),
    ("$ps & 1", "$eflags & 1"),
    ("$eax == $r12d", "((int)((long)$rax & 0xffffffff)) == ((int)((long)$r12 & 0xffffffff))"),
    ("$ah", "((signed char)(((long)$rax >> 8) & 0xff))"),
    # GDB's own registers stay; $fp is GDB's frame base, not rbp
    ("$rax == $fp", "$rax == $fp"),
    ("$r8b == 1", "$r8b == 1"),                 # not a GDB register: a convenience variable
    ("$_siginfo.si_signo == 5", "$_siginfo.si_signo == 5"),
    # names that are not registers here
    ("rax_count > eax_x", "rax_count > eax_x"),
    ("s.rax == p->eax", "s.rax == p->eax"),
    ("sizeof(struct rax) == 8", "sizeof(struct rax) == 8"),
    ("ns::eax == 1", "ns::eax == 1"),
    ("rax::x == 1", "rax::x == 1"),
    ("strcmp(name, \"rax eax al\") == 0 && c == 'ah'",
     "strcmp(name, \"rax eax al\") == 0 && c == 'ah'"),
    ("fp == 3", "fp == 3"),
])
def test_rewrite(condition, rewritten):
    assert rewrite_registers(condition, no_symbols) == rewritten


def test_program_symbols_win_over_register_names():
    symbols = {"ax", "rip", "count"}
    assert (rewrite_registers("ax + rip + eax + count", symbols.__contains__)
            == "ax + rip + ((int)((long)$rax & 0xffffffff)) + count")


def test_whitespace_and_spelling_outside_registers_is_kept():
    text = "  x  &&\trax==1   "
    assert rewrite_registers(text, no_symbols) == "  x  &&\t$rax==1   "
    assert [t.text for t, _ in register_rewrites(text, no_symbols)] == ["rax"]


@pytest.mark.gdb
def test_sub_registers_mean_what_gdbs_pseudo_registers_mean():
    """For every GDB pseudo-register ($eax, $ax, $al, $ah, $r8d ...) and awkward values of
    its full register, the rewritten form has the same value, size and signedness."""
    values = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
              0xFFFFFFFF, 0x123456789ABCDEF0, 0x8000000000000000, 0xFFFFFFFFFFFFFFFF]
    commands, checks = ["break target", "run"], []
    by_base = {}
    for name, sub in X86_64.sub_registers.items():
        by_base.setdefault(sub.full, []).append(name)
    for base, names in sorted(by_base.items()):
        for value in values:
            commands.append(f"set ${base} = {value:#x}")
            for name in names:
                ours = rewrite_registers(name, no_symbols)
                commands.append(
                    f"print (${name} == {ours}) + (sizeof(${name}) == sizeof({ours})) + "
                    f"(((__typeof__(${name}))-1 < 0) == ((__typeof__({ours}))-1 < 0))")
                checks.append(f"{name} with ${base} = {value:#x}")
    commands.append("kill")
    result = run_gdb(build("loop"), commands, args=[3], plugin=False, timeout=120).check()
    printed = result.values()
    assert len(printed) == len(checks), result
    wrong = [checks[n - 1] for n, v in printed.items() if v != "3"]
    assert not wrong, wrong[:5]
