"""GDB/MI commands, for front ends (VS Code, CLion, Eclipse, Emacs):

  -hbreak-if-insert [-t] [-f] [-p THREAD] [-i IGNORE] [--c-predicate] LOCATION CONDITION
  -hwatch-if-insert [-r|-a] [-t] [-p THREAD] [-i IGNORE] EXPRESSION CONDITION
  -hbreak-if-list
  -hbreak-if-explain LOCATION CONDITION

The options are -break-insert's and -break-watch's; CONDITION may be one quoted argument or
several words.  The answers have the fields -break-insert gives (`bkpt`) and -break-watch
gives (`wpt`, `hw-rwpt`, `hw-awpt`), and the tier.  Errors are `^error,msg="..."`.
"""
from contextlib import contextmanager
from typing import Dict, Iterator, List, Tuple

import gdb

from ..compiler import explain
from . import arming, ignore
from .cmdline import CommandLineError, Request
from .commands import as_gdb_error, tier_explanation
from .create import compile_for_explain, create, create_watch
from .model import HBreakIf, registry

_WATCH_KINDS = {"-r": "read", "-a": "access"}
_WATCH_RECORD = {"write": "wpt", "read": "hw-rwpt", "access": "hw-awpt"}


def _parsed(argv: List[str], usage: str, flags: Tuple[str, ...]) -> Tuple[set, Request]:
    """The flags given and the Request of `[FLAGS] [-t] [-p N] [-i N] WHERE CONDITION...`."""
    given, argv = set(), list(argv)
    request = Request(location="", condition=None)
    while argv and argv[0].startswith("-") and len(argv) > 2:
        option = argv.pop(0)
        if option in flags:
            given.add(option)
        elif option == "-t":
            request.temporary = True
        elif option in ("-p", "-i"):
            value = argv.pop(0)
            if not value.isdigit():
                raise CommandLineError(f"{option} takes a number, not {value!r}. Usage: {usage}")
            if option == "-p":
                request.thread = int(value)
            else:
                request.ignore = int(value)
        elif option == "--":
            break
        else:
            raise CommandLineError(f"unknown option {option}. Usage: {usage}")
    if len(argv) < 2:
        raise CommandLineError(f"a location and a condition are needed. Usage: {usage}")
    request.location, request.condition = argv[0], " ".join(argv[1:])
    return given, request


def _tier_fields(bp: HBreakIf) -> Dict[str, object]:
    return {"tier": bp.tier.name, "tier-explanation": tier_explanation(bp), "why": bp.reason,
            "hits": str(arming.kernel_hits(bp))}


def _heading(bp: HBreakIf) -> Dict[str, object]:
    return {"number": str(bp.number), "type": bp.kind.mi_type(bp),
            "disp": "del" if bp.temporary else "keep", "enabled": "y" if bp.enabled else "n"}


def _state(bp: HBreakIf) -> Dict[str, object]:
    fields: Dict[str, object] = {}
    if bp.thread is not None and bp.thread.is_valid():
        fields["thread"] = str(bp.thread.global_num)
    if bp.condition:
        fields["cond"] = bp.condition
    fields["times"] = str(bp.stops)
    if ignore.remaining(bp):
        fields["ignore"] = str(ignore.remaining(bp))
    return fields


def record(bp: HBreakIf) -> Dict[str, object]:
    """What -break-insert (`bkpt`) or -break-watch gives for it, with the tier."""
    return bp.kind.mi_record(bp, _heading(bp), _state(bp), _tier_fields(bp))


@contextmanager
def _pending_allowed(allowed: bool) -> Iterator[None]:
    """`set breakpoint pending` on or off for a while (GDB 13's gdb.with_parameter cannot
    restore `auto`)."""
    before = {True: "on", False: "off", None: "auto"}[gdb.parameter("breakpoint pending")]
    gdb.execute(f"set breakpoint pending {'on' if allowed else 'off'}")
    try:
        yield
    finally:
        gdb.execute(f"set breakpoint pending {before}")


class InsertCommand(gdb.MICommand):
    """-hbreak-if-insert [-t] [-f] [-p THREAD] [-i IGNORE] [--c-predicate] LOCATION CONDITION"""
    USAGE = __doc__

    def __init__(self):
        super().__init__("-hbreak-if-insert")

    def invoke(self, argv):
        def run():
            given, request = _parsed(argv, self.USAGE, ("-f", "--c-predicate"))
            request.c_predicate = "--c-predicate" in given
            # As -break-insert: a location found nowhere is an error, or pending with -f.
            with _pending_allowed("-f" in given):
                return {"bkpt": record(create(request))}
        return as_gdb_error(run)


class WatchInsertCommand(gdb.MICommand):
    """-hwatch-if-insert [-r|-a] [-t] [-p THREAD] [-i IGNORE] EXPRESSION CONDITION"""
    USAGE = __doc__

    def __init__(self):
        super().__init__("-hwatch-if-insert")

    def invoke(self, argv):
        def run():
            given, request = _parsed(argv, self.USAGE, tuple(_WATCH_KINDS))
            if len(given) > 1:
                raise CommandLineError(f"-r and -a exclude each other. Usage: {self.USAGE}")
            kind = _WATCH_KINDS[given.pop()] if given else "write"
            made = create_watch(kind, request)
            if isinstance(made, HBreakIf):
                return {_WATCH_RECORD[kind]: record(made)}
            # GDB's own watchpoint serves a remote program (said on the console).
            return {_WATCH_RECORD[kind]: {"number": str(made.number), "exp": request.location,
                                          "tier": "gdb"}}
        return as_gdb_error(run)


class ListCommand(gdb.MICommand):
    """-hbreak-if-list: every hbreak-if and hwatch-if, as `info hbreak-if` shows them."""

    def __init__(self):
        super().__init__("-hbreak-if-list")

    def invoke(self, argv):
        if argv:
            raise gdb.GdbError("-hbreak-if-list takes no arguments")
        return as_gdb_error(lambda: {"hbreak-ifs": [record(bp) for bp in registry]})


class ExplainCommand(gdb.MICommand):
    """-hbreak-if-explain LOCATION CONDITION: where each part of CONDITION runs; sets nothing."""

    def __init__(self):
        super().__init__("-hbreak-if-explain")

    def invoke(self, argv):
        def run():
            _, request = _parsed(argv, self.__doc__, ())
            compiled = compile_for_explain(request.location, request.condition)
            return {"condition": compiled.condition, "rewritten": compiled.rewritten,
                    "kernel-part": compiled.kernel_part or "",
                    "exact": "y" if compiled.exact else "n",
                    "parts": [{"text": note.text,
                               "where": "kernel" if note.in_kernel else "gdb",
                               "why": note.reason} for note in compiled.notes],
                    "explanation": explain(compiled)}
        return as_gdb_error(run)


def install() -> None:
    for command in (InsertCommand, WatchInsertCommand, ListCommand, ExplainCommand):
        command()
