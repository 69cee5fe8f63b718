"""GDB here, gdbserver and the agent on another machine with another kernel: the kernel
matrix's qemu guest (Debian 12's 6.1, without the suppression of 6.10), reached through the
ports qemu forwards. tests/kernel_matrix/run.sh starts them there and sets
HBREAK_IF_GUEST=GDBSERVER_PORT,AGENT_PORT and HBREAK_IF_EXPECT_TIER (the guest kernel's
tier); the matrix requires these tests to run and pass. Elsewhere they are skipped."""
import os
import re
from pathlib import Path

import pytest

from harness.gdb import run_gdb
from harness.programs import build
from harness.stops import stops
from test_gdb_lifecycle import hits

GUEST = os.environ.get("HBREAK_IF_GUEST")
pytestmark = pytest.mark.skipif(
    not GUEST, reason="needs the kernel matrix's guest (tests/kernel_matrix/run.sh)")
REPO = Path(__file__).resolve().parent.parent
N = 3000


def _connect(program, agent=True):
    gdbserver_port, agent_port = GUEST.split(",")
    setup = [f"target extended-remote 127.0.0.1:{gdbserver_port}",
             f"set remote exec-file {program}"]
    if agent:
        setup.append(f"set hbreak-if remote-agent env PYTHONPATH={REPO} /usr/bin/python3 -m "
                     f"gdb_plugin.agent --connect 127.0.0.1:{agent_port}")
    return setup


def _tier():
    return f"remote-{os.environ.get('HBREAK_IF_EXPECT_TIER', 'kernel')}"


def _checked(result):
    assert result.returncode == 0, str(result)
    assert "Traceback" not in result.output and "warning: hbreak-if" not in result.output, result
    return result


@pytest.mark.parametrize("condition", ["i % 700 == 3", "g_cur->s < -1000 && i > 2900"])
def test_same_stops_as_gdb_conditional_breakpoint_through_the_agent(condition):
    loop = build("loop")
    ours, result = stops(loop, f"hbreak-if target {condition}", args=[N], setup=_connect(loop))
    gdbs, _ = stops(loop, f"break target if {condition}", args=[N],
                    setup=_connect(loop, agent=False))
    assert ours == gdbs and ours, result
    _checked(result)


def test_the_guest_kernel_filters_and_says_so():
    loop = build("loop")
    result = _checked(run_gdb(loop, [*_connect(loop), "hbreak-if target i == 2999", "run",
                                     "print i", "info hbreak-if", "continue"], args=[N]))
    assert hits(result.stdout) == [(2, "target", "i=2999")], result
    assert result.values()[1] == "2999"
    assert re.search(rf"^2\s+y\s+{_tier()}\s", result.stdout, re.M), result.stdout
    assert "(2,999 hits filtered in the kernel)" in result.stdout, result
    assert "exited normally" in result.stdout


def test_threads_of_the_guest_are_armed_by_its_agent():
    threads = build("threads")
    result = _checked(run_gdb(threads, [*_connect(threads), "hbreak-if work tid == 2 && i == 300",
                                        "run", "print tid", "print i", "continue"], args=[1000]))
    assert hits(result.stdout) == [(2, "work", "tid=2, i=300")], result
    assert result.values() == {1: "2", 2: "300"}
    assert "exited normally" in result.stdout
