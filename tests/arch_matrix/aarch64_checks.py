"""What holds on an AArch64 machine only, run there by row.py (pytest collects this file only
when it is named, so the x86-64 suite has no skip for it)."""
import re

from harness.gdb import run_gdb
from harness.programs import build


def test_on_aarch64_an_hwatch_if_is_gdbs_own_watchpoint_and_stops_as_it():
    loop = build("loop")
    each_stop = 'commands\nsilent\nprintf "STOP %d\\n", g_counter\ncontinue\nend'
    stops = []
    for set_command in ("watch -location g_counter if g_counter % 50 == 7",
                        "hwatch-if g_counter g_counter % 50 == 7"):
        result = run_gdb(loop, ["break main", "run", set_command, each_stop, "continue"],
                         args=["200"]).check()
        stops.append(re.findall(r"^STOP (\d+)$", result.stdout, re.M))
    assert "the kernel of this machine cannot watch the program (on AArch64" in result.stdout
    assert stops[1] == stops[0] == ["7", "57", "107", "157"]


def test_on_aarch64_the_kernel_tiers_stop_where_gdb_does_and_lose_no_later_hit():
    # The kernel's pending step over each hit is settled at each stop: were the thread's
    # breakpoints and watchpoints left suspended, later hits would be lost, and those of GDB's
    # own hardware watchpoint with them.
    loop = build("loop")
    stops = []
    for set_command in ("break target if i % 50 == 7", "hbreak-if target i % 50 == 7"):
        result = run_gdb(loop, [
            "break main", "run", set_command,
            'commands\nsilent\nprintf "STOP %d\\n", i\ncontinue\nend',
            "watch g_counter if g_counter == 398",
            'commands\nsilent\nprintf "HW %d\\n", g_counter\ncontinue\nend',
            "continue", "info hbreak-if"], args=["400"], timeout=900).check()
        stops.append(re.findall(r"^(STOP|HW) (\d+)$", result.stdout, re.M))
    assert stops[0] == [("STOP", str(i)) for i in range(7, 400, 50) if i < 398] + [
        ("HW", "398")]
    assert stops[1] == stops[0], result.stdout
    assert re.search(r"^\d+\s+y\s+kernel(-signal)?\s+400\s+8\s", result.stdout, re.M), \
        result.stdout


def test_on_aarch64_a_stepi_from_a_kernel_tier_stop_steps_one_instruction():
    loop = build("loop")
    result = run_gdb(loop, ["hbreak-if target i == 5", "run", "print $pc", "stepi",
                            "print $pc", "continue"], args=["10"], timeout=600).check()
    before, after = (int(v.split()[-1], 16) for v in re.findall(r"^\$\d+ = \(void \(\*\)\(\)\) "
                                                                r"(0x[0-9a-f]+)", result.stdout,
                                                                re.M))
    assert after == before + 4, result.stdout
    assert "exited normally" in result.stdout


def test_on_aarch64_a_second_thread_hands_the_breakpoint_to_gdb_and_it_stops_as_gdb_does():
    # GDB stops every thread with SIGSTOP, also inside the kernel's step over a hit, and
    # resumes some without the plugin seeing it: their breakpoints would stay suspended.
    threads = build("threads")
    each = 'commands\nsilent\nprintf "STOP %d %d\\n", tid, i\ncontinue\nend'
    stops = []
    for set_command in ("break work if i % 40 == 3", "hbreak-if work i % 40 == 3"):
        # The fallback's second line is not a warning: the stops say the rest.
        result = run_gdb(threads, [set_command, each, "run"], args=["200"],
                         timeout=900).check(allow_errors=True)
        stops.append(sorted(re.findall(r"^STOP (\d+ \d+)$", result.stdout, re.M)))
    assert len(stops[0]) == 4 * 5
    assert stops[1] == stops[0]
    assert "the kernel tiers serve single-threaded processes only" in result.stderr
    assert re.search(r"falls back from the kernel(-signal)? tier to the ptrace tier",
                     result.stderr)
