"""Defects found by the reliability suites, one test each: strict xfail while open.

Each test states the right behaviour (GDB's own, where GDB has one); the reason says what
happens instead.  When a fix lands, its test passes, strict xfail turns that into a failure,
and the marker goes: a test here without the marker is a fixed defect, kept as a regression
test (its docstring says what it was).  The generators of the other suites leave open defects'
inputs out (reliability/inputs.py: KNOWN_DEFECTS; none is open now); lift an exclusion with
its marker.
"""
import re

import pytest

from harness.gdb import NO_BREAKPOINTS, run_gdb
from harness.programs import build, build_shared
from harness.stops import gdb_stops, hbreak_if_stops, stops
from reliability.differential import inner_line

HIT = re.compile(r"^hbreak-if (\d+), (?:0x[0-9a-f]+ in )?(\w+) \((.*?)\) at", re.M)


@pytest.fixture(scope="module")
def loop():
    return build("loop")


def _no_defect(result):
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    assert "Fatal signal" not in result.output


# -- GDB itself goes down ----------------------------------------------------------------------

@pytest.mark.parametrize("location", ["*nosuch", "*", "*target+", "*$nonexistent"])
def test_bad_address_expression_is_an_error_not_a_gdb_crash(loop, location):
    result = run_gdb(loop, ["break main", "run", f"hbreak-if {location} i == 1",
                            "python print('still alive')", "info hbreak-if", "continue"],
                     args=["10"])
    assert "Fatal signal" not in result.output and "unknown opcode" not in result.output
    assert "still alive" in result.stdout
    assert "No hbreak-if breakpoints." in result.stdout
    assert "exited normally" in result.stdout


@pytest.mark.parametrize("case", ["library", "library-partial", "address-before-run",
                                  "no-registers"])
def test_armed_while_gdb_handles_a_load_keeps_the_kernel_tier(kernel_tier, loop, case):
    if case == "no-registers":
        # Four set before `run` (from the differential suite, seed 1034 -O0): the fourth
        # says 'internal error arming it: AxUnavailable: No registers.'
        result = run_gdb(build("rel_diff"), [
            "hbreak-if *f_int+7 if d != si", "hbreak-if *f_wide+8 -10",
            "hbreak-if f_ptr (g_ull > 33) && (($orig_rax >= 2147483647) ? p[1] : g_div <= 10)",
            f"hbreak-if {inner_line()} ((unsigned short *)&g_ull)[3] < 'b'", "run"],
            args=["5", "1"])
        _no_defect(result)
        return
    if case == "address-before-run":
        result = run_gdb(loop, ["hbreak-if *target i == 7", "run", "print i", "info hbreak-if",
                                "continue"], args=["20"])
        expected = [("2", "target", "i=7")]
        number = 2
    else:
        condition = "i == 7" if case == "library" else "i == 7 && sizeof(i++) == 4"
        lib, shlib = build_shared("lib"), build("shlib")
        result = run_gdb(shlib, ["break before_load", "run", f"hbreak-if lib_target {condition}",
                                 "continue", "print i", "info hbreak-if", "continue"],
                         args=[lib, "20"])
        expected = [("3", "lib_target", "i=7")]
        number = 3
    _no_defect(result)
    assert [(n, fn, args) for n, fn, args in HIT.findall(result.stdout)] == expected
    assert re.search(rf"^{number}\s+y\s+kernel\s", result.stdout, re.M), result.stdout
    assert "falls back" not in result.output
    assert "exited normally" in result.stdout


def test_delete_all_with_a_software_fallback_does_not_crash_gdb(kernel_tier, loop):
    result = run_gdb(loop, ["break main", "run",
                            *[f"hbreak-if target i == {k}" for k in range(1, 6)],
                            "delete", "python print('still alive')", "info breakpoints",
                            "continue"], args=["10"])
    assert "Fatal signal" not in result.output
    assert "still alive" in result.stdout
    assert NO_BREAKPOINTS.search(result.stdout), result.stdout
    assert "exited normally" in result.stdout


def test_a_condition_refused_at_one_location_still_compiles_at_another(kernel_tier, loop):
    result = run_gdb(loop, ["break main", "run", "hbreak-if -qualified g_counter == 3",
                            "delete 3", "hbreak-if target g_counter == 3", "info hbreak-if",
                            "continue"], args=["10"])
    # Deleting the only hbreak-if took the catchpoint with it: the next makes one again.
    assert re.search(r"^5\s+y\s+kernel\s", result.stdout, re.M), result.stdout
    after = result.stdout[result.stdout.index("hbreak-if 5 at"):]
    assert '"-qualified" not defined' not in after
    assert [(n, args) for n, _, args in HIT.findall(result.stdout)] == [("5", "i=3")]


# -- lost or different stops ---------------------------------------------------------------------

def _stops_allowing_errors(binary, command, args, plugin=True):
    """The i of every stop; GDB's "Error in testing condition" messages are expected."""
    result = run_gdb(binary, [command, 'commands\nsilent\nprintf "STOP %d\\n", i\ncontinue\nend',
                              "run"], args=args, plugin=plugin).check(allow_errors=True)
    return [int(v) for v in re.findall(r"^STOP (\d+)$", result.stdout, re.M)], result


def test_error_in_a_gdb_part_before_a_kernel_conjunct_stops(kernel_tier, loop):
    """Was: an error in a part of the condition only GDB evaluates, before a conjunct the
    kernel filters on: GDB stops when evaluating the condition raises an error, but the
    kernel filters on the later conjunct alone, so the stops where the earlier part fails
    are lost. In `*(char *)(i % 2 ? 0 : &g_counter) == 97.0 && i == 3` (a floating-point
    number keeps the first part in GDB) GDB stops at every odd i (Cannot access memory at address
    0x0); hbreak-if only at i=3. Found by the differential suite: `(p[0] < '\\377') && ((edi
    >= -32767) && (r->id <= g_s))` at f_ptr lost the 9 stops where p is NULL. A kernel
    conjunct is a necessary condition only if nothing evaluated before it can fail (or has a
    side effect: see the next test)"""
    condition = "*(char *)(i % 2 ? 0 : (long)&g_counter) == 97.0 && i == 3"
    expected, _ = _stops_allowing_errors(loop, f"break target if {condition}", ["10"], False)
    assert expected == [1, 3, 5, 7, 9]
    got, result = _stops_allowing_errors(loop, f"hbreak-if target {condition}", ["10"])
    _no_defect(result)
    assert got == expected


def test_type_error_in_a_gdb_part_before_a_kernel_conjunct_stops(kernel_tier, loop):
    condition = "(1.5 | i) == 0 && i == 3"
    expected, _ = _stops_allowing_errors(loop, f"break target if {condition}", ["10"], False)
    assert expected == list(range(10))
    got, result = _stops_allowing_errors(loop, f"hbreak-if target {condition}", ["10"])
    _no_defect(result)
    assert got == expected


def test_side_effect_before_a_kernel_conjunct_keeps_gdbs_stops(kernel_tier, loop):
    """Was: a side effect before a kernel-compiled conjunct: in `++$n == 3 && i % 2 == 0` GDB
    evaluates ++$n at every hit (break-if stops at i=2); hbreak-if filters on i % 2 == 0 in
    the kernel, so ++$n runs only at even i and the stop moves to i=4. Filtering on a
    conjunct is only sound when no part evaluated before it has a side effect (same root as
    the previous test)"""
    def first_stop(command, plugin):
        result = run_gdb(loop, ["break main", "run", "set $n = 0",
                                f"{command} ++$n == 3 && i % 2 == 0", "continue", "print i"],
                         args=["20"], plugin=plugin).check()
        return result.values()[1]
    assert first_stop("break target if", False) == "2"
    assert first_stop("hbreak-if target", True) == "2"


@pytest.mark.parametrize("location", ["-function target", "-source loop.c -line 26",
                                      "-function target -line 1"])
def test_explicit_location_is_accepted(kernel_tier, loop, location):
    """Was: explicit locations are refused: `hbreak-if -function target i == 3` says 'missing
    argument for "-function"' because the command line parser takes only the first word
    (-function) as the location; GDB's `break -function target if i == 3` works and the
    README promises any GDB location"""
    expected = gdb_stops(loop, location, "i == 3", args=["10"])
    assert expected == [3]
    got, result = hbreak_if_stops(loop, location, "i == 3", args=["10"])
    assert got == expected


def test_filtered_count_restarts_with_the_program(kernel_tier):
    binary = build("rel_fault")
    result = run_gdb(binary, ["hbreak-if target i == 5", "run", "continue", "run"],
                     args=["exit", "10"])
    assert result.stdout.count("(5 hits filtered in the kernel)") == 2, result.stdout


# -- bad input that is not one plain error -----------------------------------------------------

@pytest.mark.parametrize("condition,locale", [
    ("i == 1;", "C"), ("i == 1; print 5", "C"), ("`echo pwned`", "C"), ("i == \\1", "C"),
    ("'i == 1", "C"), ('"i == 1', "C"), ("i == '", "C"),
    ("ï == 1", "C.UTF-8"), ("i == \u0663", "C.UTF-8")])
def test_condition_the_plugin_cannot_tokenize_is_a_plain_error(loop, condition, locale):
    result = run_gdb(loop, ["break main", "run", f"hbreak-if target {condition}",
                            "info hbreak-if"], env={"LC_ALL": locale})
    _no_defect(result)
    assert result.errors(), "an error is expected"
    assert "No hbreak-if breakpoints." in result.stdout


# -- found by these suites and fixed since: kept as regression tests ----------------------------

def test_computed_int_local_at_O2(kernel_tier):
    """Was: an `int` local whose -O2 DWARF location is a computed value (DW_OP_breg.. DW_OP_mul
    DW_OP_plus DW_OP_stack_value: tmp = acc * 3 + j) was read as the untruncated 64-bit
    result: GDB's AX emits no `ext 32` for it, GDB's own evaluation truncates to int.  At
    rel_diff.c @inner, `tmp == -1` holds at i=14 (acc*3+j = 0xffffffff) for GDB; the kernel
    saw 4294967295 and lost the stop"""
    binary = build("rel_diff", "-O2")
    location = f"rel_diff.c:{inner_line()}"
    expected = gdb_stops(binary, location, "tmp == -1", printf_args="g_iter", args=["40", "1"])
    assert expected
    got, _ = hbreak_if_stops(binary, location, "tmp == -1", printf_args="g_iter",
                             args=["40", "1"])
    assert got == expected


@pytest.mark.parametrize("condition", [
    " || ".join(f"i == {k}" for k in range(1, 1000)),
    " + ".join("i" for _ in range(1, 3000)) + " == 5",
    "(" * 1000 + "i" + ")" * 1000 + " == 3",
    "!" * 1000 + "i",
    " ".join(["i =="] * 2000) + " 1",
], ids=["or-999", "sum-2999", "parens-1000", "not-1000", "equal-chain-2000"])
def test_long_or_deep_condition_gdb_accepts_is_not_an_internal_error(kernel_tier, loop,
                                                                       condition):
    """Was: long or deeply nested conditions GDB accepts ended in 'hbreak-if: internal error:
    RecursionError: maximum recursion depth exceeded' (the plugin's recursive parser and
    passes); GDB's own break-if takes them.  200 alternatives worked, 999 did not.  The
    compiler now leaves a condition too deep for it to GDB"""
    expected = gdb_stops(loop, "target", condition, args=["30"])
    got, result = stops(loop, f"hbreak-if target {condition}", args=["30"])
    _no_defect(result)
    assert got == expected


def test_pointer_difference_is_signed(kernel_tier, loop):
    """Was: the difference of two pointers was computed unsigned: GDB's AX for `p - q`
    divides the byte difference with div_unsigned, so a negative difference became a huge
    positive one, the kernel filter said false, and every stop was lost (`&items[0] -
    &items[1] == -1` is always true for GDB, was never for the kernel).  The exactness claim
    of -explain ('exact: it decides every hit as GDB would') was wrong for it"""
    condition = "&items[0] - &items[1] == -1"
    expected = gdb_stops(loop, "target", condition, args=["20"])
    assert expected == list(range(20))
    assert hbreak_if_stops(loop, "target", condition, args=["20"])[0] == expected


def test_constant_division_by_zero_stops_like_gdb(kernel_tier, loop):
    """Was: a constant division by zero: GDB's agent-expression compiler folds `7 / 0 == 5`
    (and `(-65280) % 0 ...`) to the constant 0 -- `maint agent-eval` prints `const8 0` --
    while GDB's own evaluation says 'Division by zero' at every hit, so break-if stops at
    every hit; -explain called the kernel part exact, and hbreak-if never stopped.  Found by
    the long profile: seed 30009 -O2, `(-65280) % ((-0x0L) == -1 ? 7 : (-0x0L)) & (g_i, g_s)
    == g_ull` lost all 60 stops"""
    condition = "7 / 0 == 5"
    expected, _ = _stops_allowing_errors(loop, f"break target if {condition}", ["10"], False)
    assert expected == list(range(10))
    got, result = _stops_allowing_errors(loop, f"hbreak-if target {condition}", ["10"])
    assert got == expected


@pytest.mark.parametrize("condition", ["(i >> (char *)1) < 5", "(i >> 1u) + (1.5 | i) < 5"])
def test_type_error_hidden_by_a_rewrite_stops(kernel_tier, loop, condition):
    """Was: a type error in the text GDB evaluates that the text compiled for the kernel does
    not have: a shift count becomes an int for AX (hazards.py), so `(i >> (char *)1) < 5`, an
    error for GDB at every hit (a pointer count), compiled and filtered.  Found by the long
    profile: seed 70053 -O2, `(n >> $rbp) < ((acc < (-4660)) & (-(*(long *)$rsp)))` ($rbp,
    a void *, was small there) lost 56 of 60 stops"""
    expected, _ = _stops_allowing_errors(loop, f"break target if {condition}", ["20"], False)
    assert expected == list(range(20))
    got, result = _stops_allowing_errors(loop, f"hbreak-if target {condition}", ["20"])
    assert got == expected


@pytest.mark.parametrize("condition", ["i == 3 && (1.5 | i) == 0",
                                       "i == 3 && (65280 & $rbp) == 0"])
def test_type_error_after_a_kernel_conjunct_stops(kernel_tier, loop, condition):
    """Was: a type error in a part only GDB evaluates, after a conjunct the kernel filters on:
    GDB type-checks the right operand of `&&` even when the left one is false (it evaluates
    it with EVAL_AVOID_SIDE_EFFECTS), so `i == 3 && (1.5 | i) == 0` is 'Integer-only
    operation on floating point number.' at every hit and GDB stops at every hit; hbreak-if
    filtered on i == 3 and stopped once.  Likewise `i == 3 && (65280 & $rbp) == 0` ($rbp is
    a void *).  Found by the long profile: seed 40027 -O2 `(s + 1 == (void *)0) && (g_c > (di
    | g_d * 2))` and seed 40062 -O0 `((r9 | cs) >= ...) && ((g_i, g_s) >= (65280ull & rbp))`
    lost 40 and 60 stops"""
    expected, _ = _stops_allowing_errors(loop, f"break target if {condition}", ["10"], False)
    assert expected == list(range(10))
    got, result = _stops_allowing_errors(loop, f"hbreak-if target {condition}", ["10"])
    assert got == expected


@pytest.mark.parametrize("condition", ["i == 3 && sizeof(i++) == 4",
                                       "i == 3 && $_streq(\"x\", \"x\")",
                                       "i == 3 && i < 2.5e3"])
def test_partly_compiled_condition_set_before_run_stops(kernel_tier, loop, condition):
    """Was: `run` returned at once and the program never stopped (a failing `maint agent-eval`
    run by gdb.execute() inside a new_objfile handler re-enabled GDB's stdin)."""
    result = run_gdb(loop, [f"hbreak-if target {condition}", "run", "print i", "continue"],
                     args=["10"])
    _no_defect(result)
    assert [(n, args) for n, _, args in HIT.findall(result.stdout)] == [("2", "i=3")]
    assert result.values().get(1) == "3"
    assert "exited normally" in result.stdout


def test_eflags_resume_flag_does_not_change_stops(kernel_tier, loop):
    """Was: the BPF predicate saw RF clear and GDB's re-check saw it set, so `(eflags &
    0x10000) == 0`, true at every hit for break-if, never stopped."""
    expected = gdb_stops(loop, "target", "($eflags & 0x10000) == 0", args=["5"])
    assert expected == [0, 1, 2, 3, 4]
    assert hbreak_if_stops(loop, "target", "(eflags & 0x10000) == 0", args=["5"])[0] == expected
    assert hbreak_if_stops(loop, "target", "(eflags & 0x10000) != 0", args=["5"])[0] == []


def test_two_breakpoints_true_at_the_same_hit_both_count_it(kernel_tier, loop):
    """Was: both perf events fire in one debug exception and the second SIGTRAP merges into
    the first, so only one breakpoint counted the hit (i % 3 == 0 counted 2 hits, not 5)."""
    def run(command, plugin):
        result = run_gdb(loop, [
            f"{command} i % 3 == 0", 'commands\nsilent\nprintf "ONE %d\\n", i\ncontinue\nend',
            f"{command} i % 2 == 0", 'commands\nsilent\nprintf "TWO %d\\n", i\ncontinue\nend',
            "run", "info breakpoints"], args=["13"], plugin=plugin).check()
        counts = [int(n) for n in re.findall(r"already hit (\d+) times?", result.stdout)]
        return counts, re.findall(r"^(?:ONE|TWO) \d+$", result.stdout, re.M)
    expected = run("break target if", False)
    assert expected[0] == [5, 7]
    assert run("hbreak-if target", True) == expected


def test_if_without_a_condition_is_refused(loop):
    """Was: `hbreak-if target if` (the keyword with no condition) silently set an
    unconditional breakpoint, which stops at every hit of a hot location; GDB refuses `break
    target if`."""
    result = run_gdb(loop, ["hbreak-if target if", "info hbreak-if"])
    assert "Argument required (a condition after `if`)." in result.errors()
    assert "No hbreak-if breakpoints." in result.stdout


@pytest.mark.parametrize("command", ["hbreak-if -ignore 99999999999999999999 target i == 2",
                                     "hbreak-if -ignore 2147483648 target i == 2",
                                     "hwatch-if -ignore 99999999999999999999 g_counter"])
def test_huge_ignore_count_is_a_plain_error(loop, command):
    """Was: `-ignore 99999999999999999999` ended in 'hbreak-if: internal error: OverflowError:
    Python int too large to convert to C long' (the count reaches the catchpoint's C int, and
    one above the int's range but within a long wrapped silently)."""
    result = run_gdb(loop, ["break main", "run", command, "info hbreak-if"])
    _no_defect(result)
    assert any(line.startswith("Value out of range: an ignore count is 0 to 2147483647")
               for line in result.errors()), result.errors()
    assert "No hbreak-if breakpoints." in result.stdout


def _api_call(arguments):
    """A script's gdb_plugin.hbreak_if(ARGUMENTS), printing the error it raises."""
    return (f"python\nimport gdb_plugin\ntry:\n    gdb_plugin.hbreak_if({arguments})\n"
            "except gdb.GdbError as error:\n    print('error:', error)\nend")


@pytest.mark.parametrize("command,message", [
    ("hbreak-if , i == 1", "Garbage ',' at end of command"),
    ("hbreak-if ,target i == 1", "Garbage ',target' at end of command"),
    ("hbreak-if -explain ,target i == 1", "Garbage ',target' at end of command"),
    (_api_call("'\\t, target', 'i == 1'"), "Garbage ', target' at end of command"),
    (_api_call("' ', 'argc == 2'"), "a location is needed."),
], ids=["comma", "comma-function", "explain", "api", "api-blank"])
def test_location_starting_with_a_comma_is_an_error_not_a_gdb_crash(loop, command, message,
                                                                      tmp_path):
    """Was: a location that starts with a comma ended GDB: `hbreak-if , i == 1` (or
    `,target`) hit GDB 13's 'linespec.c:2454: internal-error: parse_linespec: Assertion `arg
    != nullptr' failed.' -- in batch mode GDB quits, interactively it asks whether to quit.
    gdb.Breakpoint(',') sets a breakpoint at the current pc, but gdb.decode_line(',') and
    `maint agent-eval -at , EXPR` (both of which hbreak-if ran on the user's location)
    assert; so does `maint agent-eval -at` on an empty location, which a script could give.
    Found by the input fuzzer."""
    # In tmp_path: GDB answers "Create a core file of GDB?" with yes.
    result = run_gdb(loop, ["break main", "run", command, "python print('still alive')",
                            "info hbreak-if"], args=["10"], cwd=tmp_path)
    _no_defect(result)
    assert "internal-error" not in result.output
    assert "still alive" in result.stdout
    assert re.search(rf"^(error: )?{re.escape(message)}", result.output, re.M), result.output
    assert "No hbreak-if breakpoints." in result.stdout


_ON_EACH_STOP = 'commands\nsilent\nprintf "STOP %d\\n", g_iter\ncontinue\nend'


@pytest.mark.parametrize("opt,location", [("-O0", "*f_wide+1"), ("-O2", "*f_wide"),
                                          ("-O0", "-function f_wide")])
def test_shadowed_register_name_at_an_address_means_the_variable(kernel_tier, opt, location):
    """Was: at a `*ADDRESS` location, a bare name that is both a program symbol there and a
    register (rel_diff's f_wide has a parameter `ax`) meant the variable to GDB's break-if
    and to the kernel predicate, but the register to hbreak-if's own re-check at the stop:
    create.gdb_condition() looked the name up at the sal that gdb.decode_line('*f_wide+1')
    returned, found no symbol there, and rewrote the tracker's condition to `((short)$rax)
    == ...`.  The kernel let the right hits through and GDB's re-check rejected them:
    `hbreak-if *f_wide+1 ax > 65536` never stopped (break-if: 21 stops in 40 calls).  The
    same with an explicit location, `-function f_wide`.  Found by the differential suite
    (seeds 1054, 1056, 1061, 1062; an explicit location in the fast profile)."""
    binary = build("rel_diff", opt)

    def stops_set_at_main(command, plugin):
        # At a stop the kernel filter is compiled at once: this is about the name, not about
        # arming before `run`.
        result = run_gdb(binary, ["break main", "run", command, _ON_EACH_STOP, "continue"],
                         args=["40", "1"], plugin=plugin).check()
        return re.findall(r"^STOP (\d+)$", result.stdout, re.M)
    expected = stops_set_at_main(f"break {location} if ax > 65536", False)
    assert len(expected) > 10
    assert stops_set_at_main(f"hbreak-if {location} ax > 65536", True) == expected
