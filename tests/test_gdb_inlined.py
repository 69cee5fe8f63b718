"""Inlined functions: an hbreak-if on a function inlined at 1, 2, 4 and 6 call sites, at -O2
and -O3, in C and in a C++ template member, stops where GDB's own `break LOCATION if CONDITION`
stops, in the inlined function's frame: the same frame, `bt` and `info frame` at every stop.

Conditions read the inlined function's parameter and its caller's variables (GDB refuses
those at an inlined location, for its own breakpoint as for hbreak-if).  Six call sites are more
than x86's four debug registers: the two locations without one are GDB's int3, the four others
stay in the kernel.
"""
import re

import pytest

from harness.gdb import run_gdb
from harness.programs import build

N = 40
CONDITIONS = ["v == 30", "i == 30", "v > 20 && local % 7 == 1"]

# At each stop: where it is (the report, whoever made it), then GDB's own account of the frame.
DRIVER = r"""python
while gdb.selected_inferior().pid:
    gdb.execute("bt")
    gdb.execute("info frame")
    gdb.execute("continue")
end"""

_REPORT = re.compile(r"^(?:Breakpoint|hbreak-if) [\d.]+, ((?:0x[0-9a-f]+ in )?([\w:<>]+) .*)$")
_NOISE = re.compile(r"^(?:Breakpoint \d+ at |hbreak-if \d+(?: at |: )|\(\d[\d,]* hits? filtered|"
                    r"\[Thread debugging|Using host libthread_db|\[Inferior 1 )")


def _transcript(stdout: str):
    """The stops as GDB's own commands show them, each report without whose it is."""
    kept = []
    for line in stdout.splitlines():
        report = _REPORT.match(line)
        if report:
            kept += [f"STOP in {report.group(2)}", report.group(1)]
        elif line.strip() and not _NOISE.match(line) and not re.match(r"^\d+\t", line):
            kept.append(line)
    return kept


def _session(program, set_command):
    result = run_gdb(program, [set_command, "run", DRIVER], args=[N], timeout=300)
    result.check(allow_errors=True)
    return result


@pytest.mark.parametrize("opt", ["-O2", "-O3"])
@pytest.mark.parametrize("sites", [1, 2, 4, 6])
def test_stops_in_the_inlined_frame_as_gdbs_own_breakpoint(kernel_tier, sites, opt):
    program = build("inlined", opt, extra=(f"-DSITES={sites}",))
    for condition in CONDITIONS:
        expected = _session(program, f"break note if {condition}")
        got = _session(program, f"hbreak-if note {condition}")
        assert "Error in testing" not in got.output, got
        ours = _transcript(got.stdout)
        assert ours == _transcript(expected.stdout), got
        if condition == "v == 30":  # sites 1, 2 and 6: at i == 30, 15 and 27
            assert ours.count("STOP in note") == {1: 1, 2: 2, 4: 2, 6: 3}[sites], got
            assert "inlined into frame 1" in got.stdout
            assert f"[{kernel_tier.tier} tier]" in got.stdout, got


def test_a_template_member_inlined_in_cpp(kernel_tier):
    program = build("inlined_member", "-O2")
    for condition in ["value == 60", "value > 40 && scale == 3"]:
        expected = _session(program, f"break Counter<long>::add if {condition}")
        got = _session(program, f"hbreak-if Counter<long>::add {condition}")
        ours = _transcript(got.stdout)
        assert ours == _transcript(expected.stdout), got
        if condition == "value == 60":  # twice(30) and thrice(20)
            assert ours.count("STOP in Counter<long>::add") == 2, got
            assert "inlined into frame 1" in got.stdout


def test_locations_without_a_debug_register_leave_the_others_in_the_kernel(kernel_tier):
    program = build("inlined", "-O2", extra=("-DSITES=6",))
    result = run_gdb(program, ["hbreak-if note v == 30", "run", "continue", "continue",
                               "continue", "info hbreak-if"], args=[N]).check(allow_errors=True)
    assert result.stderr.count("no free hardware debug register") == 2, result.stderr
    assert result.stderr.count("its other locations stay in the kernel tier") == 2
    # Every call reached a location (6 x 40), in the kernel or at GDB's int3; three stopped.
    assert re.search(rf"^2\s+y\s+{kernel_tier.tier}\s+240\s+3\s", result.stdout, re.M), result
    int3 = re.search(r"GDB's software breakpoint at: (0x[0-9a-f]+), (0x[0-9a-f]+) ", result.stdout)
    assert int3, result.stdout
    assert [int(v) for v in re.findall(r"^hbreak-if 2, note \(v=(?:v@entry=)?(\d+)\)", result.stdout,
                                       re.M)] == [30, 30, 30]
