"""A readable account of a compiled condition: what runs where, the AX, and the eBPF.

Highlighting uses pygments when it is installed and asked for; pygments has no lexer for
eBPF or AX listings, so two small ones are defined here.
"""
from __future__ import annotations

from typing import List

from ..ebpf import disassemble
from .predicate import ReturnVerdict, SendSignal
from .result import CompiledCondition


def _on_match_text(on_match) -> str:
    if isinstance(on_match, SendSignal):
        return f"a match sends signal {on_match.signo} and returns 0"
    if isinstance(on_match, ReturnVerdict):
        return "returns 1 to stop, 0 to let the program run on"
    return type(on_match).__name__


def _lexers():
    """(AX lexer, eBPF lexer), or None without pygments."""
    try:
        from pygments.lexer import RegexLexer
        from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, Text
    except ImportError:
        return None

    class AxLexer(RegexLexer):
        name = "GDB agent expression"
        tokens = {"root": [
            (r"^\s*\d+", Number.Integer),
            (r"\b(if_goto|goto|end)\b", Keyword),
            (r"\b(reg|ref\d+|const\d+)\b", Name.Builtin),
            (r"\b[a-z_]+\d*\b", Name.Function),
            (r"-?\d+", Number.Integer),
            (r"\s+", Text),
        ]}

    class EbpfLexer(RegexLexer):
        name = "eBPF"
        tokens = {"root": [
            (r"^\s*\d+:", Comment),
            (r"\b(if|goto|call|exit|ll)\b", Keyword),
            (r"\b[rw]\d+\b", Name.Variable),
            (r"\*\(u\d+ \*\)", Keyword.Type),
            (r"[-+]?\d+", Number.Integer),
            (r"s?[<>]=?|[-+*/%&|^]?=|==|!=|&|<<=|>>=", Operator),
            (r"[()]", Punctuation),
            (r"\s+", Text),
        ]}

    return AxLexer(), EbpfLexer()


def _paint(text: str, lexer) -> str:
    from pygments import highlight
    from pygments.formatters import TerminalFormatter
    return highlight(text, lexer, TerminalFormatter()).rstrip("\n")


def explain(compiled: CompiledCondition, highlight: bool = False) -> str:
    lexers = _lexers() if highlight else None
    lines: List[str] = [f"Condition:   {compiled.condition}"]
    if compiled.rewritten != compiled.condition:
        lines.append(f"Rewritten:   {compiled.rewritten}")
    lines.append("GDB checks the whole condition again at every stop.")
    if compiled.kernel_tree is None:
        lines.append("Kernel part: none -- the kernel lets every hit through to GDB")
    else:
        how = ("exact: it decides every hit as GDB would" if compiled.exact
               else "necessary, not sufficient: GDB decides the hits it lets through")
        lines.append(f"Kernel part: {compiled.kernel_part}")
        lines.append(f"             ({how})")
    lines.append("Where each part runs:")
    for note in compiled.notes:
        where = "kernel" if note.in_kernel else "GDB   "
        lines.append(f"  {where} {note}")
    for text, expr in compiled.ax_listings:
        lines.append(f"Agent expression for `{text}` (scope "
                     f"{'?' if expr.scope is None else hex(expr.scope)}):")
        listing = expr.format()
        lines.append(_paint(listing, lexers[0]) if lexers else listing)
    program = "\n".join(disassemble(compiled.program))
    lines.append(f"eBPF program, {len(compiled.program)} instructions; "
                 f"{_on_match_text(compiled.on_match)}:")
    lines.append(_paint(program, lexers[1]) if lexers else program)
    return "\n".join(lines)
