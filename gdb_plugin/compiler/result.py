"""What compiling a condition produces: the part that runs in the kernel, and why the rest
does not."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

from ..ebpf import Insn
from .ax import AxExpr


# -- the kernel part: a small tree over compiled leaves -------------------------------------
@dataclass(frozen=True)
class KernelLeaf:
    text: str          # the expression GDB compiled (after the compiler's own rewrites)
    ax: AxExpr


@dataclass(frozen=True)
class KernelAnd:
    parts: Tuple["KernelPart", ...]


@dataclass(frozen=True)
class KernelOr:
    parts: Tuple["KernelPart", ...]


@dataclass(frozen=True)
class KernelNot:
    part: "KernelPart"


@dataclass(frozen=True)
class KernelChoice:
    """cond ? then : otherwise, each used as a truth value; a None branch is true."""
    cond: "KernelPart"
    then: Optional["KernelPart"]
    otherwise: Optional["KernelPart"]


@dataclass(frozen=True)
class CharArray:
    """A `char` array GDB reads as a string: up to its first NUL, or all `length` bytes."""
    address: AxExpr
    length: int


@dataclass(frozen=True)
class KernelString:
    """`$_streq(A, B)`, `$_strlen(A) OP N` or `$_memeq(A, B, N)` over memory read in the
    kernel (strings.py). A string's argument is the agent expression of a `char *`, a `char`
    array or the bytes of a string literal; $_memeq's are two addresses' and a length's agent
    expressions (a literal length is an int)."""
    text: str
    function: str                               # "$_streq", "$_strlen" or "$_memeq"
    args: Tuple[Union[AxExpr, CharArray, bytes, int], ...]
    # $_strlen's comparison: (operator, N), N None for the second argument's length
    compare: Optional[Tuple[str, Optional[int]]] = None


KernelPart = Union[KernelLeaf, KernelAnd, KernelOr, KernelNot, KernelChoice, KernelString]


def kernel_text(part: Optional[KernelPart]) -> str:
    """The kernel part as one GDB expression (None, "no filter", is `1`)."""
    if part is None:
        return "1"
    if isinstance(part, (KernelLeaf, KernelString)):
        return part.text
    if isinstance(part, KernelNot):
        return f"!({kernel_text(part.part)})"
    if isinstance(part, KernelChoice):
        return (f"({kernel_text(part.cond)}) ? ({kernel_text(part.then)}) : "
                f"({kernel_text(part.otherwise)})")
    joiner = " && " if isinstance(part, KernelAnd) else " || "
    return joiner.join(f"({kernel_text(p)})" for p in part.parts)


def leaves(part: Optional[KernelPart]) -> List[KernelLeaf]:
    if part is None or isinstance(part, KernelString):
        return []
    if isinstance(part, KernelLeaf):
        return [part]
    if isinstance(part, KernelNot):
        return leaves(part.part)
    if isinstance(part, KernelChoice):
        return leaves(part.cond) + leaves(part.then) + leaves(part.otherwise)
    return [leaf for p in part.parts for leaf in leaves(p)]


# -- the result -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PartNote:
    """One part of the condition and where it is evaluated, with the reason."""
    text: str
    in_kernel: bool
    reason: str

    def __str__(self) -> str:
        return f"`{self.text}` {self.reason}"


@dataclass
class CompiledCondition:
    condition: str                          # as the user typed it
    rewritten: str                          # register names rewritten: what GDB re-checks
    kernel_tree: Optional[KernelPart]       # None: the kernel lets every hit through
    exact: bool                             # the kernel decides exactly what GDB would
    notes: List[PartNote] = field(default_factory=list)
    program: List[Insn] = field(default_factory=list)
    on_match: object = None

    @property
    def kernel_part(self) -> Optional[str]:
        """The part of the condition the kernel evaluates, as one expression, or None."""
        return None if self.kernel_tree is None else kernel_text(self.kernel_tree)

    @property
    def ax_listings(self) -> List[Tuple[str, AxExpr]]:
        return [(leaf.text, leaf.ax) for leaf in leaves(self.kernel_tree)]

    @property
    def gdb_parts(self) -> List[PartNote]:
        return [note for note in self.notes if not note.in_kernel]
