"""`$_caller_is` and its kin at an hbreak-if stop exactly where GDB's own `break … if` stops
(tests/programs/callers.c at -O0 and -O2: callers that are functions, an inlined function, a
tail call GDB shows as a frame, a call through a pointer); the kernel filters on the return
address where it can."""
import pytest

from harness.gdb import run_gdb
from harness.programs import build
from harness.stops import gdb_stops, hbreak_if_stops

pytestmark = pytest.mark.gdb

WHO = "g_from * 1000 + i"      # which caller, and the argument
IN_KERNEL = ['$_caller_is("cfg_parse")', '$_caller_is("cfg_render") && i % 3 == 0',
             '$_caller_is("wrap")', '$_any_caller_is("cfg_render", 1)',
             '$_caller_is("helper", 0) && i == 14', '$_caller_is("main", 0)',
             '$_caller_is("main") || i == 8']
WITH_GDB = ['$_caller_is("dispatch")', '$_caller_is("main", 2)', '!$_caller_is("cfg_parse")',
            '$_caller_matches("^cfg_r")', '$_any_caller_matches("^(cfg_parse|wrap)$", 1)']


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
@pytest.mark.parametrize("condition", IN_KERNEL + WITH_GDB)
def test_the_stops_are_gdbs(kernel_tier, opt, condition):
    program = build("callers", opt)
    ours, result = hbreak_if_stops(program, "helper", condition, printf_args=WHO)
    assert ours == gdb_stops(program, "helper", condition, printf_args=WHO)
    in_kernel = "GDB evaluates it at each stop" not in result.stdout
    tail_call = opt == "-O2" and "dispatch" in condition
    assert in_kernel == (condition in IN_KERNEL or not tail_call and "dispatch" in condition), \
        result.stdout


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
@pytest.mark.parametrize("condition",
                         ['$_caller_is("cfg_parse")', '$_any_caller_is("wrap", 1)'])
def test_at_the_first_instruction_the_return_address_is_on_top_of_the_stack(kernel_tier, opt,
                                                                           condition):
    program = build("callers", opt)
    ours, result = hbreak_if_stops(program, "*helper", condition, printf_args="g_from")
    assert ours == gdb_stops(program, "*helper", condition, printf_args="g_from")
    assert "GDB evaluates it at each stop" not in result.stdout, result.stdout


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
def test_in_a_function_of_the_c_library(kernel_tier, opt):
    """`break getpid if $_caller_is("cfg_parse")`, set once the C library is loaded (before,
    the location is the program's PLT stub): the return address is where the library's own
    call frame information says, at an address relocated with the library."""
    program = build("callers", opt)
    condition = '$_caller_is("cfg_parse")'
    started = dict(printf_args="g_from", setup=["tbreak main", "run"], start="continue")
    ours, result = hbreak_if_stops(program, "getpid", condition, **started)
    assert ours == gdb_stops(program, "getpid", condition, **started) == [1] * 66
    assert "GDB evaluates it at each stop" not in result.stdout, result.stdout
    assert "[kernel tier]" in result.stdout, result.stdout


def test_the_kernel_filters_the_other_callers(kernel_tier):
    """Before cfg_parse's call with 5: five calls at 0 (cfg_parse, cfg_render, wrap, dispatch,
    cfg_parse through the pointer), two at each of 1 to 4 -- all filtered in the kernel, on the
    caller and on i."""
    result = run_gdb(build("callers", "-O2"), [
        'hbreak-if helper $_caller_is("cfg_parse") && i == 5', "run", "print g_from"])
    result.check()
    assert "hbreak-if 2, helper (i=i@entry=5)" in result.stdout, result.stdout
    assert "(13 hits filtered in the kernel)" in result.stdout, result.stdout
    assert result.values() == {1: "1"}
