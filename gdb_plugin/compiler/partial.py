"""Compiling as much of a condition as the kernel can decide, and no more.

The kernel part must hold whenever the condition holds (it may hold more often: GDB
re-checks the whole condition at every stop). From the `&&`/`||`/`!`/`?:` skeleton:

  a && b      the compilable conjuncts (an uncompilable one is dropped: "true")
  a || b      both, or nothing if either branch cannot be compiled
  !a          only if `a` compiles exactly (!over-approximation is an under-approximation)
  c ? a : b   c ? a : b if `c` compiles exactly, else a || b

GDB compiles each part (the injected `agent_eval`), so types, scopes and DWARF locations are
GDB's. The whole condition is tried first: one round trip when everything compiles.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

from .ax import AxExpr, parse_listing
from .callers import CallerFacts, caller_test
from .errors import AxUnavailable, CompileError, ConditionSyntaxError
from .enums import enums_as_integers
from .floats import UNSUPPORTED_FLOATING, floats_as_bits
from .flow import FlowAssembler
from .hazards import (address_of_names, computed_shift_count, divisors, kernel_form, refusal,
                      signed_pointer_differences)
from .literals import character_value, characters_as_integers
from .lower import Outcomes, lower
from .predicate import OnMatch, PidNamespace, ReturnVerdict, SendSignal, build_program
from .registers import rewrite_registers
from .result import (CompiledCondition, KernelAnd, KernelChoice, KernelLeaf, KernelNot,
                     KernelOr, KernelPart, PartNote)
from .strings import MAX_STRING, STRING_BUFFER, string_test
from .syntax import Node, parse
from .tokens import CHAR, FLOAT, STRING
from .typecheck import type_probes

AgentEval = Callable[[str], str]


def _flatten(node: Node, op: str) -> List[Node]:
    node = node.unparenthesized()
    if node.kind == "binary" and node.op == op:
        return _flatten(node.children[0], op) + _flatten(node.children[1], op)
    return [node]


def _why_gdb_refused(gdb_error: str, tree: Node) -> str:
    """A user-facing reason for GDB's refusal to compile a part to AX."""
    error = gdb_error.strip().rstrip(".")
    nodes = list(tree.walk())
    if any(n.kind == "call" for n in nodes):
        return "calls a function"
    if any(n.kind == "literal" and n.op == CHAR and character_value(n.token.text) is None
           for n in nodes):
        return ("uses a character literal other than a plain ASCII one, which GDB's agent "
                "expressions do not support")
    if any(n.kind == "literal" and n.op == STRING for n in nodes):
        return "uses a string"
    if any(n.kind in ("unary", "postfix") and n.op in ("++", "--") for n in nodes) or any(
            n.kind == "binary" and n.op.endswith("=") and n.op not in ("==", "!=", "<=", ">=")
            for n in nodes):
        return "has a side effect"
    lowered = error.lower()
    if "convenience variable" in lowered or "trace state variable" in lowered:
        return "uses a convenience variable"
    if "pseudo-register" in lowered or "user-register" in lowered:
        return f"reads a register GDB cannot compile ({error})"
    if "optimized out" in lowered:
        return "uses a value that is optimized out here"
    if "entry_value" in lowered or "entry value" in lowered:
        return "uses a value known only at the function's entry"
    if "floating" in lowered or "double" in lowered or "float" in lowered:
        return "uses floating point"
    return f"cannot be compiled to an agent expression ({error})"


def _gdb_note(text: str, why: str) -> PartNote:
    return PartNote(text, False, f"{why}: GDB evaluates it at each stop")


def _constant_zero(expr: AxExpr) -> bool:
    first, *rest = expr.ops
    return (first.name.startswith("const") and first.arg == 0
            and [op.name for op in rest] == ["end"])


class _NoCompiler(Exception):
    """GDB cannot compile anything at this address now; carries GDB's AxUnavailable."""

    def __init__(self, error: AxUnavailable):
        super().__init__(str(error))
        self.error = error


@dataclass
class _Outcome:
    part: Optional[KernelPart]           # None: "true" (the kernel lets every hit through)
    exact: bool
    notes: List[PartNote]
    type_risk: bool = False              # a part only GDB evaluates may be a type error
    cannot_fail: bool = False            # not exact, but GDB's evaluation of it cannot fail


_MAY_FAIL = re.compile(r"->|\[|\*|/|%|\+\+|--|(?<![=!<>])=(?!=)|\$_|[A-Za-z_]\w*\s*\(")


def _may_fail(text: str) -> bool:
    """Whether GDB's evaluation of `text` might raise an error (other than a type error: see
    _Splitter.may_type_error) or change something: memory reads, division, assignments,
    increments, calls, convenience variables (a conservative reading of the text; registers,
    literals and comparisons cannot)."""
    code = re.sub(r"'(\\.|[^'\\])*'|\"(\\.|[^\"\\])*\"", "", text)
    return bool(_MAY_FAIL.search(code))


class _Splitter:
    def __init__(self, text: str, agent_eval: AgentEval, callers: Optional[CallerFacts]):
        self.text = text
        self.agent_eval = agent_eval
        self.callers = callers
        self.environment_checked = False
        # A part only GDB evaluates, outside every ternary branch, that may be a type error.
        self.type_error_everywhere: Optional[str] = None

    def eval(self, expression: str) -> str:
        """GDB's listing for `expression`, its character literals given as GDB's values."""
        try:
            return self.agent_eval(characters_as_integers(expression))
        except AxUnavailable:
            if not self.environment_checked:
                self.environment_checked = True
                # If GDB cannot compile even `1`, the failure is about where or when we ask
                # (no process, no symbols), not about the condition: let the caller decide.
                try:
                    self.agent_eval("1")
                except AxUnavailable as error:
                    raise _NoCompiler(error) from None
            raise

    def leaf(self, text: str) -> Tuple[Optional[KernelLeaf], str]:
        """(compiled leaf, "") or (None, why `text` stays with GDB)."""
        node = parse(text)                       # spans relative to `text`
        if any(part.kind == "literal" and part.op == FLOAT for part in node.walk()):
            return self._leaf_on_bits(text, node)
        why = refusal(text, node)
        if why:
            return None, why
        for name in address_of_names(node, text):
            try:
                probe = parse_listing(self.eval(f"&{name}"))
            except (AxUnavailable, CompileError) as error:
                return None, f"takes the address of {name}, which GDB cannot check ({error})"
            if _constant_zero(probe):
                return None, (f"takes the address of {name}, which GDB's agent "
                              "expressions compute as 0 for a function")
        for divisor in divisors(node, text):
            try:
                probe = parse_listing(self.eval(divisor))
            except (AxUnavailable, CompileError):
                continue                # GDB cannot compile the part that divides either
            if _constant_zero(probe):
                return None, (f"divides by `{divisor}`, a constant zero: GDB reports an "
                              "error where its agent expressions fold the division away")
        form = enums_as_integers(text, node, self.eval, refused=False)
        try:
            return self.compiled(form, node), ""
        except AxUnavailable as error:
            refusal_text = error.gdb_error
        except CompileError as error:
            return None, str(error)
        if UNSUPPORTED_FLOATING.search(refusal_text):  # `ratio > 120`, ratio a double
            return self._leaf_on_bits(text, node, refusal_text)
        # GDB's agent expressions refuse enums and booleans alike; its evaluator takes enums
        # as integers but rejects `b < b` on booleans: only GDB's own type check tells them apart.
        if "Invalid combination of types" in refusal_text and not self.may_type_error(text):
            try:
                return self.compiled(enums_as_integers(text, node, self.eval, refused=True),
                                     node), ""
            except AxUnavailable as error:
                refusal_text = error.gdb_error
            except CompileError as error:
                return None, str(error)
        return None, _why_gdb_refused(refusal_text, node)

    def _leaf_on_bits(self, text: str, node: Node, refusal_text: str = ""):
        """`leaf` for `text` with its comparisons of floating-point numbers rewritten on their
        bits (floats.py), which is what refusal() and GDB refuse else."""
        on_bits = floats_as_bits(text, node, self.eval)
        if on_bits != text:
            return self.leaf(on_bits)
        return None, (_why_gdb_refused(refusal_text, node) if refusal_text
                      else refusal(text, node))

    def compiled(self, text: str, node: Node) -> KernelLeaf:
        """`text` (the tree of the user's form of it: `node`) compiled for the kernel; raises
        AxUnavailable with GDB's refusal, or CompileError saying why not."""
        try:
            compiled_text = kernel_form(text)
        except ConditionSyntaxError as error:
            raise CompileError(f"cannot be compiled ({error})") from None
        if compiled_text != text and self.may_type_error(text):
            # The rewrite may hide it: in `n >> $rbp` the count becomes `(int)$rbp`.
            raise CompileError("may be a type error for GDB, which the form compiled for the "
                               "kernel hides")
        expr = signed_pointer_differences(node, parse_listing(self.eval(compiled_text)))
        if expr is None:
            raise CompileError("divides unsigned beside a subtraction, which may be a "
                               "difference of pointers that GDB's agent expressions divide "
                               "unsigned")
        # Lower once now, so that a register eBPF cannot read is found here.
        out = FlowAssembler()
        labels = [out.new_label() for _ in range(3)]
        lower(expr, out, Outcomes(*labels))
        return KernelLeaf(compiled_text, expr)

    def may_type_error(self, text: str) -> bool:
        """Unless GDB type-checks every path through `text` (see typecheck.py)."""
        try:
            for probe in type_probes(text):
                self.eval(probe)
        except (AxUnavailable, ConditionSyntaxError):
            return True
        return False

    def node_text(self, node: Node) -> str:
        return node.text(self.text)

    def split(self, node: Node, in_branch: bool = False) -> _Outcome:
        """in_branch: `node` is inside a ternary branch, which GDB evaluates only when taken."""
        node = node.unparenthesized()
        text = self.node_text(node)
        leaf, why = self.leaf(text)
        if leaf is not None:
            if computed_shift_count(node):
                return _Outcome(leaf, False, [PartNote(
                    text, True, "runs in the kernel; where a shift count falls outside 0..63 "
                                "the kernel lets the hit through and GDB decides")])
            return _Outcome(leaf, True, [PartNote(text, True, "runs in the kernel")])
        strings = string_test(node, self.text, self.eval)
        if strings is not None:
            beyond = (f"a length above {STRING_BUFFER} bytes or unreadable memory"
                      if strings.function == "$_memeq" else
                      f"a string longer than {MAX_STRING} bytes, unreadable or not ASCII")
            return _Outcome(strings, True, [PartNote(
                text, True, f"runs in the kernel; {beyond} lets the hit through and GDB decides")])
        called = caller_test(node, self.text, self.eval, self.callers)
        if called is not None:
            leaf, exact = called
            how = ("runs in the kernel (the function at the address is known)" if exact else
                   "runs in the kernel on the return address; GDB checks what it lets through")
            return _Outcome(leaf, exact, [PartNote(text, True, how)], cannot_fail=True)
        if node.kind == "binary" and node.op in ("&&", "||"):
            outcomes = [self.split(child, in_branch) for child in _flatten(node, node.op)]
            notes = [n for o in outcomes for n in o.notes]
            risk = any(o.type_risk for o in outcomes)
            if node.op == "&&":
                texts = [self.node_text(child) for child in _flatten(node, node.op)]
                return self.conjunction(outcomes, texts, notes, text)
            if any(o.part is None for o in outcomes):
                return _Outcome(None, False, self.discarded(notes, text), risk)
            return _Outcome(KernelOr(tuple(o.part for o in outcomes)),
                            all(o.exact for o in outcomes), notes, risk)
        if node.kind == "unary" and node.op == "!":
            inner = self.split(node.children[0], in_branch)
            if inner.part is not None and inner.exact:
                return _Outcome(KernelNot(inner.part), True, inner.notes)
            return _Outcome(None, False, self.discarded(inner.notes, text), inner.type_risk)
        if node.kind == "ternary":
            cond = self.split(node.children[0], in_branch)
            then, otherwise = (self.split(child, True) for child in node.children[1:])
            notes = cond.notes + then.notes + otherwise.notes
            risk = cond.type_risk or then.type_risk or otherwise.type_risk
            if cond.part is not None and cond.exact:
                if then.part is None and otherwise.part is None:
                    return _Outcome(None, False, notes, risk)
                return _Outcome(KernelChoice(cond.part, then.part, otherwise.part),
                                then.exact and otherwise.exact, notes, risk)
            notes = self.discarded(cond.notes, text) + then.notes + otherwise.notes
            if then.part is None or otherwise.part is None:
                return _Outcome(None, False, self.discarded(notes, text), risk)
            return _Outcome(KernelOr((then.part, otherwise.part)), False, notes, risk)
        risk = self.may_type_error(text)
        if risk and not in_branch and self.type_error_everywhere is None:
            self.type_error_everywhere = text
        return _Outcome(None, False, [_gdb_note(text, why)], risk)

    def conjunction(self, outcomes: List[_Outcome], texts: List[str], notes: List[PartNote],
                    text: str) -> _Outcome:
        """The kernel filters on the conjuncts up to the first one GDB alone evaluates that may
        raise an error (GDB then stops) or have a side effect: GDB evaluates left to right, so
        a conjunct after such a one must not filter hits away."""
        parts, blocked_at = [], len(outcomes)
        for index, (outcome, conjunct) in enumerate(zip(outcomes, texts)):
            if outcome.part is not None and index < blocked_at:
                parts.append(outcome.part)
            if (not outcome.exact and not outcome.cannot_fail and index < blocked_at
                    and (outcome.type_risk or _may_fail(conjunct))):
                blocked_at = index
        exact = len(parts) == len(outcomes) and all(o.exact for o in outcomes)
        kept = {id(note) for o in outcomes[:blocked_at + 1] for note in o.notes}
        notes = [note if id(note) in kept or not note.in_kernel else _gdb_note(
                     note.text, f"compiles, but comes after a part of `{text}` that only GDB "
                                "evaluates, which may stop the program with an error first")
                 for note in notes]
        risk = any(o.type_risk for o in outcomes)
        if not parts:
            return _Outcome(None, False, notes, risk)
        return _Outcome(parts[0] if len(parts) == 1 else KernelAnd(tuple(parts)), exact, notes,
                        risk)

    @staticmethod
    def discarded(notes: List[PartNote], whole: str,
                  why: str = "which the kernel cannot decide") -> List[PartNote]:
        """Kernel notes of parts that compiled but cannot be used on their own."""
        out = []
        for note in notes:
            if note.in_kernel:
                note = _gdb_note(note.text, f"compiles, but only as part of `{whole}`, {why}")
            out.append(note)
        return out

    def without_type_errors(self, outcome: _Outcome) -> _Outcome:
        """No filter if a part GDB evaluates at every hit may be a type error: GDB would then
        report it, and stop, at every hit."""
        if self.type_error_everywhere is None or outcome.part is None:
            return outcome
        return _Outcome(None, False, self.discarded(
            outcome.notes, self.text.strip(),
            f"in which `{self.type_error_everywhere}`, evaluated at every hit, may be a type "
            "error (GDB then stops at every hit)"))


def compile_condition(condition: str, agent_eval: AgentEval,
                      is_program_symbol: Callable[[str], bool],
                      on_match: Optional[OnMatch] = None,
                      prologue=None, callers: Optional[CallerFacts] = None) -> CompiledCondition:
    """Compile `condition` for one breakpoint address.

    agent_eval(expr) returns GDB's `maint agent-eval` listing for expr at that address, or
    raises AxUnavailable(GDB's message). is_program_symbol(name) says whether a bare name is a
    program symbol there (and so not a register). AxUnavailable escapes only when GDB cannot
    compile even `1` (e.g. no process yet): the failure then is not the condition's.
    callers: what GDB knows at the address of who called (callers.py), if it is code.
    """
    on_match = on_match or ReturnVerdict()
    try:
        rewritten = rewrite_registers(condition, is_program_symbol)
    except ConditionSyntaxError:
        rewritten = condition
    splitter = _Splitter(rewritten, agent_eval, callers)
    try:
        outcome = splitter.without_type_errors(splitter.split(parse(rewritten)))
    except ConditionSyntaxError as error:
        # Without a parse tree the hazards cannot be checked: GDB keeps the whole condition.
        outcome = _Outcome(None, False, [_gdb_note(
            rewritten.strip(), f"was not understood by the compiler ({error})")])
    except RecursionError:
        # The parser and the passes recurse on the nesting; GDB's own parser goes deeper.
        outcome = _Outcome(None, False, [_gdb_note(
            rewritten.strip(), "is nested too deeply for the compiler")])
    except _NoCompiler as failure:
        raise failure.error from None
    return CompiledCondition(
        condition=condition, rewritten=rewritten, kernel_tree=outcome.part,
        exact=outcome.part is not None and outcome.exact, notes=outcome.notes,
        program=build_program(outcome.part, on_match, prologue), on_match=on_match)


def stop_on_match(mailbox_fd: Optional[int] = None, number: int = 0) -> OnMatch:
    """The kernel tier: the predicate's return value keeps or suppresses the hit; a hit it
    keeps is also noted for `number` in the mailbox map, if there is one."""
    return ReturnVerdict(mailbox_fd=mailbox_fd, number=number)


def signal_on_match(signo: int, mailbox_fd: Optional[int] = None, number: int = 0,
                    pid_namespace: Optional[PidNamespace] = None) -> OnMatch:
    """The kernel-signal tier: a match sends `signo` to the thread that hit, after writing
    `number` for that thread (its id in `pid_namespace`, if given) in the mailbox map, if
    there is one."""
    return SendSignal(signo, mailbox_fd, number, pid_namespace)
