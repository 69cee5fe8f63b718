"""The configurations: how each one runs a workload to its one stop and on to the exit.

Every GDB configuration starts the program with `starti`, sets its
breakpoint in the live process, continues to the stop, checks that it
stopped at the right hit (`BENCH-STOP <value>`), and continues to the exit.
The wall time of the whole gdb (or program) process is what is measured.
A run that does not stop at the right hit, or does not exit normally,
fails; the failure and its reason are reported instead of a time.
"""
import os
import re
import resource
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

from . import native
from .build import PYTHON, ROOT

GDB = "/usr/bin/gdb"
GDBSERVER = "gdbserver"
PLUGIN = os.path.join(ROOT, "gdb_plugin", "plugin.py")

# Seconds allowed for one run: start-up plus a generous cost per hit.
TIMEOUT_FIXED = 120.0
TIMEOUT_PER_HIT = 0.004


@dataclass
class Run:
    ok: bool
    wall: float = 0.0
    cpu: float = 0.0                # user + system seconds of every process of the run
    reason: str = ""
    count: Optional[int] = None     # breakpoint hits counted by the kernel (floor)
    tier: Optional[str] = None      # hbreak-if: the tier `info hbreak-if` reported
    info: Optional[dict] = None     # hbreak-if: its row of `info hbreak-if` (hits, stops...)
    evidence: str = ""              # gdbserver: proof the condition is evaluated there
    output: str = ""


@dataclass
class Configuration:
    name: str
    description: str
    slow: bool
    runner: Callable = field(repr=False)
    kinds: Tuple[str, ...] = ("code", "watch")   # the workloads it runs on (Workload.watch)

    def applies(self, workload) -> bool:
        return ("watch" if workload.watch else "code") in self.kinds

    def run(self, workload, hits, address) -> Run:
        return self.runner(workload, hits, address)


# ---------------------------------------------------------------- without GDB

def _alone(workload, hits, address):
    timed = native.run(workload.argv(hits), timeout=_timeout(hits))
    return Run(ok=True, wall=timed.wall, cpu=timed.cpu)


def _floor(workload, hits, address):
    timed = native.run(workload.argv(hits), address, timeout=_timeout(hits),
                       watch_length=workload.watch_length)
    if timed.count != hits:
        return Run(ok=False, wall=timed.wall, count=timed.count,
                   reason=f"the counting breakpoint saw {timed.count} hits, expected {hits}")
    return Run(ok=True, wall=timed.wall, cpu=timed.cpu, count=timed.count)


# ---------------------------------------------------------------- with GDB

def _timeout(hits):
    return TIMEOUT_FIXED + TIMEOUT_PER_HIT * hits


_BENIGN = re.compile(
    r"^(warning: Error disabling address space randomization|"
    r"Function \".*\" not defined\.|"
    r"Warning: ptrace\(regsets_store_inferior_registers\)|"
    r"warning: (Unable to find libthread_db|File transfers from remote targets))")


def _gdb(script: str, argv: List[str], hits: int, workload, plugin=False,
         local=True) -> Run:
    """Run gdb on `script` (with the program `argv`) and check the stop and the exit."""
    with tempfile.NamedTemporaryFile("w", suffix=".gdb", prefix="bench-",
                                     delete=False) as f:
        f.write(script)
        path = f.name
    command = [GDB, "-batch", "-nx"]
    if plugin:
        command += ["-x", PLUGIN]
    command += ["-x", path]
    command += ["--args", *argv] if local else [argv[0]]
    try:
        before = _children_cpu()
        start = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  timeout=_timeout(hits), cwd=ROOT,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            return Run(ok=False, reason=f"timed out after {e.timeout:.0f} s",
                       output=_text(e.stdout) + _text(e.stderr))
        wall = time.perf_counter() - start
        # gdb reaps the program and gdbserver, so their times are in gdb's children's.
        cpu = _children_cpu() - before
    finally:
        os.unlink(path)
    output = done.stdout + done.stderr
    expected = workload.expected(hits)
    stops = re.findall(r"^BENCH-STOP (-?\d+)$", done.stdout, re.M)
    if stops != [str(expected)] or "exited normally" not in output:
        if not stops:
            problem = "never stopped"
        elif stops != [str(expected)]:
            problem = f"stopped at {workload.check} = {', '.join(stops)}, expected {expected}"
        else:
            problem = "did not exit normally after the stop"
        return Run(ok=False, wall=wall, cpu=cpu, output=output,
                   reason=f"{problem}: {_first_error(done.stderr)}")
    return Run(ok=True, wall=wall, cpu=cpu, output=output)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _text(data):
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _first_error(stderr: str) -> str:
    """The first line of GDB's complaints that says what went wrong."""
    lines = stderr.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Traceback"):
            for after in lines[index + 1:]:
                if after and not after[0].isspace():
                    return ("Python " + after.strip())[:300]
        line = line.strip()
        if line and not _BENIGN.match(line):
            if line.endswith(":") and index + 1 < len(lines):
                line += " " + lines[index + 1].strip()
            return line[:300]
    return "(no error message)"


_PROLOGUE = """set pagination off
set confirm off
set width 0
set breakpoint pending on
"""


def _epilogue(workload, extra=""):
    return (f"continue\n"
            f'printf "BENCH-STOP %d\\n", {workload.check}\n'
            f"{extra}"
            f"continue\n")


def _start(workload) -> str:
    """Start the program: a watched global needs its final address (PIE), a code breakpoint
    is set before the program runs any of its own code."""
    return "break main\nrun\ndelete\n" if workload.watch else "starti\n"


def _gdb_break(kind):
    def runner(workload, hits, address):
        script = (_PROLOGUE + _start(workload) +
                  f"{kind} {workload.location} if {workload.gdb_condition(hits)}\n"
                  + _epilogue(workload))
        return _gdb(script, workload.argv(hits), hits, workload)
    return runner


_PYTHON_STOP = '''python
import gdb

class BenchBreakpoint(gdb.Breakpoint):
    """Stops only when GDB evaluates the condition to true."""

    def stop(self):
        return bool(gdb.parse_and_eval({condition!r}))

BenchBreakpoint({location!r})
end
'''


def _python_stop(workload, hits, address):
    script = (_PROLOGUE + "starti\n"
              + _PYTHON_STOP.format(condition=workload.gdb_condition(hits),
                                    location=workload.location)
              + _epilogue(workload))
    return _gdb(script, workload.argv(hits), hits, workload)


def gdbserver_script(workload, hits, debug_remote=False, stderr_to="/dev/null",
                     evaluation="target"):
    """Connect to gdbserver over a pipe; `evaluation` says who evaluates the condition
    (`target`: gdbserver, `host`: GDB at each hit gdbserver reports).  gdbserver's stderr goes
    to `stderr_to` (None: GDB's stderr)."""
    remote = " ".join(shlex.quote(a) for a in workload.argv(hits))
    debug_on = "set debug remote 1\n" if debug_remote else ""
    debug_off = "set debug remote 0\n" if debug_remote else ""
    return (_PROLOGUE + "set sysroot /\n"
            f"target remote | exec {GDBSERVER} - {remote}"
            + (f" 2>{stderr_to}" if stderr_to else "") + "\n"
            f"set breakpoint condition-evaluation {evaluation}\n"
            "show breakpoint condition-evaluation\n"
            f"break {workload.location} if {workload.gdb_condition(hits)}\n"
            + debug_on + "continue\n" + debug_off
            + f'printf "BENCH-STOP %d\\n", {workload.check}\n'
            "maint info breakpoints\n"
            "continue\n")


_TARGET_EVALS = re.compile(r"stop only if .*\(target evals\)")


def _gdbserver(workload, hits, address):
    run = _gdb(gdbserver_script(workload, hits), workload.argv(hits), hits, workload,
               local=False)
    if run.ok:
        if not _TARGET_EVALS.search(run.output):
            return Run(ok=False, wall=run.wall, cpu=run.cpu, output=run.output,
                       reason="GDB did not report the condition as evaluated by the target")
        seen = re.search(r"breakpoint already hit (\d+) time", run.output)
        run.evidence = ("maint info breakpoints: " + _TARGET_EVALS.search(run.output).group(0)
                        + (f"; GDB saw {seen.group(1)} of {hits} hits" if seen else ""))
    return run


def _gdbserver_host(workload, hits, address):
    return _gdb(gdbserver_script(workload, hits, evaluation="host"), workload.argv(hits), hits,
                workload, local=False)


# A row of `info hbreak-if`: Num, Enb, Tier, Hits, Stops, Threads, Where
_ROW = re.compile(r"^\s*(\d+)\s+([yn])\s+((?:remote-)?(?:kernel-signal|kernel)|ptrace|uprobe)\s+"
                  r"([\d,]+)\s+(\d+)\s+(\d+)\s", re.M)


# gdbserver in a pid and mount namespace of its own, as on another machine, over a pipe like
# `gdbserver target-cond`; the agent joins that namespace (the newest gdbserver is this run's).
_REMOTE_START = ("set sysroot /\n"
                 "target remote | exec unshare --pid --fork --mount-proc "
                 f"{GDBSERVER} - {{program}} 2>/dev/null\n"
                 "set hbreak-if remote-agent sh -c 'exec nsenter --target \"$(pgrep -n -x "
                 f"{GDBSERVER})\" --pid --mount --root env PYTHONPATH={shlex.quote(ROOT)} "
                 f"{PYTHON} -m gdb_plugin.agent'\n")


def _hbreak_if(tier=None, at_stop="", remote=False):
    """hbreak-if on `tier` (default: the one chosen); `at_stop`: GDB commands run at the stop;
    `remote`: the program behind gdbserver in its own namespace, filtered by the agent."""
    def runner(workload, hits, address):
        setting = f"set hbreak-if tier {tier}\n" if tier else ""
        command = "hwatch-if" if workload.watch else "hbreak-if"
        start = (_REMOTE_START.format(program=" ".join(shlex.quote(a)
                                                       for a in workload.argv(hits)))
                 if remote else _start(workload))
        script = (_PROLOGUE + setting + start +
                  f"{command} {workload.location} {workload.hbreak_if_condition(hits)}\n"
                  + _epilogue(workload, extra="info hbreak-if\n" + at_stop))
        run = _gdb(script, workload.argv(hits), hits, workload, plugin=True, local=not remote)
        info = _info_section(run.output)
        found = _ROW.search(info)
        if found:
            run.tier = found.group(3)
            run.info = {"hits": int(found.group(4).replace(",", "")),
                        "stops": int(found.group(5)), "threads": int(found.group(6))}
        expected = ("remote-" if remote else "") + (tier or "kernel")
        if run.ok and run.tier != expected:
            return Run(ok=False, wall=run.wall, cpu=run.cpu, tier=run.tier, output=run.output,
                       reason=f"ran on tier {run.tier or '?'}, not {expected}: "
                       + " ".join(info.split())[:300])
        if run.ok and remote and "armed by the agent" not in info:
            return Run(ok=False, wall=run.wall, cpu=run.cpu, tier=run.tier, output=run.output,
                       reason="the agent did not arm it: " + " ".join(info.split())[:300])
        return run
    return runner


def _info_section(output: str) -> str:
    """The text `info hbreak-if` printed (between the stop line and the exit)."""
    match = re.search(r"^BENCH-STOP .*?$(.*?)(^\[Inferior|\Z)", output, re.M | re.S)
    return match.group(1) if match else ""


# The kernel's run-time statistics of the loaded predicates, printed at the stop.
_PREDICATE_STATS = f"shell cd {shlex.quote(ROOT)} && {PYTHON} -m bench.bpf_stats\n"


def predicate_stats(workload, hits, address) -> Run:
    """hbreak-if's default tier, with its predicates' `BPF-STATS` printed at the stop (run
    inside bpf_stats.enabled())."""
    return _hbreak_if(at_stop=_PREDICATE_STATS)(workload, hits, address)


def configurations() -> List[Configuration]:
    return [
        Configuration("alone", "the program alone, no debugger", False, _alone),
        Configuration("floor", "perf hardware breakpoint, counting only (no BPF, no signal)",
                      False, _floor),
        Configuration("gdb break", "GDB `break LOC if COND`", True, _gdb_break("break"),
                      kinds=("code",)),
        Configuration("gdb hbreak", "GDB `hbreak LOC if COND`", True, _gdb_break("hbreak"),
                      kinds=("code",)),
        Configuration("gdb python stop()", "gdb.Breakpoint subclass, stop() evaluates COND",
                      True, _python_stop, kinds=("code",)),
        Configuration("gdbserver target-cond",
                      "gdbserver, `set breakpoint condition-evaluation target`",
                      True, _gdbserver, kinds=("code",)),
        Configuration("gdbserver host-cond",
                      "gdbserver, GDB evaluates the condition at each hit (what a condition "
                      "gdbserver cannot compile gets)",
                      True, _gdbserver_host, kinds=("code",)),
        Configuration("gdb watch", "GDB `watch -location EXPR if COND` (hardware watchpoint)",
                      True, _gdb_break("watch -location"), kinds=("watch",)),
        Configuration("hbreak-if kernel", "`hbreak-if LOC COND` (default tier: kernel)",
                      False, _hbreak_if()),
        Configuration("hbreak-if remote agent",
                      "`hbreak-if LOC COND` on gdbserver's program, the agent beside it",
                      False, _hbreak_if(remote=True), kinds=("code",)),
        Configuration("hbreak-if remote agent kernel-signal",
                      "the same, `set hbreak-if tier kernel-signal` (a target before 6.10)",
                      False, _hbreak_if("kernel-signal", remote=True), kinds=("code",)),
        Configuration("hbreak-if kernel-signal", "`set hbreak-if tier kernel-signal`",
                      False, _hbreak_if("kernel-signal")),
        Configuration("hbreak-if ptrace", "`set hbreak-if tier ptrace`", True,
                      _hbreak_if("ptrace"), kinds=("code",)),   # hwatch-if needs the kernel
    ]


def gdbserver_evidence(workload, hits=8) -> str:
    """Proof that gdbserver evaluates the condition: the Z0 packet that carries it as
    agent-expression bytecode (`;X<len>,<bytes>`), GDB's `(target evals)`, and GDB's hit
    count of 1.  Returns the relevant lines of a tiny traced run."""
    script = gdbserver_script(workload, hits, debug_remote=True, stderr_to=None)
    with tempfile.NamedTemporaryFile("w", suffix=".gdb", prefix="bench-", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        done = subprocess.run([GDB, "-batch", "-nx", "-x", path, workload.argv(hits)[0]],
                              capture_output=True, text=True, timeout=120, cwd=ROOT,
                              stdin=subprocess.DEVNULL)
    finally:
        os.unlink(path)
    output = done.stdout + done.stderr
    keep = []
    for line in output.splitlines():
        if (re.search(r"Sending packet: \$Z[01],[0-9a-f]+,\d+;X", line)
                or "condition evaluation mode" in line.lower()
                or "stop only if" in line or "already hit" in line
                or line.startswith("BENCH-STOP") or "exited normally" in line):
            keep.append(line.strip())
    warnings = sum(1 for line in output.splitlines() if "regsets_store_inferior_registers" in line)
    if warnings:
        keep.append(f"(gdbserver also printed 'Warning: ptrace(regsets_store_inferior_registers): "
                    f"Bad address' {warnings} times in this {hits}-hit run; the timed runs send "
                    f"gdbserver's stderr to /dev/null)")
    return "\n".join(keep)
