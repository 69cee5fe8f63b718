"""Many threads, several breakpoints, few file descriptors: every stop GDB's own conditional
breakpoint makes, whatever the kernel refuses.

The program is tests/programs/many_threads.c: N threads call target(tid, i) CALLS times once
all_started() has returned, where the breakpoints are set.
"""
import re

import pytest

from harness.gdb import run_gdb
from harness.processes import PERF_EVENTS_HELD
from harness.programs import build

STOP = re.compile(r"^STOP (\d+) (\d+)$", re.M)


def on_each_stop(number):
    return f'commands {number}\nsilent\nprintf "STOP %d %d\\n", tid, i\ncontinue\nend'


def limit_descriptors_to(spare):
    """From here on GDB may open only `spare` more file descriptors (soft and hard limit)."""
    return ("python import os, resource; open_now = len(os.listdir('/proc/self/fd')) - 1; "
            f"resource.setrlimit(resource.RLIMIT_NOFILE, (open_now + {spare}, open_now + {spare}))")




def gdb_stops(binary, args, condition):
    result = run_gdb(binary, ["break all_started", "run", f"break target if {condition}",
                              on_each_stop(2), "continue"], args=args).check()
    return [tuple(map(int, stop)) for stop in STOP.findall(result.stdout)]


def test_a_breakpoint_after_one_that_ran_out_of_descriptors_still_stops(kernel_tier):
    # 33 threads: the first breakpoint takes 33 descriptors and its program one (the
    # kernel-signal tier's mailbox one more); the second runs out midway, after about 10
    # threads. The third used to keep its tier with no event at all, since each pass of the
    # arming stopped at the second's refusal, and its stop was lost.
    program, args = build("many_threads"), ["32", "10"]
    result = run_gdb(program, ["break all_started", "run", limit_descriptors_to(34 + 10),
                               "hbreak-if target tid == 9999", "hbreak-if target tid == 600",
                               "hbreak-if target tid == 5 && i == 3", on_each_stop(5),
                               "continue", "info hbreak-if"], args=args).check(allow_errors=True)
    assert [tuple(map(int, stop)) for stop in STOP.findall(result.stdout)] \
        == gdb_stops(program, args, "tid == 5 && i == 3") == [(5, 3)]
    assert "exited normally" in result.stdout
    assert re.findall(r"^\d+\s+y\s+(\S+)", result.stdout, re.M) \
        == [kernel_tier.tier, "ptrace", "ptrace"]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    if kernel_tier.tier == "ptrace":  # GDB's own breakpoints: no descriptor taken
        assert warnings == [], result.stderr
        return
    # Each breakpoint that ran out says so once, and GDB decides all its hits from then on.
    assert [(w.split(":")[1], "out of file descriptors" in w) for w in warnings] \
        == [(" hbreak-if 4", True), (" hbreak-if 5", True)], result.stderr
    assert result.stderr.count(f"falls back from the {kernel_tier.tier} tier to the ptrace tier: "
                               "GDB's own conditional breakpoint, a software breakpoint.") == 2


def test_512_threads_and_three_breakpoints_within_a_desktop_limit_of_1024_descriptors(kernel_tier):
    # The case: a soft limit of 1,024 (what most desktops give) and three breakpoints on
    # 513 threads, 1,539 events. GDB raises its soft limit to the hard one, so all three stay in
    # the kernel and the one stop is GDB's own break-if's (which takes it 50 s to find here).
    if kernel_tier.tier == "ptrace":
        pytest.skip("in the ptrace tier each of the 512,000 hits stops in GDB, as with break-if")
    program = build("many_threads")
    result = run_gdb(program, ["break all_started", "run", "hbreak-if target tid == 9999",
                               "hbreak-if target tid == 600",
                               "hbreak-if target tid == 100 && i == 500", "info hbreak-if",
                               "continue", "print tid", "print i", "print $_hbreak_if",
                               "continue"],
                     args=["512", "1000"], prefix=["prlimit", "--nofile=1024:4096"]).check()
    assert re.findall(r"^hbreak-if 5, target \(tid=100, i=500\) at .*many_threads\.c:\d+$",
                      result.stdout, re.M), result.stdout
    assert result.values() == {1: "100", 2: "500", 3: "5"}
    assert "exited normally" in result.stdout
    assert not result.stderr.strip(), result.stderr
    tiers = re.findall(r"^(\d+)\s+y\s+(\S+)\s+[\d,]+\s+\d+\s+(\d+)", result.stdout, re.M)
    assert tiers == [(n, kernel_tier.tier, "513") for n in ("3", "4", "5")]


def test_threads_created_after_arming_take_no_descriptor_and_stop_at_their_first_call(kernel_tier):
    # 3 threads when the breakpoint is set, 200 created afterwards, with room for 40 more
    # descriptors: the new threads get copies of the events of the threads that create them.
    program, args = build("many_threads"), ["2", "5", "200"]
    result = run_gdb(program, ["break all_started", "run", limit_descriptors_to(40),
                               "hbreak-if target tid == 150 && i == 0", PERF_EVENTS_HELD,
                               'commands 3\nsilent\nprintf "STOP %d %d\\n", tid, i\n'
                               "python print('PERF', perf_events_held())\ncontinue\nend",
                               "continue"], args=args).check()
    assert [tuple(map(int, stop)) for stop in STOP.findall(result.stdout)] \
        == gdb_stops(program, args, "tid == 150 && i == 0") == [(150, 0)]
    # One event a thread that existed; none in the ptrace tier, GDB's own breakpoint.
    held = "0" if kernel_tier.tier == "ptrace" else "3"
    assert re.findall(r"^PERF (\d+)$", result.stdout, re.M) == [held]
    assert "exited normally" in result.stdout
    assert "warning" not in result.stderr, result.stderr


def test_gdb_raises_its_limit_of_open_files_and_the_program_it_starts_keeps_the_original():
    result = run_gdb(build("many_threads"), [
        "python import resource; print('GDB', *resource.getrlimit(resource.RLIMIT_NOFILE))",
        "break main", "run",
        "python print('PROGRAM', *resource.prlimit(gdb.selected_inferior().pid, "
        "resource.RLIMIT_NOFILE))"], args=["1", "1"], prefix=["prlimit", "--nofile=1024:4096"])
    result.check()
    assert re.findall(r"^(GDB|PROGRAM) (\d+) (\d+)$", result.stdout, re.M) \
        == [("GDB", "4096", "4096"), ("PROGRAM", "1024", "4096")]
