"""AArch64: GDB's register numbers (aarch64-tdep.h: x0-x30 0-30, sp 31, pc 32, cpsr 33, v0-v31
34-65, fpsr 66, fpcr 67; measured with `maint agent-eval`), the kernel's `struct
user_pt_regs`, the start of a perf event BPF program's context there
(arch/arm64/include/uapi/asm/ptrace.h: regs[31], sp, pc, pstate), and the generic syscall
table (include/uapi/asm-generic/unistd.h).

GDB's $w0-$w30 are uint32_t pseudo-registers, which agent expressions refuse; $lr, $ip0 and
$ip1 are its aliases of x30, x16 and x17, and `$ps` the cpsr, all user registers AX refuses.
As on x86-64, `$fp` is GDB's frame base, not x29, and stays with GDB.
"""
from .registers import FULL, Arch, PtRegsField, SubRegister

_REGISTERS = {
    **{n: f"x{n}" for n in range(31)}, 31: "sp", 32: "pc", 33: "cpsr",
    **{34 + n: f"v{n}" for n in range(32)}, 66: "fpsr", 67: "fpcr",
}

_PT_REGS = {
    **{n: PtRegsField(8 * n, FULL) for n in range(31)},
    31: PtRegsField(248, FULL),
    32: PtRegsField(256, FULL),
    33: PtRegsField(264, 0xFFFF_FFFF),  # GDB's cpsr is the low 32 bits of pstate
}

_ALIASES = {"lr": "x30", "ip0": "x16", "ip1": "x17"}

AARCH64 = Arch(
    name="aarch64",
    machines=("aarch64", "arm64"),
    gdb_names=("aarch64",),
    syscalls={"perf_event_open": 241, "bpf": 280, "tgkill": 131},
    breakpoint_length=4,            # the kernel takes only 4 for an AArch64 task
    debug_registers="AArch64 has 2 to 16 for code, most often 6",
    registers=_REGISTERS,
    pt_regs=_PT_REGS,
    readable="only x0-x30, sp, pc and cpsr",
    first_argument=0,               # x0
    full_names=(*[f"x{n}" for n in range(31)], "sp", "pc", "cpsr"),
    sub_registers={f"w{n}": SubRegister(f"x{n}", "unsigned int") for n in range(31)},
    aliases=_ALIASES,
    dollar_aliases={**_ALIASES, "ps": "cpsr"},
    kernel_steps_over=True,
    watch_problem=(
        "on AArch64 a thread that a perf watchpoint's signal stopped still has the kernel's "
        "own step over the access pending, and hbreak-if settles only threads stopped at "
        "breakpoints (tests/arch_matrix/RESULTS.md)"),
    agent_problem=(
        "on AArch64 a thread that a perf breakpoint's signal stopped still has the kernel's "
        "own step over that breakpoint pending, which only the thread's tracer can settle: "
        "gdbserver, not GDB's side (tests/arch_matrix/RESULTS.md)"),
    # DWARF for the Arm 64-bit architecture: x0-x30 are 0-30, sp 31.
    dwarf_registers=(*[f"x{n}" for n in range(31)], "sp"),
)
