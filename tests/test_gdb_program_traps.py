"""A program that traps on purpose (int3, raise(SIGTRAP), kill(getpid(), SIGTRAP), its own
real-time signal) behaves with hbreak-if as in the same GDB session without the plugin.

Each test runs the same commands twice, with and without the plugin: in the session without
it, the hbreak-if commands fail and nothing else changes.  The transcripts must be equal once
the hbreak-if's own stops are taken out, and those must be the expected hits; the program's
output (its signal handler's lines, the count of signals it handled) must be equal too.
With several threads, the threads go through the calls in step, so the program's trap in one
thread and hbreak-if hits in the others arrive together and GDB reports them one by one.
"""
import functools
import re
import tempfile
from pathlib import Path

import pytest

from harness.gdb import run_gdb
from harness.programs import build

CALLS, AT = 8, 4  # thread 0 traps just before its call work(0, 4)
TIERS = ["kernel", "kernel-signal", "ptrace"]

# Resumes from main without the SIGTRAP of GDB's breakpoint, which `handle SIGTRAP pass` would
# pass on, and goes on to the end; after each stop: the iteration, the signal and the pc.
DRIVER = r"""python
for resume in ["signal 0"] + ["continue"] * 20:
    if not gdb.selected_inferior().pid:
        break
    gdb.execute(resume)
    if gdb.selected_inferior().pid:
        gdb.write("STOPPED j=%d signo=%d code=%d pc=%#x\n" % (
            int(gdb.parse_and_eval("g_iter")), int(gdb.parse_and_eval("$_siginfo.si_signo")),
            int(gdb.parse_and_eval("$_siginfo.si_code")), int(gdb.parse_and_eval("$pc"))))
end"""

# GDB's noise that depends on the run (thread ids, pids) or on which thread stopped before.
_NOISE = re.compile(r"^(\[New Thread |\[Thread 0x.* exited\]$|\[Switching to |\[New process |"
                    r"\[Thread debugging using|Using host libthread_db)")


@pytest.fixture(scope="module")
def traps():
    return build("traps")


def _session(binary, how, threads, handle, handler, plugin, setup=(), hbreak_if=()):
    with tempfile.TemporaryDirectory(prefix="hbreak-if-traps-") as tmp:
        output = Path(tmp, "out")
        args = [how, threads, CALLS, AT] + (["handler"] if handler else [])
        commands = [*setup, "tbreak main", f"run {' '.join(map(str, args))} > {output}",
                    *([handle] if handle else []), *hbreak_if, DRIVER]
        result = run_gdb(binary, commands, plugin=plugin)
        return result, output.read_text() if output.exists() else ""


def _without_hbreak_if(stdout):
    """The transcript without GDB's run-dependent noise, and the hbreak-if stops taken out of
    it (each as its function and arguments)."""
    kept, hits = [], []
    lines = iter(stdout.splitlines())
    for line in lines:
        if not line.strip() or _NOISE.match(line):
            continue
        hit = re.match(r"^hbreak-if \d+, (.*) at ", line)
        if hit:
            hits.append(hit.group(1))
            for rest in lines:  # the source line, the kernel's count, the driver's line
                if rest.startswith("STOPPED"):
                    break
            continue
        if line.startswith("hbreak-if "):
            continue  # what setting it printed
        line = re.sub(r"\(process \d+\)", "(process N)", line)
        kept.append(re.sub(r"argv=0x[0-9a-f]+", "argv=...", line))  # the environment's size
    return kept, sorted(hits)


def _errors(stderr):
    """stderr without the errors of hbreak-if commands in the session without the plugin."""
    return [line for line in stderr.splitlines()
            if not line.endswith("Error in sourced command file:") and '"hbreak' not in line]


@functools.lru_cache(maxsize=None)
def _reference(binary, how, threads, handle, handler):
    result, output = _session(binary, how, threads, handle, handler, plugin=False)
    transcript, hits = _without_hbreak_if(result.stdout)
    assert hits == []
    return transcript, _errors(result.stderr), output


CASES = [  # (how the program traps, the user's `handle`, whether the program has a handler)
    ("int3", None, False),
    ("raise", None, False),
    ("kill", None, False),
    ("int3", "handle SIGTRAP nostop pass", True),
    ("raise", "handle SIGTRAP nostop pass", True),
    ("kill", "handle SIGTRAP nostop noprint pass", True),
    ("raise", "handle SIGTRAP stop print pass", True),
    ("rt", None, True),  # GDB's default for SIG40: stop, print, pass
    ("rt", "handle SIG40 nostop pass", True),
]


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("how,handle,handler", CASES)
def test_the_programs_own_signals_as_without_the_plugin(kernel_tier, traps, how, handle,
                                                         handler, tier, threads):
    expected, expected_errors, expected_output = _reference(traps, how, threads, handle, handler)
    result, output = _session(traps, how, threads, handle, handler, plugin=True,
                              setup=[f"set hbreak-if tier {tier}"],
                              hbreak_if=[f"hbreak-if work j == {AT}"])
    assert f"[{tier} tier]" in result.stdout, result
    assert "Traceback" not in result.output, result
    transcript, hits = _without_hbreak_if(result.stdout)
    assert transcript == expected, result
    assert _errors(result.stderr) == expected_errors, result
    assert hits == [f"work (tid={tid}, j={AT})" for tid in range(threads)], result
    assert output == expected_output
