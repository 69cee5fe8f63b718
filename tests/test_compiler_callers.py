"""`$_caller_is` and its kin in the kernel (compiler/callers.py): which forms the kernel takes,
whether they are exact, and that the test of the return address holds wherever GDB's frame 1
may be named as asked (it may hold more often: GDB decides what it lets through)."""
import re

import pytest

from gdb_plugin.compiler import AxUnavailable, compile_condition
from gdb_plugin.compiler.callers import CallerFacts, caller_test, mentions_callers
from gdb_plugin.compiler.syntax import parse

PARSE = [(0x1100, 0x1140), (0x1300, 0x1320)]   # parse, and a copy inlined elsewhere
TEXT = [(0x1000, 0x2000)]                       # the code GDB knows
RETURN_ADDRESS = "*(unsigned long *) ($rsp + 8)"


class Facts(CallerFacts):
    def __init__(self, function="target", return_address=RETURN_ADDRESS, ranges=None,
                 inlined=False):
        self._function, self._return_address = function, return_address
        self._ranges = {"parse": PARSE} if ranges is None else ranges
        self._inlined = inlined

    def in_inlined_code(self):
        return self._inlined

    def function(self):
        return self._function

    def return_address(self):
        return self._return_address

    def ranges_of(self, name):
        return self._ranges.get(name)

    def known_code(self):
        return TEXT


def agent_eval(expression):
    """GDB's compiler as far as these tests need it: it refuses GDB's functions."""
    if "$_" in expression:
        raise AxUnavailable("Invalid data type for function to be called.")
    return "Scope: 0x1000\nReg mask: 00\n  0  const8 1\n  2  end\n"


def taken(text, facts=None):
    """(the kernel's text, exact) or None."""
    result = caller_test(parse(text), text, agent_eval, facts or Facts())
    return None if result is None else (result[0].text, result[1])


@pytest.mark.parametrize("text, expected", [
    ('$_caller_is("target", 0)', ("1", True)),
    ('$_caller_is("main", 0)', ("0", True)),
    ('$_any_caller_is("target")', ("1", True)),
    ('$_any_caller_is("target", 5)', ("1", True)),
    ('$_caller_matches("^tar", 0)', ("1", True)),
    ('$_any_caller_matches("get$", 0)', ("0", True)),
    ('$_caller_is(("main"), 0x0)', ("0", True)),
])
def test_frame_zero_is_the_function_at_the_address(text, expected):
    assert taken(text) == expected


@pytest.mark.parametrize("text", [
    '$_caller_is("parse", 2)', '$_any_caller_is("parse", 2)', '$_caller_matches("par")',
    '$_any_caller_matches("par", 1)', '$_caller_is("parse", -1)', '$_caller_is(name)',
    '$_caller_is("parse", n)', '$_caller_is("parse", 1L)', '$_caller_is("pa" "rse")',
    '$_caller_matches("(", 0)', '$_caller_is("nosuch")', '$_caller_is()', 'caller_is("parse")',
])
def test_what_stays_with_gdb(text):
    assert taken(text) is None


def test_nothing_is_taken_where_gdb_knows_too_little():
    assert taken('$_caller_is("target", 0)', Facts(inlined=True)) is None
    assert taken('$_caller_is("parse")', Facts(inlined=True)) is None
    assert taken('$_caller_is("parse")', Facts(return_address=None)) is None
    assert taken('$_caller_is("parse")', Facts(ranges={})) is None


def test_in_code_without_debug_information_only_the_caller_is_known():
    """A library function without symbols (malloc, say): frame 0's name is the minimal
    symbol's, which GDB alone picks; frame 1 is found as anywhere else."""
    facts = Facts(function=None)
    assert taken('$_caller_is("parse")', facts)[1] is False
    for text in ['$_caller_is("malloc", 0)', '$_any_caller_is("parse")',
                 '$_caller_matches("^m", 0)']:
        assert taken(text, facts) is None, text


def test_cpp_names_as_gdb_names_frames():
    """A frame's name is its function's without the parameters: `Widget::step` for
    `Widget::step(int)`; the kernel takes it for true, and GDB checks."""
    facts = Facts(function="Widget::step(int)")
    assert taken('$_caller_is("Widget::step", 0)', facts) == ("1", False)
    assert taken('$_caller_is("Widget::go", 0)', facts) == ("0", True)
    assert taken('$_caller_matches("Widget", 0)', facts) is None


def _holds(test: str, return_address: int) -> bool:
    """The test of the return address, evaluated for one return address."""
    python = test.replace(RETURN_ADDRESS, str(return_address))
    python = python.replace("&&", " and ").replace("||", " or ")
    python = re.sub(r"!(?!=)", " not ", python)
    return bool(eval(python, {}))


@pytest.mark.parametrize("function", ["$_caller_is", "$_any_caller_is"])
@pytest.mark.parametrize("return_address, may_be_parse", [
    (0x1101, True), (0x1140, True), (0x1301, True), (0x1320, True),   # after a call in parse
    (0x1100, False), (0x1141, False), (0x1500, False),                # elsewhere in the code
    (0x3000, True), (0x10, True), (0, True),                          # code GDB does not know
])
def test_the_return_address_test_holds_wherever_parse_may_have_called(function,
                                                                     return_address,
                                                                     may_be_parse):
    test, exact = taken(f'{function}("parse")')
    assert not exact
    assert _holds(test, return_address) == may_be_parse


def test_a_conjunct_after_the_caller_still_filters():
    """GDB's own evaluation of `$_caller_is` cannot fail: what follows it stays in the
    kernel."""
    compiled = compile_condition('$_caller_is("parse") && i == 5', agent_eval,
                                 lambda name: True, callers=Facts())
    assert not compiled.exact
    assert RETURN_ADDRESS in compiled.kernel_part and "i == 5" in compiled.kernel_part
    assert all(note.in_kernel for note in compiled.notes)


def test_without_facts_gdb_decides():
    compiled = compile_condition('$_caller_is("parse")', agent_eval, lambda name: True)
    assert compiled.kernel_part is None


@pytest.mark.parametrize("condition, mentioned", [
    ('$_caller_is("parse") && i', True), ("$_any_caller_matches('x')", True),
    ("$_caller_isnt(1)", False), ("caller_is", False), (None, False)])
def test_conditions_that_mention_the_functions(condition, mentioned):
    assert mentions_callers(condition) == mentioned
