"""`hwatch-if`: conditional hardware watchpoints filtered in the kernel, against GDB's own
`watch -location EXPR if COND` on the same program."""
import re

import pytest

from harness.gdb import run_gdb
from harness.programs import build

# g_counter counts the calls so far: in scope wherever the access happens.
EACH_STOP = 'commands\nsilent\nprintf "STOP %d\\n", g_counter\ncontinue\nend'


def _stops(loop, set_command):
    result = run_gdb(loop, ["break main", "run", set_command, EACH_STOP, "continue"],
                     args=["400"]).check()
    return [int(v) for v in re.findall(r"^STOP (-?\d+)$", result.stdout, re.M)], result


@pytest.mark.parametrize("tier", ["kernel", "kernel-signal"])
@pytest.mark.parametrize("expression,condition,gdb_condition", [
    ("g_counter", "g_counter % 50 == 7", "g_counter % 50 == 7"),
    ("g_counter", "$new > 300 && eax != 12345", "g_counter > 300 && $eax != 12345"),
    ("items[3].big", "$new < -200", "items[3].big < -200"),
    ("g_unsigned", "$new < 100000000", "g_unsigned < 100000000"),
    ("items[5].s", "$old > -1000", "1"),   # written once, in main's setup loop
])
def test_same_stops_as_gdb_watch(kernel_tier, tier, expression, condition, gdb_condition):
    loop = build("loop")
    expected, _ = _stops(loop, f"watch -location {expression} if {gdb_condition}")
    got, result = _stops(loop, f"set hbreak-if tier {tier}\nhwatch-if {expression} {condition}")
    assert f"[{tier} tier]" in result.stdout
    assert got == expected


def test_report_shows_old_and_new_values_like_gdb(kernel_tier):
    loop = build("loop")
    commands = ["break main", "run", "delete 1", "{} g_counter if g_counter == 42", "continue"]
    ours = run_gdb(loop, [c.format("hwatch-if") for c in commands]).check().stdout
    gdbs = run_gdb(loop, [c.format("watch -location") for c in commands]).check().stdout
    values = "\n\nOld value = 41\nNew value = 42\ntarget (i=41) at "
    assert re.search(r"^hwatch-if 2: g_counter" + re.escape(values), ours, re.M), ours
    assert re.search(r"^Hardware watchpoint 2: -location g_counter" + re.escape(values), gdbs, re.M)


@pytest.mark.parametrize("ours,gdbs", [("hwatch-if -a", "awatch -location"),
                                       ("hwatch-if -r", "rwatch -location")])
def test_read_and_access_stops_and_reports_are_gdbs(kernel_tier, ours, gdbs):
    """g_counter++ reads then writes: an access watch reports the change, and the read of the
    next call the value; a read watch only the reads."""
    loop = build("loop")
    commands = ["break main", "run", "delete 1", "{} g_counter if g_counter == 300", "continue",
                "print i", "continue", "print i", "echo done\\n"]
    mine = run_gdb(loop, [c.format(ours) for c in commands], args=["400"]).check(
        allow_errors=True)  # a read watch stops once: the last `print i` has no frame
    theirs = run_gdb(loop, [c.format(gdbs) for c in commands], args=["400"]).check(
        allow_errors=True)
    assert mine.values() == theirs.values(), (mine, theirs)
    values = re.compile(r"^(Old value = \d+\nNew value = \d+|Value = \d+)$", re.M)
    assert values.findall(mine.stdout) == values.findall(theirs.stdout), (mine, theirs)
    assert values.findall(mine.stdout), mine


@pytest.mark.parametrize("kind", ["", "-a "])
def test_a_step_over_a_matching_write_stops_as_gdbs_watchpoint_does(kernel_tier, kind):
    """`next` single-steps the write: its trap and the hit's are one SIGTRAP, the step's."""
    loop = build("loop")
    watch = {"": "watch -location", "-a ": "awatch -location"}[kind]
    commands = ["break main", "run", "delete 1", "{} g_counter if g_counter == 300",
                "break target if i == 299", "continue", "next", "print i", "print $pc", "next",
                "print $pc"]
    mine = run_gdb(loop, [c.format(f"hwatch-if {kind}") for c in commands]).check()
    theirs = run_gdb(loop, [c.format(watch) for c in commands]).check()
    assert mine.values() == theirs.values(), (mine, theirs)
    assert "Old value = 299\nNew value = 300\n" in mine.stdout, mine


@pytest.mark.parametrize("command,message", [
    ("hwatch-if g_counter", "The program is not being run"),
])
def test_needs_a_running_program(kernel_tier, command, message):
    result = run_gdb(build("loop"), [command, "info hbreak-if"])
    assert message in result.stderr
    assert "No hbreak-if breakpoints." in result.stdout


@pytest.mark.parametrize("command,message", [
    ("hwatch-if items[1] $new", "watches a number or a pointer"),
    ("hwatch-if items[1].name[1] 1", ""),   # a char: 1 byte, allowed
    ("hwatch-if *(int *)((char *)&g_counter + 1) 1", "aligned to their size"),
    ("hwatch-if 5 1", "not in memory"),
    ("hwatch-if g_counter i == 3", "not locals"),
    ("hwatch-if g_counter no_such == 3", 'No symbol "no_such" in current context.'),
])
def test_bad_watch_expressions_are_refused_clearly(kernel_tier, command, message):
    result = run_gdb(build("loop"), ["break target", "run", command, "info hbreak-if"])
    assert "Traceback" not in result.output
    if message:
        assert message in result.stderr
        assert "No hbreak-if breakpoints." in result.stdout
    else:
        assert not result.errors()
        assert "1 bytes at" in result.stdout
