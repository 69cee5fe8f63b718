"""The architectures (gdb_plugin/arch/): each is chosen by its names, and the compiler reads
AArch64's registers where the kernel saves them, under the names GDB gives them (GDB's own
numbering, from gdb-multiarch on an AArch64 binary)."""
import re
import shutil
import struct
import subprocess

import pytest

from gdb_plugin import arch
from gdb_plugin.arch import AARCH64, X86_64
from gdb_plugin.compiler import UnsupportedAx, pt_regs_field, rewrite_registers
from gdb_plugin.kernel import settle
from harness.paths import PLUGIN, PROGRAMS


@pytest.fixture
def aarch64():
    previous = arch.use(AARCH64)
    yield AARCH64
    arch.use(previous)


def test_each_architecture_is_found_by_its_names():
    assert arch.of_machine("x86_64") is X86_64
    assert arch.of_machine("aarch64") is arch.of_machine("arm64") is AARCH64
    assert arch.of_machine("riscv64") is None
    assert arch.by_gdb_name("i386:x86-64") is X86_64
    assert arch.by_gdb_name("aarch64") is AARCH64
    assert arch.by_gdb_name("i386") is None


def test_user_pt_regs_is_the_start_of_an_aarch64_context(aarch64):
    # arch/arm64/include/uapi/asm/ptrace.h: struct user_pt_regs { regs[31]; sp; pc; pstate; }
    assert [pt_regs_field(n).offset for n in range(34)] == [8 * n for n in range(34)]
    assert pt_regs_field(33).mask == 0xFFFF_FFFF                   # cpsr: pstate's low half
    with pytest.raises(UnsupportedAx,
                       match=r"\$v0 is not saved .* \(only x0-x30, sp, pc and cpsr can be\)"):
        pt_regs_field(34)


@pytest.mark.parametrize("condition,rewritten", [
    ("x0 == 5 && x30 != 0", "$x0 == 5 && $x30 != 0"),
    ("sp < 4096 || pc == 0x400000", "$sp < 4096 || $pc == 0x400000"),
    ("w1 == 3", "((unsigned int)((long)$x1 & 0xffffffff)) == 3"),
    ("$w2 > 7", "((unsigned int)((long)$x2 & 0xffffffff)) > 7"),
    ("lr == $lr", "$x30 == $x30"),
    ("ip0 + $ip1", "$x16 + $x17"),
    ("(long)$ps & 0x20000000", "(long)$cpsr & 0x20000000"),    # a flags type in GDB
    ("$fp == 0 && rax == 1", "$fp == 0 && rax == 1"),     # GDB's frame base; no rax here
])
def test_aarch64_register_names_are_rewritten_for_gdbs_agent_expressions(aarch64, condition,
                                                                          rewritten):
    assert rewrite_registers(condition, lambda name: False) == rewritten


needs_cross = pytest.mark.skipif(
    not (shutil.which("gdb-multiarch") and shutil.which("aarch64-linux-gnu-gcc")),
    reason="needs gdb-multiarch and gcc-aarch64-linux-gnu (./install.sh --dev)")


@needs_cross
def test_gdbs_aarch64_register_numbers_and_types_are_the_tables(tmp_path, aarch64):
    program = tmp_path / "loop"
    subprocess.run(["aarch64-linux-gnu-gcc", "-g", "-O0", "-o", str(program),
                    str(PROGRAMS / "loop.c")], check=True)
    readable = sorted(AARCH64.pt_regs)
    commands = [f"maint agent-eval -at target, ${AARCH64.registers[n]}" for n in readable]
    commands += ["ptype $w0", "ptype $cpsr", "maint agent-eval -at target, " +
                 rewrite_registers("w5 + lr + (long)$ps", lambda name: False)]
    out = subprocess.run(["gdb-multiarch", "-nx", "-batch", *sum((["-ex", c] for c in commands),
                                                                 []), str(program)],
                         capture_output=True, text=True, check=True).stdout
    listings = out.split("Scope:")[1:]
    numbers = [int(re.search(r"reg (\d+)", listing).group(1)) for listing in listings]
    assert numbers[:len(readable)] == readable
    assert "type = uint32_t" in out                              # $w0: unsigned, as rewritten
    assert re.findall(r"reg (\d+)", listings[-1]) == ["5", "30", "33"]


@pytest.mark.parametrize("word,leaves", [
    (0x14000010, True),     # b .+64
    (0x54000040, True),     # b.eq .+8
    (0xB4000040, True),     # cbz x0, .+8
    (0x36000040, True),     # tbz w0, #0, .+8
    (0xD61F0200, True),     # br x16
    (0xD65F03C0, True),     # ret
    (0xD63F0020, False),    # blr x1: a call
    (0x94000010, False),    # bl: a call
    (0xD280001D, False),    # mov x29, #0
    (settle.NOP, False),
])
def test_the_settle_knows_which_aarch64_instructions_never_come_back(word, leaves):
    assert settle._leaves(word) is leaves


@needs_cross
def test_the_settles_scratch_bytes_are_in_glibcs_aarch64_entry_code(tmp_path):
    # _start runs once; GDB uses its first 12 bytes, the settle the 8 after them.
    program = tmp_path / "loop"
    subprocess.run(["aarch64-linux-gnu-gcc", "-g", "-O0", "-o", str(program),
                    str(PROGRAMS / "loop.c")], check=True)
    image = program.read_bytes()
    entry = struct.unpack_from("<Q", image, 24)[0]     # e_entry; the text is at offset 0
    assert settle.runs_straight_on(image[entry:entry + settle.SCRATCH_OFFSET + 8])
    assert not settle.runs_straight_on(struct.pack("<5I", settle.NOP, 0x14000010, *[0] * 3))


@needs_cross
def test_an_aarch64_program_gets_the_ptrace_tier_here_and_a_predicate_for_its_registers(
        tmp_path):
    # GDB on this machine, the program AArch64's (as a remote target's would be): this
    # machine's kernel cannot run it.
    program = tmp_path / "loop"
    subprocess.run(["aarch64-linux-gnu-gcc", "-g", "-O0", "-o", str(program),
                    str(PROGRAMS / "loop.c")], check=True)
    out = subprocess.run(["gdb-multiarch", "-nx", "-batch", "-ex", f"source {PLUGIN}",
                          "-ex", "hbreak-if target w0 == 3 && x1 > 2",
                          "-ex", "hbreak-if -explain target w0 == 3", str(program)],
                         capture_output=True, text=True, check=True)
    assert "[ptrace tier]" in out.stdout, out.stdout + out.stderr
    assert "the program is for aarch64, and this machine's kernel (x86_64)" in out.stdout
    # The predicate reads x0 at user_pt_regs' offset 0, its low 32 bits as GDB's $w0.
    assert "r7 = *(u64 *)(r6 + 0)" in out.stdout and "r7 == 3" in out.stdout, out.stdout
    assert "Traceback" not in out.stdout + out.stderr
