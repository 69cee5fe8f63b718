"""hbreak-if in real GDB on real programs: what a user sees at set, hit, info, continue."""
import platform
import re

import pytest

from gdb_plugin.kernel import uprobe
from harness.gdb import run_gdb
from harness.processes import PERF_EVENTS_HELD
from harness.programs import build
from harness.stops import gdb_stops, hbreak_if_stops


@pytest.fixture(scope="module")
def loop():
    return build("loop")


def test_stops_once_at_the_matching_call_and_reports_like_a_breakpoint(kernel_tier, loop):
    result = run_gdb(loop, ["hbreak-if target i == 500", "run", "print i", "info hbreak-if",
                            "continue"], args=["1000"]).check()
    out = result.stdout
    assert re.search(r"^hbreak-if 2 at 0x[0-9a-f]+: file .*loop\.c, line \d+ \[kernel tier\]$", out, re.M)
    assert re.search(r"^hbreak-if 2, target \(i=500\) at .*loop\.c:\d+$", out, re.M)
    assert "(500 hits filtered in the kernel)" in out
    assert result.values()[1] == "500"
    info = re.search(r"^2\s+y\s+kernel\s+501\s+1\s+1\s+target at", out, re.M)
    assert info, out
    assert "Program received signal" not in out
    assert "exited normally" in out


def test_register_condition_at_an_address(kernel_tier, loop):
    result = run_gdb(loop, ["break main", "run", "hbreak-if *&target rdi == 7", "continue",
                            "print $rdi", "print $pc == &target"]).check()
    assert re.search(r"^hbreak-if 3, 0x[0-9a-f]+ in target \(i=\d+\)|^hbreak-if 3, target \(i=", result.stdout, re.M)
    assert result.values() == {1: "7", 2: "1"}


CONDITIONS = [
    "i % 97 == 3",
    "g_cur->s < -1000 && i > 900",
    "(unsigned char)g_cur->flags > 140 && i < 300",
    "items[i % 16].big == -777",
    # target(i, ...)'s first two arguments, in this machine's registers
    "w0 == 64 || w1 == 12345" if platform.machine() == "aarch64" else "edi == 64 || esi == 12345",
]
REGISTERS = re.compile(r"\b(edi|esi|w0|w1)\b")


@pytest.mark.parametrize("tier", ["kernel", "kernel-signal", "ptrace"])
@pytest.mark.parametrize("condition", CONDITIONS)
def test_same_stops_as_gdb_conditional_breakpoint(kernel_tier, loop, condition, tier):
    expected = gdb_stops(loop, "target", REGISTERS.sub(r"$\1", condition), args=["1000"])
    got, result = hbreak_if_stops(loop, "target", condition, args=["1000"],
                                  setup=[f"set hbreak-if tier {tier}"])
    assert f"[{tier} tier]" in result.stdout
    assert got == expected
    assert expected  # the condition holds somewhere, so the comparison means something


def test_disable_enable_delete_use_gdb_commands(kernel_tier, loop):
    result = run_gdb(loop, [
        "hbreak-if target i % 100 == 0", "run", "print i",
        "disable 2", "info hbreak-if", "break target if i == 450", "continue", "print i",
        "delete 3", "enable 2", "continue", "print i",
        "delete 2", "info hbreak-if", "continue"]).check()
    assert result.values() == {1: "0", 2: "450", 3: "500"}
    assert re.search(r"^2\s+n\s+kernel", result.stdout, re.M)
    assert "No hbreak-if breakpoints." in result.stdout
    assert "exited normally" in result.stdout


def test_temporary_ignore_and_thread_options(kernel_tier, loop):
    result = run_gdb(loop, ["hbreak-if -t -ignore 2 target i % 10 == 1", "run", "print i",
                            "info hbreak-if", "continue"]).check()
    assert result.values()[1] == "21"
    assert "No hbreak-if breakpoints." in result.stdout
    assert "exited normally" in result.stdout


def test_a_stop_shows_the_display_expressions_as_gdbs_own_stops_do(kernel_tier, loop):
    commands = ["break main", "run", "display g_counter", "{} target if i == 7", "continue"]
    expected = run_gdb(loop, [c.format("break") for c in commands], plugin=False).check()
    got = run_gdb(loop, [c.format("hbreak-if") for c in commands]).check()
    shown = [line for line in expected.stdout.splitlines() if line.startswith("1: g_counter")]
    assert shown == ["1: g_counter = 7"]
    assert got.stdout.rstrip().endswith("(7 hits filtered in the kernel)\n1: g_counter = 7")


def test_the_ptrace_tier_is_gdbs_own_conditional_breakpoint(kernel_tier, loop):
    # One stop of GDB's own breakpoint a hit: no perf breakpoint, whose signal at every hit
    # would stop GDB twice more (the signal, then the carrier it lets in).
    result = run_gdb(loop, [PERF_EVENTS_HELD, "set hbreak-if tier ptrace",
                            "hbreak-if target i == 7", "run", "print i",
                            "python print('held', perf_events_held())", "info breakpoints",
                            "info hbreak-if"]).check()
    assert re.search(r"^hbreak-if 2, target \(i=7\) at .*loop\.c:\d+$", result.stdout, re.M)
    assert result.values() == {1: "7"}
    assert "held 0" in result.stdout
    assert re.search(r"^2\s+breakpoint\s+keep y\s+0x[0-9a-f]+ in target ", result.stdout, re.M)
    assert re.search(r"^2\s+y\s+ptrace\s+8\s+1\s+1\s+target at", result.stdout, re.M)
    assert "GDB's own conditional breakpoint" in result.stdout


@pytest.mark.parametrize("tier", ["kernel", "ptrace"])
def test_hits_the_ignore_count_skipped_are_not_reported_at_a_later_stop(kernel_tier, loop, tier):
    result = run_gdb(loop, [f"set hbreak-if tier {tier}", "hbreak-if target i >= 0",
                            "ignore 2 5", "tbreak loop.c:47", "run"], args=["2"]).check()
    assert "Temporary breakpoint 3, main" in result.stdout
    assert "hbreak-if 2," not in result.stdout


@pytest.mark.parametrize("command,message", [
    ("hbreak-if", "a location is needed"),
    ("hbreak-if target i ==", "A syntax error in expression"),
    ("hbreak-if target no_such_variable == 1", 'No symbol "no_such_variable" in current context.'),
    ("hbreak-if -ignore x target i == 1", "-ignore takes a number, not 'x'"),
    ("hbreak-if -thread 99 target i == 1", "Unknown thread 99."),
    ("hbreak-if target (i == 1", "A syntax error in expression"),
    ("hbreak-if target(int i == 1", "unbalanced bracket"),
])
def test_bad_input_is_one_error_and_leaves_nothing(loop, command, message):
    result = run_gdb(loop, ["break main", "run", command, "info hbreak-if", "info breakpoints"])
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert "No hbreak-if breakpoints." in result.stdout
    assert "catchpoint" not in result.stdout


@pytest.mark.parametrize("count", [5, 8])
def test_more_breakpoints_than_debug_registers_move_to_uprobes(kernel_tier, count):
    # A copy of its own: uprobes are held back from a file another debugged process runs.
    loop = build("loop", "-O0", [f"-DCOPY={count}"])
    values = [10 * (k + 1) for k in range(count)]
    result = run_gdb(loop, [*[f"hbreak-if target i == {v}" for v in values], "run",
                            *["continue"] * count, "info hbreak-if"], args=["100"]).check(allow_errors=True)
    stops = [int(i) for _, i in re.findall(r"^hbreak-if (\d+), target \(i=(\d+)\)", result.stdout, re.M)]
    assert stops == values
    assert "exited normally" in result.stdout
    # x86 has four debug registers: the rest say why they moved, and where: to GDB's int3,
    # whose hits uprobes filter in the kernel (Linux 6.6+), else GDB.
    assert result.stderr.count("no free hardware debug register") == count - 4, result.stderr
    if uprobe.problem() is None:
        moved, message = "uprobe", (f"moves from the {kernel_tier.tier} tier to the uprobe tier: "
                                    "GDB's software breakpoint, whose hits a uprobe decides")
    else:
        moved, message = "ptrace", (f"falls back from the {kernel_tier.tier} tier to the ptrace "
                                    "tier: GDB's own conditional breakpoint, a software breakpoint")
    assert result.stderr.count(message) == count - 4, result.stderr
    tiers = re.findall(r"^\d+\s+y\s+(\S+)", result.stdout, re.M)
    assert tiers == [kernel_tier.tier] * 4 + [moved] * (count - 4)
    assert "Traceback" not in result.output


def test_condition_changes_with_gdbs_condition_command(kernel_tier, loop):
    result = run_gdb(loop, ["hbreak-if target i == 5", "condition -force 2 i == 7", "run",
                            "print i", "condition 2 i == 9", "continue", "print i",
                            "condition 2 i == no_such_thing", "info hbreak-if"]).check(allow_errors=True)
    assert result.values() == {1: "7", 2: "9"}
    # GDB itself refuses a condition that does not parse where the program is stopped.
    assert 'No symbol "no_such_thing" in current context.' in result.stderr
    assert re.search(r"^\s+condition: i == 9$", result.stdout, re.M)
    assert "Traceback" not in result.output


def test_partial_compilation_is_explained_and_gdb_decides_the_rest(kernel_tier, loop):
    result = run_gdb(loop, ["break main", "run",
                            "hbreak-if target i > 100 && g_cur->name[0] == 99.0",
                            "info hbreak-if", "continue", "print i"], args=["1000"]).check()
    # 99.0 is a floating-point number, which the kernel does not compare.
    assert re.search(r"hbreak-if 3: .*g_cur->name\[0\] == 99\.0.*GDB evaluates it", result.stdout)
    assert result.values()[1] == "114"  # the first i > 100 with i % 16 == 2


