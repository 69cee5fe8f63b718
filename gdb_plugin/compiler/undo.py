"""Whether a stop can be put back before an instruction the kernel has already run.

A uprobe's program runs before the probed instruction, but the signal it sends arrives only
after the kernel ran that instruction (emulated, or stepped out of line).  The program
therefore keeps what the instruction may change -- the general registers and eflags (all of
pt_regs), and the 8 bytes at the one place in the thread's stack it may store to -- and at
the stop GDB puts them back, with the pc at the instruction.  That is exact only for an
instruction whose every effect is in what was kept:

- registers: only the general ones and eflags (not vector, x87, segment or fs/gs bases);
- memory: nothing, or one store to the thread's own stack (push, call, or a store addressed
  from %rsp, or from %rbp where %rbp is the frame pointer), which no other thread reads
  before GDB stops them all;
- nothing else a second run would see: no system call, no lock, no string instruction.

Anything else (a store to a global, which another thread may read before the stop) is
refused, with the reason: GDB then evaluates the condition there.  The instruction comes as
GDB disassembles it, in AT&T syntax.
"""
import re
from dataclasses import dataclass
from typing import List, Optional

GENERAL_REGISTERS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
                     *(f"r{n}" for n in range(8, 16)))

_PREFIXES = {"data16", "addr32", "cs", "ds", "es", "ss", "notrack", "bnd", "rex", "rex.w",
             "rex.b", "rex.r", "rex.x", "rex.wb", "rex.wr", "rex.wx", "rex.rb", "rex.rx",
             "rex.wrb", "rex.wrx", "rex.wxb", "rex.rxb", "rex.wrxb", "ds:", "cs:"}
_REFUSED_PREFIXES = {"lock", "rep", "repz", "repe", "repnz", "repne", "xacquire", "xrelease"}
# Effects outside the general registers and the stack, or a second run that differs.
_REFUSED = re.compile(
    r"(syscall|sysenter|sysexit|sysret\w*|int\w*|ud[012]|hlt|iret\w*|popf\w*|enter\w*"
    r"|xsave\w*|xrstor\w*|fxsave\w*|fxrstor\w*|f\w+|ldmxcsr|stmxcsr|vzero\w+|emms|wr\w+base"
    r"|wrpkru|xsetbv|xbegin|xend|xabort|clflush\w*|clwb"
    r"|(movs|stos|lods|scas|cmps|ins|outs)[bwlq]?|in|out|cli|sti|rdrand\w*|rdseed\w*"
    r"|rdpid|tpause|umwait|monitor\w*|mwait\w*)")
_NOT_GENERAL = re.compile(r"%(x|y|z)mm\d+|%mm\d|%st\b|%st\(|%k[0-7]\b|%[c-gs]s\b(?!:)|%[cd]r\d"
                          r"|%bnd\d|%mxcsr")
# One operand, written (else read): its memory operand would be stored to.
_WRITES_ITS_OPERAND = re.compile(r"(inc|dec|neg|not|set\w+|pop|sh[lr]|sa[lr]|ro[lr]|rc[lr])"
                                 r"[bwlq]?")
_READS_ITS_OPERAND = re.compile(r"(push|call|jmp|j\w+|loop\w*|mul|imul|div|idiv|nop|prefetch"
                                r"\w*)[bwlq]?")
# Two operands or more, whose last is only read.
_COMPARES = re.compile(r"(cmp|test|bt|ptest|ucomis\w|comis\w)[bwlq]?")
_MEMORY = re.compile(r"^(?:%(?P<segment>[a-z]s):)?(?P<displacement>-?(?:0x[0-9a-f]+|\d+))?"
                     r"(?:\((?P<base>%\w+)?(?:,(?P<index>%\w+)(?:,(?P<scale>[1248]))?)?\))?$")


class NotUndoable(Exception):
    """The instruction cannot be put back: the message says why."""


@dataclass(frozen=True)
class StackStore:
    """The instruction stores, at most 8 bytes, at base + index * scale + displacement."""
    base: str
    displacement: int
    index: Optional[str] = None
    scale: int = 1


PUSH = StackStore("rsp", -8)  # push and call store below the stack pointer


def _operands(text: str) -> List[str]:
    operands, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            operands.append(current.strip())
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    if current.strip():
        operands.append(current.strip())
    return operands


def _is_memory(operand: str) -> bool:
    """Not an immediate nor a register: an address, with a segment prefix (%fs:0x28) too."""
    return not operand.startswith("$") and (":" in operand
                                            or not operand.startswith(("%", "*%")))


def _store(operand: str, frame_pointer: bool) -> StackStore:
    text = operand.lstrip("*")
    found = _MEMORY.match(text)
    if found is None:
        raise NotUndoable(f"its operand {operand} is not an address it knows")
    base, index = found["base"], found["index"]
    stack = ("%rsp",) + (("%rbp",) if frame_pointer else ())
    if found["segment"] is not None or base not in stack or index in ("%rsp", "%rip"):
        raise NotUndoable(f"it stores to {operand}, which another thread may read before GDB "
                          "stops it")
    if index is not None and index[1:] not in GENERAL_REGISTERS:
        raise NotUndoable(f"its index register {index} is not a 64-bit general register")
    displacement = int(found["displacement"] or "0", 0)
    return StackStore(base[1:], displacement, index[1:] if index else None,
                      int(found["scale"] or "1"))


def undo_plan(instruction: str, frame_pointer: bool = False) -> Optional[StackStore]:
    """Where `instruction` (GDB's disassembly, AT&T) stores, if anywhere, once it is known to
    be undoable; NotUndoable says why not.  `frame_pointer`: %rbp is the frame pointer there
    (the call frame information computes the frame from it)."""
    text = instruction.split("#", 1)[0]
    text = re.sub(r"<[^>]*>", "", text).strip()
    words = text.split(None, 1)
    while words and (words[0] in _PREFIXES or words[0] in _REFUSED_PREFIXES):
        if words[0] in _REFUSED_PREFIXES:
            raise NotUndoable(f"its {words[0]} prefix acts on memory other threads share")
        words = words[1].split(None, 1) if len(words) > 1 else []
    if not words:
        raise NotUndoable("it is no instruction")
    mnemonic = words[0]
    operands = _operands(words[1]) if len(words) > 1 else []
    if _REFUSED.fullmatch(mnemonic):
        raise NotUndoable(f"{mnemonic} has effects beyond the general registers and the stack")
    for operand in operands:
        if _NOT_GENERAL.search(operand):
            raise NotUndoable(f"{mnemonic} uses {operand}, which the kernel does not keep "
                              "for a uprobe (only the general registers and eflags)")
    if mnemonic.startswith(("push", "call")):
        return PUSH
    memory = [operand for operand in operands if _is_memory(operand)]
    if not memory:
        return None
    if mnemonic.startswith(("xchg", "cmpxchg", "xadd")):
        raise NotUndoable(f"{mnemonic} acts on memory other threads share (it is locked)")
    if re.fullmatch(r"bt[crs][wlq]?", mnemonic):
        raise NotUndoable(f"{mnemonic} may store anywhere its bit offset reaches")
    if len(operands) == 1:
        if _READS_ITS_OPERAND.fullmatch(mnemonic):
            return None
        if _WRITES_ITS_OPERAND.fullmatch(mnemonic) and not mnemonic.startswith("pop"):
            return _store(operands[0], frame_pointer)
        raise NotUndoable(f"{mnemonic} {operands[0]} may store to memory")
    destination = operands[-1]
    if not _is_memory(destination) or _COMPARES.fullmatch(mnemonic):
        return None
    if mnemonic.startswith("pop"):
        raise NotUndoable(f"{mnemonic} stores to {destination}")
    return _store(destination, frame_pointer)
