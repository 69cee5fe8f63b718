"""No live process, nothing armed: a core file names the pids of the process it was taken from,
which may still run and is not this GDB's to touch; `run` and `attach` then arm as usual."""
import re
import subprocess

import pytest

from harness.gdb import run_gdb
from harness.processes import end
from harness.programs import build
from test_gdb_lifecycle import hits
from test_gdb_remote import PRINT_PERF_EVENTS

CONDITION = "i % 1000 == 7"


@pytest.fixture
def running(tmp_path):
    """A program calling target() without end, and a core taken from it while it runs."""
    survivor = build("survivor")
    program = subprocess.Popen([survivor, "100000000000", tmp_path / "out"])
    core = tmp_path / "core"
    run_gdb(None, [f"attach {program.pid}", f"gcore {core}", "detach"], plugin=False).check()
    yield survivor, program, core
    end(program)


def _state(pid):
    with open(f"/proc/{pid}/status") as status:
        return dict(re.findall(r"^(\w+):\s+(.*)$", status.read(), re.M))


def test_a_core_of_a_running_process_leaves_it_alone_then_run_arms(kernel_tier, running, tmp_path):
    survivor, program, core = running
    result = run_gdb(survivor, [f"core-file {core}", f"hbreak-if target {CONDITION}",
                                "info hbreak-if", PRINT_PERF_EVENTS,
                                f"run 3000 {tmp_path / 'out'}", "print i", "info hbreak-if"]
                     ).check(allow_errors=True)
    assert "Traceback" not in result.output
    before_run = result.stdout.split("perf events")[0]
    assert "hbreak-if 2: no live process (a core file): armed when the program runs." in before_run
    assert re.search(r"^2\s+y\s+kernel\s+0\s+0\s+0\s+target", before_run, re.M), result
    assert "armed: not yet, no live process (a core file)" in before_run
    assert "perf events 0" in result.stdout
    state = _state(program.pid)
    assert state["State"][0] in "RS" and int(state["SigPnd"], 16) == int(state["ShdPnd"], 16) == 0
    # `run` from the core session starts a new process, armed as usual.
    assert hits(result.stdout) == [(2, "target", "i=7")]
    assert "(7 hits filtered in the kernel)" in result.stdout
    assert re.search(r"^2\s+y\s+kernel\s+8\s+1\s+1\s+target", result.stdout, re.M), result


def test_a_core_of_an_exited_process(kernel_tier, running):
    survivor, program, core = running
    end(program)
    result = run_gdb(survivor, [f"core-file {core}", f"hbreak-if target {CONDITION}",
                                PRINT_PERF_EVENTS]).check(allow_errors=True)
    assert "no live process (a core file)" in result.stdout
    assert "perf events 0" in result.stdout and "Traceback" not in result.output


def test_a_program_not_started_yet(kernel_tier):
    result = run_gdb(build("loop"), [f"hbreak-if target {CONDITION}", "info hbreak-if",
                                     "run", "print i"], args=["100"]).check()
    assert "hbreak-if 2: no live process: armed when the program runs." in result.stdout
    assert "armed: not yet, no live process" in result.stdout
    assert hits(result.stdout) == [(2, "target", "i=7")]


def test_attach_after_a_core_session(kernel_tier, running, tmp_path):
    survivor, program, core = running
    waiting = subprocess.Popen([survivor, "3000", tmp_path / "attached-out", "wait"])
    try:
        result = run_gdb(survivor, [f"core-file {core}", f"hbreak-if target {CONDITION}",
                                    f"attach {waiting.pid}", "set var go = 1", "continue",
                                    "print i", "detach"]).check(allow_errors=True)
        assert hits(result.stdout) == [(2, "target", "i=7")]
        assert "(7 hits filtered in the kernel)" in result.stdout
        assert waiting.wait(timeout=60) == 0
    finally:
        end(waiting)
    assert (tmp_path / "attached-out").read_text() == "finished 3000\n"
    state = _state(program.pid)
    assert state["State"][0] in "RS" and int(state["SigPnd"], 16) == 0
