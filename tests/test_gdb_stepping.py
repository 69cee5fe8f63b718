"""Stepping onto and over an hbreak-if: the same stops and the same pcs as GDB's own
`hbreak LOCATION if CONDITION`, in every tier.

At loop.c's call `sink += target(i)` with i == 3, each command below is followed by a line
naming the pc; a breakpoint report is reduced to `HIT target i=N`, whoever made it.
"""
import re

import pytest

from harness.gdb import run_gdb
from harness.programs import build

CALL_LINE = 45   # loop.c: `sink += target(i);`
TIERS = ["kernel", "kernel-signal", "ptrace", "uprobe"]


@pytest.fixture(scope="module")
def loop():
    return build("loop")


def _session(binary, set_command, steps, setup=()):
    commands = [*setup, "break main", "run", set_command, f"tbreak loop.c:{CALL_LINE} if i == 3",
                "continue"]
    for step in steps:
        commands += [step, 'printf "PC %#lx\\n", $pc']
    commands.append("continue")
    result = run_gdb(binary, commands, args=["6"]).check()
    transcript = []
    for line in result.stdout.splitlines():
        hit = re.match(r"^(?:Breakpoint|hbreak-if) \d+, target \(i=(?:i@entry=)?(\d+)\)", line)
        if hit:
            transcript.append(f"HIT target i={hit.group(1)}")
        elif line.startswith("PC "):
            transcript.append(line)
        elif "exited normally" in line:
            transcript.append("exited normally")
    return transcript, result


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("condition,steps", [
    ("i == 3", ["stepi"] * 8),        # land on target by single steps, then step on from it
    ("i == 3", ["step", "stepi", "next"]),
    ("i == 3", ["next"]),             # stops inside the call it steps over
    ("i == 4", ["stepi"] * 8),        # a landing where the condition is false: no report
    ("i == 4", ["next", "next"]),
])
def test_stepping_stops_like_gdbs_own_breakpoint(kernel_tier, loop, tier, condition, steps):
    expected, _ = _session(loop, f"hbreak target if {condition}", steps)
    got, result = _session(loop, f"hbreak-if target {condition}", steps,
                           setup=[f"set hbreak-if tier {tier}"])
    assert f"[{tier} tier]" in result.stdout
    assert any(line.startswith("HIT") for line in expected)
    assert got == expected, result.output


def test_a_landing_counts_as_a_hit_of_the_breakpoint(kernel_tier, loop):
    _, result = _session(loop, "hbreak-if target i == 3", ["stepi"] * 8 + ["info hbreak-if"])
    assert "(3 hits filtered in the kernel)" in result.stdout
    # i = 0..3 have reached target: three in the kernel, and the landing.
    assert re.search(r"^3\s+y\s+kernel\s+4\s+1\s+1\s+target at", result.stdout, re.M), result.stdout
