"""GDB's own compiler of conditions into agent expressions, at an exact address.

`maint agent-eval -at` takes only a linespec and compiles at that linespec's
post-prologue address; without `-at` it compiles at the selected frame's pc.
Every listing names its pc ("Scope:"), which is checked against the address
asked for.  Where no linespec names the address (a `*ADDR` inside a line):
  * a condition that reads no local variable compiles the same anywhere in the
    same block, so the listing of the address's line serves;
  * otherwise the selected frame's pc is moved to ADDR for the compilation and
    restored right after.

Two facts about GDB 13 shape this module.  A GDB command that fails while GDB
is processing its own events (a library load, an exec, a new thread) leaves
`run` or `continue` returning with the program still running, even when Python
catches the error; so does moving the pc there.  Commands that may fail run
only in a user command or a stop handler (`compiling_allowed`); inside events
only compilations already known to succeed run, and the rest is reported as
NotCompiledYet, for the next stop to redo.  And GDB 13 hits an internal error
on 128-bit integers, which is refused before asking it.
"""
import contextlib
import re

import gdb

from ..compiler import AxUnavailable
from ..compiler.errors import ConditionSyntaxError
from ..compiler.hazards import value_names
from ..compiler.narrowing import set_gdb_truncates_magnitude
from ..compiler.syntax import parse, replace_spans
from ..compiler.tokens import STRING
from . import whereabouts
from .preflight import compiles_in_a_separate_gdb, object_file_of

_SCOPE = re.compile(r"^Scope: (0x[0-9a-f]+)", re.M)
IDENTIFIER = re.compile(r"(?<![\w$.>])[A-Za-z_]\w*")
_SETTING = re.compile(r'is "?(\w+)"?\.$', re.M)
# Nodes that read nothing and cannot fail when made of literals: not `*` or `&` (memory), not
# `/` or `%` (division by zero), not a string; casts too, as character literals become
# `((char)0)` before compiling.
_LITERAL_ONLY = {"literal", "paren", "unary", "binary", "ternary", "cast"}
_NOT_LITERAL_ONLY = (STRING, "*", "&", "/", "%")
# Registers that only a live Linux process's target description has: with no process, GDB 16
# and 18 die of a segmentation fault compiling them (GDB 13 compiles them).
_PROCESS_REGISTERS = re.compile(r"\$(?:orig_rax|fs_base|gs_base)\b")
_CRASHES_ON_PROCESS_REGISTERS = int(gdb.VERSION.split(".")[0]) >= 16
# Types read through `*(TYPE *)` as `str(type) + " *"` spells them: an array or a function
# pointer would need the declarator written around the `*`.
_POINTED_CODES = (gdb.TYPE_CODE_INT, gdb.TYPE_CODE_CHAR, gdb.TYPE_CODE_ENUM, gdb.TYPE_CODE_BOOL,
                  gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION)
# GDB 16 narrows a negative integer too wide for its type by its magnitude (narrowing.py);
# asked of this GDB itself, since the releases that do so are not all known.
set_gdb_truncates_magnitude(int(gdb.parse_and_eval("(short) -70000")) == 4464)

# Listings compiled at exactly their address, for the current program image.
_listings = {}
# What GDB said about `maint agent-eval ARGUMENTS`: None (it compiled) or its refusal.
_verdicts = {}
_allowed = 0


class NotCompiledYet(AxUnavailable):
    """Compiling needs a moment that has not come: a GDB command that may fail, inside GDB's
    event processing, or a stopped program whose pc can be moved."""

    raised = 0  # how many times, so that a caller can tell a compilation was put off

    def __init__(self, why="GDB cannot do it while it handles the program's start, exec or "
                           "library loads"):
        NotCompiledYet.raised += 1
        super().__init__(f"compiled for the kernel at the next stop: {why}")


@contextlib.contextmanager
def compiling_allowed():
    """Around user commands and stop handlers: GDB commands that may fail are safe there."""
    global _allowed
    _allowed += 1
    try:
        yield
    finally:
        _allowed -= 1


def commands_may_fail() -> bool:
    """Whether a GDB command that fails is safe now (see above)."""
    return _allowed > 0


def forget_listings():
    """A new program image (run, exec): the same address may hold other code."""
    _listings.clear()


def _listing_at_scope(output, address):
    """The one listing in `output` compiled at `address`, if any."""
    starts = list(_SCOPE.finditer(output))
    for index, match in enumerate(starts):
        if int(match.group(1), 16) == address:
            end = starts[index + 1].start() if index + 1 < len(starts) else len(output)
            return output[match.start():end]
    return None


class _InternalErrorsAbortTheCommand:
    """For the compilation only, an internal error in GDB aborts the command instead of
    asking whether to quit (and without a backtrace, which GDB cannot print into a captured
    command's output).  Nested uses cost nothing: a whole condition is compiled under one."""

    _settings = ("maint {} internal-error quit", "maint {} internal-error corefile",
                 "maint {} internal-error backtrace")
    _quiet = ("no", "no", "off")
    _depth = 0

    def __enter__(self):
        cls = _InternalErrorsAbortTheCommand
        cls._depth += 1
        if cls._depth == 1:
            cls._saved = [_SETTING.search(gdb.execute(s.format("show"), to_string=True)).group(1)
                          for s in self._settings]
            for setting, value in zip(self._settings, self._quiet):
                gdb.execute(f"{setting.format('set')} {value}", to_string=True)
        return self

    def __exit__(self, *exc):
        cls = _InternalErrorsAbortTheCommand
        cls._depth -= 1
        if cls._depth == 0:
            for setting, value in zip(self._settings, cls._saved):
                gdb.execute(f"{setting.format('set')} {value}", to_string=True)


compiling = _InternalErrorsAbortTheCommand  # around a whole compilation


def _agent_eval(arguments, object_file=None):
    """`maint agent-eval ARGUMENTS`, within the rules above; what GDB said is kept by the
    whole ARGUMENTS (where and what), since an expression may compile at one location only.
    Inside GDB's events, arguments not yet known may be vouched for by a separate GDB on the
    `object_file` that holds the location (preflight.py)."""
    if "\n" in arguments or "\r" in arguments:   # GDB would run the next line as a command
        raise AxUnavailable("the condition spans more than one line")
    remembered = arguments.startswith("-at ")  # without -at, it depends on the selected pc
    if remembered and _verdicts.get(arguments):
        raise AxUnavailable(_verdicts[arguments])
    if not _allowed and not (remembered and arguments in _verdicts):
        if not (remembered and compiles_in_a_separate_gdb(object_file, arguments)):
            raise NotCompiledYet()
    try:
        with _InternalErrorsAbortTheCommand():
            output = gdb.execute(f"maint agent-eval {arguments}", to_string=True)
    except gdb.error as error:
        verdict = str(error)
    except KeyboardInterrupt:  # how an aborted command reaches Python
        verdict = "GDB's agent-expression compiler failed on it (an internal error in GDB)"
    else:
        verdict = None
    if remembered:
        _verdicts[arguments] = verdict
    if verdict is not None:
        raise AxUnavailable(verdict)
    return output


def _line_linespec(address):
    sal = gdb.find_pc_line(address)
    return f"{sal.symtab.fullname()}:{sal.line}" if sal.symtab is not None and sal.line else None


def _symbols(address, expression):
    try:
        block = gdb.block_for_pc(address) if address is not None else None
    except RuntimeError:
        block = None
    for name in set(IDENTIFIER.findall(expression)):
        try:
            symbol = gdb.lookup_symbol(name, block)[0] if block is not None else None
            symbol = symbol or gdb.lookup_global_symbol(name) or gdb.lookup_static_symbol(name)
        except gdb.error:
            continue
        if symbol is not None:
            yield symbol


def _wide_integers(symbols):
    """Whether one of the symbols is a variable wider than 64 bits."""
    for symbol in symbols:
        target = symbol.type.strip_typedefs() if symbol.type is not None else None
        if target is not None and target.code == gdb.TYPE_CODE_INT and target.sizeof > 8:
            return True
    return False


def _references_as_objects(symbols, expression):
    """`expression` with each C++ reference among `symbols` that it uses other than as
    `r.member` read as the object it refers to, `(*(const int *)(r))`: GDB's agent-expression
    compiler takes a reference for the address it holds (in `r == 1`, `&r`, `sizeof r`), where
    GDB takes the object. AxUnavailable names a reference whose type cannot be spelled so."""
    references = {symbol.name: symbol.type.strip_typedefs() for symbol in symbols
                  if symbol.type is not None
                  and symbol.type.strip_typedefs().code in (gdb.TYPE_CODE_REF,
                                                            gdb.TYPE_CODE_RVALUE_REF)}
    if not references:
        return expression
    try:
        tree = parse(expression)
    except ConditionSyntaxError:
        return expression
    members = {id(node.children[1]) for node in tree.walk() if node.kind == "member"}
    through = {id(node.children[0].unparenthesized()) for node in tree.walk()
               if node.kind == "member" and node.op == "."}
    spans = []
    for node in tree.walk():
        name = node.text(expression)
        if node.kind != "name" or name not in references or id(node) in members | through:
            continue
        referent = references[name].target()
        if not _spelled_as_pointer_target(referent):
            raise AxUnavailable(f"it reads the C++ reference {name}, which GDB's agent "
                                "expressions read as the address it holds")
        spans.append((node.start, node.end, f"(*({referent} *)({name}))"))
    return replace_spans(expression, spans)


def _spelled_as_pointer_target(target):
    """Whether `str(target) + " *"` spells a pointer to it (not to an array or a function)."""
    code = target.strip_typedefs().code
    if code == gdb.TYPE_CODE_PTR:
        return target.strip_typedefs().target().strip_typedefs().code != gdb.TYPE_CODE_FUNC
    return code in _POINTED_CODES


def _extended_locals(symbols, expression):
    """`expression` with each local integer narrower than 64 bits (among its `symbols`) cast to
    its own type through `long long`, which makes AX extend it: GDB's AX leaves a local whose
    DWARF location is a computed value unextended (compiler/hazards.py)."""
    narrow = {}
    for symbol in symbols:
        target = symbol.type.strip_typedefs() if symbol.type is not None else None
        if (symbol.needs_frame and target is not None and target.sizeof < 8
                and target.code in (gdb.TYPE_CODE_INT, gdb.TYPE_CODE_CHAR)):
            narrow[symbol.name] = str(symbol.type)
    return _with_names_replaced(expression, {
        name: f"(({type_name})(long long)({name}))" for name, type_name in narrow.items()})


def _with_names_replaced(expression, replacements):
    """`expression` with each name it reads as a value that `replacements` has replaced."""
    if not replacements:
        return expression
    try:
        names = value_names(parse(expression))
    except ConditionSyntaxError:
        return expression      # not a condition of ours (a type probe): nothing is read
    return replace_spans(expression, [
        (node.start, node.end, replacements[name])
        for node in names if (name := node.text(expression)) in replacements])




def _thread_locals(symbols, expression):
    """`expression` with each thread-local variable of the program's executable (among its
    `symbols`) read at its place in the thread's static TLS block, `(*(int *)($fs_base +
    -4))`: GDB's agent expressions cannot locate thread-locals (DW_OP_form_tls_address), and
    the kernel reads $fs_base from the thread (compiler/registers.py). An executable's
    thread-locals lie at the same offset from $fs_base in every thread; GDB says where, which
    needs a live thread and may fail, so it is asked only where a failure is harmless.  A
    remote target's kernel keeps $fs_base where its own build puts it: there GDB reads them."""
    local = {}
    if whereabouts.locate(gdb.selected_inferior()).agent is not None:
        return expression
    executable = gdb.current_progspace().filename
    for symbol in symbols:
        if (symbol.addr_class != gdb.SYMBOL_LOC_COMPUTED or symbol.needs_frame
                or symbol.symtab is None or symbol.symtab.objfile.filename != executable):
            continue
        if symbol.type is None or not _spelled_as_pointer_target(symbol.type):
            continue
        if not _allowed or gdb.selected_thread() is None:
            raise NotCompiledYet(f"{symbol.name} may be a thread-local, which is found in a "
                                 "live thread, at a stop")
        if not _is_thread_local(symbol):
            continue
        try:
            offset = int(gdb.parse_and_eval(f"(long)&{symbol.name} - (long)$fs_base"))
        except (gdb.error, OverflowError):
            continue
        local[symbol.name] = f"(*({symbol.type} *)($fs_base + {offset}))"
    return _with_names_replaced(expression, local)


def _is_thread_local(symbol):
    """GDB's agent expressions refuse the variable for its thread-local location."""
    try:
        _agent_eval(f"&{symbol.name}")
    except AxUnavailable as error:
        return "tls_address" in str(error)
    return False


def agent_eval_at(address, linespec=None, may_move_pc=False):
    """A callable compiling an expression to an AX listing valid at `address`."""
    def agent_eval(expression):
        key = (address, expression)
        if key not in _listings:
            _listings[key] = _compile(address, linespec, _literal_logic_folded(expression),
                                      may_move_pc)
        return _listings[key]
    return agent_eval


def _literal_logic_folded(expression):
    """`expression` with each `&&` or `||` made of literals only (`(31 < 33) || (1 > 2)`)
    replaced by GDB's own value of it: GDB 18 compiles such an operation to 0 in agent
    expressions (`0 || 1` is `const8 0`, while `print 0 || 1` is 1), even inside a larger
    condition. A literal-only operation reads nothing and cannot fail, so evaluating it here
    is safe even while GDB handles the program's events."""
    if "&&" not in expression and "||" not in expression:
        return expression
    try:
        tree = parse(expression)
    except ConditionSyntaxError:
        return expression
    spans = []

    def visit(node):
        if (node.kind == "binary" and node.op in ("&&", "||")
                and all(part.kind in _LITERAL_ONLY and part.op not in _NOT_LITERAL_ONLY
                        for part in node.walk())):
            try:
                spans.append((node.start, node.end,
                              str(int(gdb.parse_and_eval(node.text(expression))))))
            except (gdb.error, OverflowError, ValueError):
                pass
            return
        for child in node.children:
            visit(child)
    visit(tree)
    return replace_spans(expression, spans)


def _compile(address, linespec, expression, may_move_pc):
    symbols = list(_symbols(address, expression))
    if _wide_integers(symbols):
        raise AxUnavailable("it uses an integer wider than 64 bits, which agent expressions "
                            "cannot hold")
    if (_CRASHES_ON_PROCESS_REGISTERS and _PROCESS_REGISTERS.search(expression)
            and gdb.selected_inferior().pid == 0):
        raise AxUnavailable("GDB compiles orig_rax, fs_base and gs_base only for a live process")
    expression = _references_as_objects(symbols, expression)
    expression = _thread_locals(symbols, _extended_locals(symbols, expression))
    object_file = None if _allowed else object_file_of(address)
    if linespec is not None:
        listing = _listing_at_scope(_agent_eval(f"-at {linespec}, {expression}", object_file),
                                    address)
        if listing is not None:
            return listing
    line = _line_linespec(address)
    frame_free = not any(symbol.needs_frame for symbol in symbols)
    if line is not None:
        output = _agent_eval(f"-at {line}, {expression}", object_file)
        listing = _listing_at_scope(output, address)
        if listing is None and frame_free:
            listing = _listing_in_same_block(output, address)
        if listing is not None:
            return listing
    if not _allowed:
        raise NotCompiledYet()
    if frame_free:
        output = _agent_eval(expression)
        return output[output.index("Scope:"):] if "Scope:" in output else output
    if may_move_pc:
        return _compile_with_pc_at(address, expression)
    raise AxUnavailable(f"GDB compiles conditions on local variables only at the start of a "
                        f"line, and {address:#x} is inside one: set this breakpoint while the "
                        f"program is stopped to have the kernel filter on them")


def _listing_in_same_block(output, address):
    """A listing of `output` compiled where the same names mean the same variables as at
    `address` (the same innermost block): for a condition that reads no frame, it is valid at
    `address` too.  `-at LINE` is a command whose outcome is remembered, so unlike compiling
    at the selected pc it can be redone while GDB handles the program's start or a library load."""
    wanted = _block_span(address)
    scopes = [int(match.group(1), 16) for match in _SCOPE.finditer(output)]
    same = [scope for scope in scopes if wanted is not None and _block_span(scope) == wanted]
    return _listing_at_scope(output, same[0]) if same else None


def _block_span(address):
    try:
        block = gdb.block_for_pc(address)
    except RuntimeError:
        return None
    return (block.start, block.end) if block is not None else None


def settled(address, linespec):
    """Whether GDB's symbols already place `linespec` at `address` in this program image
    (after an exec, the old image's addresses stay until the new one is relocated)."""
    return (linespec is None or gdb.block_for_pc(address) is not None
            or gdb.solib_name(address) is not None)


def _compile_with_pc_at(address, expression):
    if not gdb.selected_inferior().pid or gdb.selected_thread() is None:
        raise NotCompiledYet("GDB compiles a local variable inside a line only where the "
                             "program is stopped")
    newest = gdb.newest_frame()
    saved_pc = newest.pc()
    if saved_pc == address:
        return _checked(_agent_eval(expression), address)
    level = _selected_level()
    newest.select()
    gdb.execute(f"set $pc = {address:#x}", to_string=True)
    try:
        listing = _agent_eval(expression)
    finally:
        gdb.execute(f"set $pc = {saved_pc:#x}", to_string=True)
        _select_level(level)
    return _checked(listing, address)


def _checked(output, address):
    listing = _listing_at_scope(output, address)
    if listing is None:
        raise AxUnavailable(f"GDB compiled the condition for another address than {address:#x}")
    return listing


def _selected_level():
    level, frame = 0, gdb.selected_frame()
    while frame.newer() is not None:
        frame, level = frame.newer(), level + 1
    return level


def _select_level(level):
    frame = gdb.newest_frame()
    for _ in range(level):
        frame = frame.older() or frame
    frame.select()


def is_program_symbol(address=None):
    """Whether a bare name is a program symbol at `address` (so not a register name)."""
    try:
        block = gdb.block_for_pc(address) if address is not None else None
    except RuntimeError:
        block = None

    def lookup(name):
        try:
            if block is not None and gdb.lookup_symbol(name, block)[0] is not None:
                return True
            return (gdb.lookup_global_symbol(name) is not None
                    or gdb.lookup_static_symbol(name) is not None)
        except gdb.error:
            return False
    return lookup
