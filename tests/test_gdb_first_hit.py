"""Set before `run`, every location form is filtered by the kernel from its first hit: the same
stops as GDB's own `break LOCATION if CONDITION`, and the hits before the stop were rejected in
the kernel, not by GDB."""
import re
import subprocess

import pytest

from harness.gdb import run_gdb
from harness.processes import end
from harness.programs import build, build_shared, symbol_address
from harness.stops import gdb_stops, hbreak_if_stops

N = 3000
# Registers and globals, which mean the same at every instruction of target (at its first one
# too, where GDB's `i` is not stored yet); true at the call with i == 2999 only.
CONDITION = "$rdi > 2990 && g_cur->id == 7 && g_unsigned == 2999 * 2654435761u"


def second_instruction_of_line(binary, line, source="loop.c"):
    """`*target+OFFSET` naming the second instruction of SOURCE:LINE, inside the line."""
    result = run_gdb(binary, [f"info line {source}:{line}", "x/2i $_"], plugin=False).check()
    return "*" + re.findall(r"<(target\+\d+)>", result.stdout)[-1]


@pytest.fixture(scope="module")
def pie():
    return build("loop")


@pytest.fixture(scope="module")
def no_pie():
    return build("loop", extra=("-no-pie",))


LOCATIONS = {
    "*ADDRESS, not PIE": lambda pie, no_pie: (no_pie,
                                              f"*{symbol_address(no_pie, 'target'):#x}"),
    "*FUNCTION, PIE": lambda pie, no_pie: (pie, "*target"),
    "*ADDRESS inside a line": lambda pie, no_pie: (pie, second_instruction_of_line(pie, 26)),
    "-function": lambda pie, no_pie: (pie, "-function target"),
    "-source -line": lambda pie, no_pie: (pie, "-source loop.c -line 27"),
    "FILE:LINE": lambda pie, no_pie: (pie, "loop.c:27"),
    "FUNCTION": lambda pie, no_pie: (pie, "target"),
}


@pytest.mark.parametrize("form", LOCATIONS)
def test_set_before_run_the_kernel_filters_from_the_first_hit(kernel_tier, pie, no_pie, form):
    binary, location = LOCATIONS[form](pie, no_pie)
    assert hbreak_if_stops(binary, location, CONDITION, printf_args="$rdi",
                           args=[N])[0] == gdb_stops(binary, location, CONDITION,
                                                     printf_args="$rdi", args=[N]) == [2999]
    result = run_gdb(binary, [f"hbreak-if {location} {CONDITION}", "run", "print $rdi", "run",
                              "print $rdi"], args=[N]).check()
    assert re.search(r"^hbreak-if 2 at .*\[kernel tier\]$", result.stdout, re.M), result.stdout
    assert result.stdout.count("(2,999 hits filtered in the kernel)") == 2, result.stdout
    assert result.values() == {1: "2999", 2: "2999"}


def test_local_inside_a_line_is_compiled_at_the_first_stop_under_commands_that_continue(
        kernel_tier, pie):
    """A local variable at an address inside a line compiles only with the program stopped
    there, so until the first stop GDB decides the hits.  That stop's `commands` (print and
    continue) run as soon as GDB does anything there, before the new predicate is armed: the
    old one stays armed meanwhile, and the report stays silent."""
    location = second_instruction_of_line(pie, 26)
    expected = gdb_stops(pie, location, "i % 3 == 1", args=["20"])
    got, result = hbreak_if_stops(pie, location, "i % 3 == 1", args=["20"])
    assert expected == [1, 4, 7, 10, 13, 16, 19]
    assert got == expected
    assert "hbreak-if 2," not in result.stdout   # `silent` commands: no report, as GDB's own
    assert "warning" not in result.stderr


def test_hits_before_a_put_off_compilation_are_not_called_filtered_in_the_kernel(kernel_tier,
                                                                                 pie):
    """Until the first stop GDB rejected the hits; at the next run the kernel filters from the
    start."""
    location = second_instruction_of_line(pie, 26)
    result = run_gdb(pie, [f"hbreak-if {location} i == 5", "run", "run"], args=["10"]).check()
    reports = re.findall(r"^hbreak-if 2, .*\n.*\n(\(\d+ hits filtered in the kernel\))?",
                         result.stdout, re.M)
    assert reports == ["", "(5 hits filtered in the kernel)"], result.stdout


@pytest.mark.parametrize("condition", ["i == 2999", "$rdi == 2999 && lib_sink > 0"])
def test_pending_in_a_library_loaded_later_is_filtered_from_the_first_hit(kernel_tier, condition):
    lib, shlib = build_shared("lib"), build("shlib")
    pending = ["set breakpoint pending on"]   # GDB says on stderr that lib_target is unknown
    assert hbreak_if_stops(shlib, "lib_target", condition, args=[lib, N],
                           allow_errors=True)[0] == gdb_stops(
        shlib, "lib_target", condition, args=[lib, N], setup=pending, allow_errors=True) == [2999]
    result = run_gdb(shlib, [f"hbreak-if lib_target {condition}", "run", "print i", "run",
                             "print i"], args=[lib, N]).check(allow_errors=True)
    assert "hbreak-if 2 at lib_target (pending) [kernel tier]" in result.stdout
    assert result.stdout.count("(2,999 hits filtered in the kernel)") == 2, result.stdout
    assert result.values() == {1: "2999", 2: "2999"}


@pytest.mark.parametrize("location", ["target", "*target"])
def test_the_image_an_exec_loads_is_filtered_from_the_first_hit(kernel_tier, location):
    execer, condition = build("execer"), "g_phase == 1 && $rdi == 2999"
    assert hbreak_if_stops(execer, location, condition, printf_args="$rdi", args=[N])[0] == \
        gdb_stops(execer, location, condition, printf_args="$rdi", args=[N]) == [2999]
    result = run_gdb(execer, [f"hbreak-if {location} {condition}", "run", "print $rdi"],
                     args=[N]).check()
    assert "(2,999 hits filtered in the kernel)" in result.stdout, result.stdout
    assert result.values() == {1: "2999"}


def test_pending_condition_naming_the_programs_globals_is_compiled_at_the_first_stop(
        kernel_tier):
    """A separate GDB given only the library does not know the program's `sink`: GDB decides
    the hits until the first stop, and the kernel from then on."""
    lib, shlib = build_shared("lib"), build("shlib")
    condition = "i == 2999 && sink > 0"
    assert hbreak_if_stops(shlib, "lib_target", condition, args=[lib, N],
                           allow_errors=True)[0] == [2999]
    result = run_gdb(shlib, [f"hbreak-if lib_target {condition}", "run", "run"],
                     args=[lib, N]).check(allow_errors=True)
    reports = re.findall(r"^hbreak-if 2, .*\n.*\n(\(\S+ hits filtered in the kernel\))?",
                         result.stdout, re.M)
    assert reports == ["", "(2,999 hits filtered in the kernel)"], result.stdout


def test_set_after_start_inside_a_line_on_a_local_the_kernel_filters_from_the_first_hit(
        kernel_tier, pie):
    location = second_instruction_of_line(pie, 26)
    result = run_gdb(pie, ["start", f"hbreak-if {location} i == 2999", "continue", "print i"],
                     args=[N]).check()
    assert "(2,999 hits filtered in the kernel)" in result.stdout, result.stdout
    assert result.values() == {1: "2999"}


def test_set_on_an_attached_program_inside_a_line_the_kernel_filters_from_the_first_hit(
        kernel_tier, tmp_path):
    survivor = build("survivor")
    location = second_instruction_of_line(survivor, 14, "survivor.c")
    program = subprocess.Popen([survivor, str(N), tmp_path / "out", "wait"])
    try:
        result = run_gdb(survivor, [f"attach {program.pid}", f"hbreak-if {location} i == 2999",
                                    "set var go = 1", "continue", "print i", "continue"]).check(
                                        allow_errors=True)
        assert "(2,999 hits filtered in the kernel)" in result.stdout, result.stdout
        assert result.values() == {1: "2999"}
        assert program.wait(timeout=60) == 0
    finally:
        end(program)
    assert (tmp_path / "out").read_text() == f"finished {N}\n"
