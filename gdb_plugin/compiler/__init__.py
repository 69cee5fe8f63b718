"""Condition text + GDB agent expressions -> eBPF predicate (no gdb import).

Modules, in the order a condition goes through them:
  registers   register names -> GDB forms; GDB register numbers -> pt_regs offsets
  tokens      tokens of GDB's C expression syntax, with positions
  syntax      a parse tree with spans (the &&/||/!/?: skeleton, shifts, casts)
  hazards     where AX disagrees with GDB's own evaluation: rewrite or refuse
  literals    character literals as GDB's `char` values (AX refuses them)
  enums       enums as the integers GDB takes them for (AX refuses or ignores them)
  partial     which parts the kernel can decide; compile_condition()
  ax          the `maint agent-eval` listing -> typed ops
  stackdepth  static stack depths, checked at every join
  lower       AX -> eBPF, with "unsure" where GDB would report an error
  strings     $_streq and $_strlen with GDB's meaning; stringcode: their eBPF
  callers     $_caller_is and its kin: frame 0 known, frame 1 from the return address
  flow        an assembler that drops unreachable code (the verifier refuses it)
  predicate   the whole program and what a match does (return value or signal)
  result      CompiledCondition and the kernel-part tree
  explain     a readable account of a CompiledCondition
"""
from .ax import AxExpr, AxOp, parse_listing
from .errors import (AxFormatError, AxUnavailable, CompileError, ConditionSyntaxError,
                     UnsupportedAx)
from .explain import explain
from .partial import compile_condition, signal_on_match, stop_on_match
from .predicate import OnMatch, ReturnVerdict, SendSignal, build_program
from .registers import pt_regs_field, rewrite_registers
from .result import CompiledCondition, PartNote

__all__ = [
    "AxExpr", "AxFormatError", "AxOp", "AxUnavailable", "CompileError", "CompiledCondition",
    "ConditionSyntaxError", "OnMatch", "PartNote", "ReturnVerdict", "SendSignal",
    "UnsupportedAx", "build_program", "compile_condition", "explain", "parse_listing",
    "pt_regs_field", "rewrite_registers", "signal_on_match", "stop_on_match",
]
