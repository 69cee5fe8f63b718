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
# pass on, then as told and on to the end; after each stop: the iteration, the signal, the pc.
DRIVER = r"""python
for resume in %r + ["continue"] * 20:
    if not gdb.selected_inferior().pid:
        break
    gdb.execute(resume)
    if gdb.selected_inferior().pid:
        gdb.write("STOPPED j=%%d signo=%%d code=%%d pc=%%#x\n" %% (
            int(gdb.parse_and_eval("g_iter")), int(gdb.parse_and_eval("$_siginfo.si_signo")),
            int(gdb.parse_and_eval("$_siginfo.si_code")), int(gdb.parse_and_eval("$pc"))))
end"""

# The session without the plugin listens to stops from Python as the plugin does: GDB 16 and 18
# then print a signal catchpoint's "Catchpoint N (signal SIGTRAP), " a second time (the stop
# event's details are computed by printing the stop again), with or without hbreak-if.
LISTENING = "python gdb.events.stop.connect(lambda event: None)"

# GDB's noise that depends on the run (thread ids, pids) or on which thread stopped before.
_NOISE = re.compile(r"^(\[New Thread |\[Thread 0x.* exited\]$|\[Switching to |\[New process |"
                    r"\[Thread debugging using|Using host libthread_db)")


@pytest.fixture(scope="module")
def traps():
    return build("traps")


def _session(binary, how, threads=1, handler=False, after_start=(), hbreak_if=(),
             resumes=("signal 0",), plugin=True, setup=()):
    """Runs the program to main, gives the commands `after_start` and `hbreak_if`, drives it
    to the end and shows the `handle` table; returns GDB's result and what the program printed."""
    if not plugin:
        setup = [*setup, LISTENING]
    with tempfile.TemporaryDirectory(prefix="hbreak-if-traps-") as tmp:
        output = Path(tmp, "out")
        args = [how, threads, CALLS, AT] + (["handler"] if handler else [])
        commands = [*setup, "tbreak main", f"run {' '.join(map(str, args))} > {output}",
                    *after_start, *hbreak_if, DRIVER % list(resumes),
                    "info signals SIGTRAP", "info signals SIG40"]  # as the user left them
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
        if line.startswith(("hbreak-if ", "Will ignore next ", "COMMANDS ")):
            continue  # what setting it printed, what its commands print
        line = re.sub(r"\(process \d+\)", "(process N)", line)
        kept.append(re.sub(r"argv=0x[0-9a-f]+", "argv=...", line))  # the environment's size
    return kept, sorted(hits)


def _errors(stderr):
    """stderr without the errors of hbreak-if commands in the session without the plugin."""
    return [line for line in stderr.splitlines()
            if not line.endswith("Error in sourced command file:") and '"hbreak' not in line
            and not line.startswith("No breakpoint number ")]


@functools.lru_cache(maxsize=None)
def _reference(binary, how, threads=1, handler=False, after_start=(), resumes=("signal 0",)):
    result, output = _session(binary, how, threads, handler, after_start, resumes=resumes,
                              plugin=False)
    transcript, hits = _without_hbreak_if(result.stdout)
    assert hits == []
    return transcript, _errors(result.stderr), output


def _assert_as_without_the_plugin(result, output, reference, hits):
    """The same transcript, errors and program output as `reference`, and these hbreak-if hits."""
    assert "Traceback" not in result.output, result
    expected, expected_errors, expected_output = reference
    transcript, got_hits = _without_hbreak_if(result.stdout)
    assert transcript == expected, result
    assert _errors(result.stderr) == expected_errors, result
    assert got_hits == sorted(hits), result
    assert output == expected_output


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
    after_start = (handle,) if handle else ()
    result, output = _session(traps, how, threads, handler, after_start, plugin=True,
                              setup=[f"set hbreak-if tier {tier}"],
                              hbreak_if=[f"hbreak-if work j == {AT}"])
    assert f"[{tier} tier]" in result.stdout, result
    _assert_as_without_the_plugin(result, output,
                                  _reference(traps, how, threads, handler, after_start),
                                  [f"work (tid={tid}, j={AT})" for tid in range(threads)])


AROUND = [  # (how the program traps, GDB's own commands, how the driver resumes)
    ("int3", ("break *trap_int3",), ("signal 0",)),  # a breakpoint on the program's int3
    ("int3", ("break *trap_int3",), ("signal 0", "stepi", "stepi")),
    # Out of libc by `finish`, which needs none of libc's debugging information (`next` does).
    ("raise", ("break trap",), ("signal 0", "next", "next", "next", "finish", "finish")),
    ("kill", ("hbreak trap",), ("signal 0",)),
    ("int3", ("watch g_iter",), ("signal 0",)),
    ("raise", ("set can-use-hw-watchpoints 0", "watch g_iter"), ("signal 0",)),
    ("raise", ("display g_iter",), ("signal 0",)),  # shown at the stop
    # The user's own catchpoints on the signals.
    ("raise", ("catch signal SIGTRAP", "condition 2 $_siginfo.si_code == -6"), ("signal 0",)),
    ("rt", ("catch signal SIG40",), ("signal 0",)),  # then SIG40 ends the program
]


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("how,commands,resumes", AROUND,
                         ids=["break-on-int3", "stepi-off-int3", "next-finish", "hbreak", "watch",
                              "software-watch", "display", "catch-SIGTRAP", "catch-SIG40"])
def test_gdbs_own_breakpoints_steps_and_watchpoints_around_the_programs_traps(
        kernel_tier, traps, how, commands, resumes, tier):
    result, output = _session(traps, how, after_start=commands, resumes=resumes,
                              setup=[f"set hbreak-if tier {tier}"],
                              hbreak_if=[f"hbreak-if work j == {AT}"])
    _assert_as_without_the_plugin(result, output,
                                  _reference(traps, how, after_start=commands, resumes=resumes),
                                  [f"work (tid=0, j={AT})"] if how != "rt" else [])


CARRIERS = [  # hbreak-ifs the program's stop goes through: (their commands, their hits)
    # Its commands run at its own stop only.
    (("hbreak-if work j == 4", 'commands $bpnum\nprintf "COMMANDS j=%d\\n", j\nend'), [4]),
    # A temporary one is not used up by the program's stop, when another can take it.
    (("hbreak-if -t work j == 4", "hbreak-if work j == 6"), [4, 6]),
    # GDB keeps the ignore count in the ptrace tier: the program's stop does not count down.
    (("hbreak-if work j >= 4", "ignore $bpnum 2"), [6, 7]),
    # Hits the ignore count skipped before the program's stop are not reported there.
    (("hbreak-if work j >= 2", "ignore $bpnum 5"), [7]),
]


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("hbreak_if,stops", CARRIERS, ids=["commands", "temporary", "ignore", "ignored-before"])
def test_the_hbreak_if_the_programs_stop_goes_through_keeps_its_own_behaviour(
        kernel_tier, traps, hbreak_if, stops, tier):
    result, output = _session(traps, "raise", hbreak_if=hbreak_if,
                              setup=[f"set hbreak-if tier {tier}"])
    _assert_as_without_the_plugin(result, output, _reference(traps, "raise"),
                                  [f"work (tid=0, j={j})" for j in stops])
    assert "Program received signal SIGTRAP" in result.stdout
    assert result.stdout.count("COMMANDS") == ("COMMANDS" in hbreak_if[-1])


@pytest.mark.parametrize("tier", TIERS)
def test_stepi_onto_the_programs_int3_ends_after_it_as_without_the_plugin(kernel_tier, traps,
                                                                        tier):
    """GDB takes the int3's trap for the end of the step (infrun.c: currently_stepping), which
    a catchpoint condition cannot see: hbreak-if reports it as the program's signal, at the
    same pc (README, known differences)."""
    # Stopped on the int3 by a breakpoint GDB then forgets, the next stepi executes it.
    commands = ["tbreak *trap_int3", "run int3 1 8 4", "stepi",
                'printf "STEPPED pc=%#lx\\n", $pc']
    expected = run_gdb(traps, commands, plugin=False)
    got = run_gdb(traps, [f"set hbreak-if tier {tier}", "hbreak-if work j == 100", *commands])
    pc = re.compile(r"^STEPPED pc=(0x[0-9a-f]+)$", re.M)
    assert pc.findall(got.stdout) == pc.findall(expected.stdout) != [], got
    assert "Program received signal SIGTRAP" not in expected.stdout
    assert "\nProgram received signal SIGTRAP, Trace/breakpoint trap.\ntrap () at " in got.stdout
