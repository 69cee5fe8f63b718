"""hbreak-if through a program's whole life under GDB: threads, libraries, exec, fork, run
again, detach, attach, quit, kill."""
import re
import subprocess

import pytest

from harness.gdb import run_gdb
from harness.processes import end, wait_for_exit
from harness.programs import build, build_shared

HIT = re.compile(r"^hbreak-if (\d+), (?:0x[0-9a-f]+ in )?(\w+) \((.*?)\) at", re.M)


def hits(stdout):
    """[(breakpoint number, function, arguments)] for each hbreak-if stop, in order."""
    return [(int(n), fn, args) for n, fn, args in HIT.findall(stdout)]


def test_four_threads_each_armed_and_the_stop_is_in_the_right_thread(kernel_tier):
    threads = build("threads")
    result = run_gdb(threads, ["hbreak-if work tid == 2 && i == 300", "run",
                               "print tid", "print i", "info threads", "continue",
                               "info hbreak-if"], args=["1000"]).check()
    assert hits(result.stdout) == [(2, "work", "tid=2, i=300")], result
    assert result.values() == {1: "2", 2: "300"}
    # The stopped thread is the one GDB selected, and it is running work().
    assert re.search(r"^\* \d+\s+Thread .* work \(tid=2, i=300\)", result.stdout, re.M)
    # Every call in every thread was seen by the kernel, a few twice at most: a thread that ran
    # into the int3 of the stop just as it went out runs the call again (README, known
    # differences).
    seen = re.search(r"^2\s+y\s+kernel\s+([\d,]+)\s+1\s+0\s+work", result.stdout, re.M)
    assert seen and 4000 <= int(seen.group(1).replace(",", "")) <= 4004, result.stdout
    assert "exited normally" in result.stdout


def test_a_thread_left_running_by_a_main_thread_that_exited_is_armed(kernel_tier):
    # The process's /proc/PID/maps is empty once its main thread has exited: the location
    # looked unmapped, and the breakpoint was never armed.
    result = run_gdb(build("leader_exits"), ["break ready", "run", "hbreak-if target i == 50",
                                             "continue", "print i", "continue"]).check()
    assert hits(result.stdout) == [(3, "target", "i=50")], result
    assert result.values() == {1: "50"}
    assert "exited normally" in result.stdout


def test_pending_location_in_a_library_loaded_later(kernel_tier):
    lib = build_shared("lib")
    shlib = build("shlib")
    result = run_gdb(shlib, ["hbreak-if lib_target i == 777", "run", "print i", "info hbreak-if",
                             "continue"], args=[lib, "1000"]).check(allow_errors=True)
    assert "pending" in result.stdout
    assert hits(result.stdout) == [(2, "lib_target", "i=777")]
    assert "exited normally" in result.stdout


def test_exec_rearms_on_the_new_image(kernel_tier):
    execer = build("execer")
    result = run_gdb(execer, ["hbreak-if target i == 1", "run", "print g_phase", "continue",
                              "print g_phase", "continue"], args=["5"]).check()
    assert hits(result.stdout) == [(2, "target", "i=1"), (2, "target", "i=1")]
    assert [result.values()[1], result.values()[2]] == ["0", "1"]
    assert "exited normally" in result.stdout


@pytest.mark.parametrize("mode,child_value", [("parent", "0"), ("child", "1")])
def test_fork_follows_the_right_process_and_the_other_survives(kernel_tier, mode, child_value,
                                                              tmp_path):
    forker = build("forker")
    out = tmp_path / "out"
    # The first call matches: a process left armed would die of it at once.
    result = run_gdb(forker, [f"set follow-fork-mode {mode}", "hbreak-if target i == 0", "run",
                              "print g_child", "continue"], args=["10", out]).check()
    assert hits(result.stdout) == [(2, "target", "i=0")]
    assert result.values()[1] == child_value
    assert "exited normally" in result.stdout
    # The parent waits for the child, and writes only if it exited 0: neither was harmed.
    if mode == "child":
        wait_for_exit(_detached_parent(result.stdout))
    assert out.read_text() == "parent finished\n"


def _detached_parent(stdout: str) -> int:
    return int(re.search(r"Detaching after fork from parent process (\d+)", stdout).group(1))


def test_run_twice_stops_in_each_run(kernel_tier):
    loop = build("loop")
    result = run_gdb(loop, ["hbreak-if target i == 42", "run", "print i", "run", "print i",
                            "info hbreak-if"], args=["100"]).check()
    assert hits(result.stdout) == [(2, "target", "i=42")] * 2
    assert re.search(r"^2\s+y\s+kernel\s+\S+\s+2\s+1\s", result.stdout, re.M), result.stdout


def test_detach_while_armed_lets_the_program_finish(kernel_tier, tmp_path):
    survivor = build("survivor")
    out = tmp_path / "out"
    result = run_gdb(survivor, ["hbreak-if target i == 1000", "run", "detach"],
                     args=["3000000", out]).check()
    wait_for_exit(int(re.search(r"process (\d+)\) detached", result.stdout).group(1)))
    assert out.read_text() == "finished 3000000\n"


def test_attach_and_quit_while_armed_lets_the_program_finish(kernel_tier, tmp_path):
    survivor = build("survivor")
    out = tmp_path / "out"
    program = subprocess.Popen([survivor, "3000000", out, "wait"])
    try:
        result = run_gdb(None, [f"attach {program.pid}", "hbreak-if target i == 1000",
                                "set var go = 1", "continue", "print i", "quit"])
        assert "Traceback" not in result.output and "warning: hbreak-if" not in result.output
        assert hits(result.stdout) == [(2, "target", "i=1000")]
        assert program.wait(timeout=60) == 0
    finally:
        end(program)
    assert out.read_text() == "finished 3000000\n"


def test_kill_then_run_again(kernel_tier):
    loop = build("loop")
    result = run_gdb(loop, ["hbreak-if target i == 3", "run", "kill", "info hbreak-if", "run",
                            "print i"], args=["10"]).check()
    assert hits(result.stdout) == [(2, "target", "i=3")] * 2
    assert result.values()[1] == "3"


def test_thread_specific_breakpoint_stops_only_in_its_thread(kernel_tier):
    threads = build("threads")
    result = run_gdb(threads, [
        "break work if i == 0", "run", "info threads", "delete 1",
        # Every worker thread exists now; the one GDB selected is stopped in work().
        "python gdb.set_convenience_variable('chosen', gdb.selected_thread().num)",
        "python gdb.set_convenience_variable('tid', int(gdb.parse_and_eval('tid')))",
        "eval \"hbreak-if -thread %d work i == 700\", $chosen",
        "continue", "print tid == $tid", "print i", "print $_thread == $chosen", "continue",
    ], args=["1000"]).check()
    assert len(hits(result.stdout)) == 1
    assert result.values() == {1: "1", 2: "700", 3: "1"}
    # Only its thread is armed; GDB steps it over the location it stopped at (i == 0), as over
    # its own breakpoint there.
    assert "(699 hits filtered in the kernel)" in result.stdout
    assert "exited normally" in result.stdout
