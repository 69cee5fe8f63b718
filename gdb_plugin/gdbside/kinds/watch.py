"""`hwatch-if`: conditional hardware watchpoints whose condition is evaluated in the kernel.

A perf data breakpoint (W, or RW for reads: x86 has no read-only kind) on the
address of EXPRESSION, fixed when it is set like GDB's `watch -location`, with
a predicate that keeps the old value (compiler/watch.py) and stops, as GDB's
watchpoints do, only when the value changed (write), did not (read), or on any
access.  CONDITION is evaluated wherever the access happens, so it may use
globals, registers and memory, `$new` (the value after the access) and `$old`
(before it; evaluated by GDB), but not a function's locals.
"""
import re
from typing import Dict, List, Optional

import gdb

from ...compiler import AxUnavailable, compile_condition, rewrite_registers, stop_on_match
from ...compiler.watch import ACCESS, OLD_VALUE, READ, WRITE, watch_prologue
from ...kernel.errors import KernelError
from ...kernel.maps import counter_array
from ...kernel.perf import BpType
from ..agent import IDENTIFIER, is_program_symbol
from ..cmdline import CommandLineError, Request, parse
from ..model import WatchSpec
from ..tiers import PTRACE, mailbox
from .code import CodeBreakpoint

_KINDS = {"-r": READ, "-a": ACCESS}
_OPTIONS = {READ: ["-r"], ACCESS: ["-a"], WRITE: []}
_BP_TYPE = {WRITE: BpType.W, READ: BpType.RW, ACCESS: BpType.RW}
_TITLE = {WRITE: "", READ: "read ", ACCESS: "access "}
_NEW = re.compile(r"\$new\b")
_OLD = re.compile(r"\$old\b")
_SCALAR = (gdb.TYPE_CODE_INT, gdb.TYPE_CODE_CHAR, gdb.TYPE_CODE_BOOL, gdb.TYPE_CODE_ENUM,
           gdb.TYPE_CODE_PTR)
_WATCH_CLASS = {WRITE: gdb.WP_WRITE, READ: gdb.WP_READ, ACCESS: gdb.WP_ACCESS}


class Watchpoint(CodeBreakpoint):
    name = "hwatch-if"
    location_word = "is"
    in_code = False
    notes_hits = True  # an access by an instruction GDB single-steps traps once for both
    needs_local_kernel = True
    reassessed = False
    carried = False  # an int3 cannot replay a data access: it keeps a catchpoint of its own

    def options(self, bp) -> List[str]:
        return _OPTIONS[bp.watch.kind]

    def gdb_condition(self, bp) -> Optional[str]:
        return bp.watch.gdb_condition

    def own_condition(self, bp) -> str:
        return bp.marker

    def write_own_condition(self, bp) -> None:
        bp.catchpoint.condition = bp.marker

    def addresses(self, bp) -> List[int]:
        return [bp.watch.address]

    def describe_location(self, bp) -> str:
        return f"{bp.watch.length} bytes at {bp.watch.address:#x} ({bp.watch.kind})"

    def mi_type(self, bp) -> str:
        return f"{bp.watch.kind} watchpoint"

    def mi_record(self, bp, heading, state, tier) -> Dict[str, object]:
        """What -break-watch gives (number, exp), with the address watched and the tier."""
        return {**heading, "exp": bp.watch.expression, "addr": f"{bp.watch.address:#018x}",
                "length": str(bp.watch.length), **state, **tier}

    def stop_on_match(self, bp):
        # The note tells the hit from the single step that made it (hits.py).
        return stop_on_match(mailbox().fd, bp.number)

    def compile(self, bp, address: int, on_match, may_move_pc: bool = False):
        """The old/new bookkeeping, then the condition."""
        watch = bp.watch
        return compile_condition(watch.gdb_condition or "1", _checked_agent_eval,
                                 is_program_symbol(), on_match=on_match,
                                 prologue=watch_prologue(watch.address, watch.length,
                                                         watch.state.fd, watch.kind))

    def settled(self, bp, address: int) -> bool:
        return True  # its address was fixed when it was set

    def perf_shape(self, bp) -> Dict[str, object]:
        return {"bp_type": _BP_TYPE[bp.watch.kind], "length": bp.watch.length}

    def before_condition(self, bp) -> None:
        """$old for GDB's check of the condition: the value before this access."""
        gdb.set_convenience_variable("old", _value_of(bp.watch.state[OLD_VALUE] & (2**64 - 1),
                                                     bp.watch.value_type))

    def stop_heading(self, bp) -> str:
        watch = bp.watch
        new = gdb.parse_and_eval(f"*({watch.value_type} *) {watch.address:#x}")
        old_raw = watch.state[OLD_VALUE] & ((1 << 8 * watch.length) - 1)
        old = _value_of(old_raw, watch.value_type)
        if watch.kind == WRITE or (watch.kind == ACCESS and _raw(new) != old_raw):
            values = f"Old value = {old.format_string()}\nNew value = {new.format_string()}\n"
        else:
            values = f"Value = {new.format_string()}\n"
        return f"\nhwatch-if {bp.number}: {_TITLE[watch.kind]}{watch.expression}\n\n{values}"

    def refused(self, bp, cause) -> bool:
        bp.unarmable = str(cause)
        gdb.write(f"warning: hwatch-if {bp.number} cannot be armed: {cause}\n"
                  f"GDB's own `watch -location {bp.watch.expression}` with a condition does "
                  "the same without the kernel.\n", gdb.STDERR)
        return True

    def take_condition(self, bp, condition: Optional[str]) -> bool:
        bp.watch.gdb_condition = gdb_condition(condition, bp.watch.address,
                                               bp.watch.value_type)
        bp.condition = condition or None
        return True

    def release(self, bp) -> None:
        bp.watch.state.close()


WATCH = Watchpoint()


def parse_watch(argument: str):
    """(kind, Request) from `[-r|-a] [OPTIONS] EXPRESSION [if] CONDITION`."""
    words = argument.split(None, 1)
    kind = WRITE
    if words and words[0] in _KINDS:
        kind, argument = _KINDS[words[0]], words[1] if len(words) > 1 else ""
    request = parse(argument)
    if request.c_predicate or request.explain:
        raise CommandLineError("hwatch-if takes -r, -a, -t, -thread and -ignore")
    return kind, request


def watched(expression: str):
    """The address and type of EXPRESSION, which must be a 1, 2, 4 or 8-byte aligned lvalue."""
    if not gdb.selected_inferior().pid:
        raise gdb.GdbError("The program is not being run: hwatch-if watches an address of the "
                           "running program.")
    value = gdb.parse_and_eval(expression)
    if value.address is None:
        raise gdb.GdbError(f"`{expression}` is not in memory (an lvalue is needed).")
    value_type = value.type.strip_typedefs()
    if value_type.code not in _SCALAR:
        raise gdb.GdbError(f"hwatch-if watches a number or a pointer, and `{expression}` is "
                           f"{value.type}; GDB's own watch can watch it.")
    address, length = int(value.address), value_type.sizeof
    if length not in (1, 2, 4, 8) or address % length:
        raise gdb.GdbError(f"`{expression}` is {length} bytes at {address:#x}: x86 debug "
                           "registers watch 1, 2, 4 or 8 bytes aligned to their size; GDB's "
                           "own watch can watch it.")
    return address, value.type


def watch_spec(kind: str, request: Request, address: int, value_type, condition, tier,
               reason) -> WatchSpec:
    """What the kernel watches and keeps, once the request is checked for it."""
    if tier is PTRACE:
        raise gdb.GdbError(f"hwatch-if needs the kernel: {reason}. GDB's own "
                           f"`watch -location {request.location}` with a condition does the "
                           "same without it.")
    if condition and _reads_locals(condition):
        raise gdb.GdbError("hwatch-if evaluates its condition wherever the access happens: it "
                           "may use globals, registers, memory, $new and $old, not locals.")
    if condition:
        # GDB's own parse, with $old of the right type: errors name the problem.
        gdb.set_convenience_variable("old", gdb.parse_and_eval(request.location))
        gdb.parse_and_eval(f"sizeof({condition})")
    try:
        state = counter_array(2)
        state[0] = _raw(gdb.parse_and_eval(request.location))
    except KernelError as error:
        raise gdb.GdbError(f"hwatch-if cannot keep the watched value in the kernel: {error}")
    return WatchSpec(request.location, address, value_type, kind, condition, state)


def describe_watch(spec: WatchSpec) -> str:
    return (f"{_TITLE[spec.kind]}watch of {spec.expression} ({spec.value_type.sizeof} bytes "
            f"at {spec.address:#x})")


def gdb_condition(condition: Optional[str], address: int, value_type) -> Optional[str]:
    """The condition as GDB evaluates it: $new is the watched memory."""
    if not condition:
        return None
    text = _NEW.sub(f"(*({value_type} *) {address:#x})", condition)
    return rewrite_registers(text, is_program_symbol())


def _reads_locals(expression: str) -> bool:
    try:
        block = gdb.selected_frame().block()
    except RuntimeError:
        return False
    return any(getattr(gdb.lookup_symbol(name, block)[0], "needs_frame", False)
               for name in set(IDENTIFIER.findall(expression)))


def gdbs_own_watchpoint(kind, request: Request, address, value_type, condition, thread, why):
    """The kernel of this machine cannot watch the program (`why`): GDB's own `watch
    -location` with the condition does, said so ($new is the watched value there; $old has no
    GDB form)."""
    if condition and _OLD.search(condition):
        raise gdb.GdbError(f"hwatch-if cannot watch here ({why}), and GDB's own watchpoint that "
                           "serves in its place has no $old: write the condition without it.")
    watchpoint = gdb.Breakpoint(f"*({value_type} *) {address:#x}", gdb.BP_WATCHPOINT,
                                _WATCH_CLASS[kind], temporary=request.temporary)
    try:
        watchpoint.condition = condition
        watchpoint.thread = thread.global_num if thread is not None else None
        watchpoint.ignore_count = request.ignore
    except gdb.error:
        watchpoint.delete()
        raise
    gdb.write(f"hwatch-if: the kernel of this machine cannot watch the program ({why}); GDB's "
              f"own watchpoint {watchpoint.number} watches {request.location} instead, its "
              "condition evaluated by the target where it can.\n")
    return watchpoint


def _raw(value) -> int:
    """The value's bytes as the kernel reads them: zero-extended to 64 bits."""
    data = bytes(gdb.selected_inferior().read_memory(int(value.address), value.type.sizeof))
    return int.from_bytes(data, "little")


def _value_of(raw: int, value_type):
    return gdb.Value(raw.to_bytes(8, "little")[:value_type.sizeof], value_type)


def _agent_eval(expression):
    output = gdb.execute(f"maint agent-eval {expression}", to_string=True)
    return output[output.index("Scope:"):] if "Scope:" in output else output


def _checked_agent_eval(expression):
    try:
        return _agent_eval(expression)
    except gdb.error as error:
        raise AxUnavailable(str(error)) from None
