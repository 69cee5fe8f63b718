"""What happens to the program when GDB dies of SIGKILL while hbreak-if breakpoints are armed.

    python tests/reliability/gdb_kill.py SCENARIO [TRIALS]      (prints one JSON line)

Scenarios (the program is tests/programs/rel_fault.c in `forever` mode, calling target(i)
in a loop; the breakpoint is `hbreak-if target CONDITION`):
  run-stopped     GDB started the program (`run`) and sits at an hbreak-if stop
  run-running     GDB started the program, which runs with hits filtered in the kernel
  attach-running  GDB attached to a running program, which runs with hits filtered
  attach-busy     as attach-running, with a condition true every 20,000 hits and commands
                  that continue: GDB is killed at a random moment among stops and resumes
  attach-stopped  GDB attached, and sits at an hbreak-if stop

This process makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so a program GDB
started is reparented here when GDB dies and its end can be observed with waitpid: how it
ended (exit code or signal) or, for a program that outlives GDB, its state a moment later
(running, or stopped and then continued with SIGCONT) and whether it ends by a signal within
the observation window.
"""
from __future__ import annotations

import ctypes
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
for path in (str(TESTS), str(TESTS.parent)):
    if path not in sys.path:
        sys.path.insert(0, path)

from harness.gdb import SETTINGS  # noqa: E402
from harness.paths import GDB, PLUGIN  # noqa: E402
from harness.programs import build  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36
OBSERVE_SECONDS = 2.0
BUSY_EVERY = int(os.environ.get("REL_BUSY_EVERY", 20000))


def _gdb_argv(script: Path, program=None):
    argv = [GDB, "-batch", "-nx"]
    for setting in SETTINGS:
        argv += ["-iex", setting]
    argv += ["-x", str(PLUGIN), "-x", str(script)]
    if program:
        argv += ["--args", *map(str, program)]
    return argv


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return signal.Signals(os.WTERMSIG(status)).name
    if os.WIFEXITED(status):
        return f"exit {os.WEXITSTATUS(status)}"
    return f"status {status}"


def _reap(pid: int, seconds: float):
    """Wait up to `seconds` for `pid` (our child or a reparented orphan) to end."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return _describe(status)
        time.sleep(0.02)
    return None


def _wait_for(path: Path, proc, seconds=60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def trial(scenario: str, binary: Path, tmp: Path) -> dict:
    marker = tmp / "marker"
    pidfile = tmp / "pid"
    for f in (marker, pidfile):
        if f.exists():
            f.unlink()
    script = tmp / "script.gdb"
    attach = scenario.startswith("attach")
    program = None
    if attach:
        program = subprocess.Popen([str(binary), "forever", "0", str(pidfile)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lines = [f"attach {program.pid}"]
    else:
        lines = ["break main", "run", "delete 1"]
    python_marker = f"python open({str(marker)!r}, 'w').write('x')"
    if scenario.endswith("stopped"):
        lines += ["hbreak-if target i % 200000 == 7", "continue", python_marker, "shell sleep 60"]
    elif scenario == "attach-busy":
        lines += [f"hbreak-if target i % {BUSY_EVERY} == 0",
                  f"commands\nsilent\n{python_marker}\ncontinue\nend", "continue"]
    else:
        # Never true: every hit is filtered in the kernel.
        lines += ["hbreak-if target i == -5", python_marker, "continue"]
    script.write_text("\n".join(lines) + "\n")
    argv = _gdb_argv(script, None if attach else [binary, "forever", "0", pidfile])
    gdb = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    record = {"scenario": scenario}
    if not _wait_for(marker, gdb):
        record["error"] = "GDB did not get to the armed state"
    if scenario in ("run-running", "attach-running"):
        time.sleep(0.3)                  # hits are being filtered meanwhile
    elif scenario == "attach-busy":
        time.sleep(random.uniform(0.05, 0.5))
    if not attach:
        _wait_for(pidfile, gdb, 10)
    pid = program.pid if attach else int(pidfile.read_text() or 0) if pidfile.exists() else 0
    record["state_before"] = _state(pid) if pid else "unknown"
    gdb.kill()                           # SIGKILL
    gdb.wait()
    record["gdb"] = gdb.returncode
    if not pid:
        record["error"] = record.get("error", "no program pid")
        return record
    ended = _reap(pid, OBSERVE_SECONDS)
    if ended is None:
        record["state_after"] = _state(pid)
        if record["state_after"] in ("T", "t"):
            os.kill(pid, signal.SIGCONT)
            ended = _reap(pid, OBSERVE_SECONDS)
            record["after_sigcont"] = ended or _state(pid)
        if ended is None:
            record["outcome"] = "still running"
            os.kill(pid, signal.SIGKILL)
            _reap(pid, 10)
        else:
            record["outcome"] = ended
    else:
        record["outcome"] = ended
    return record


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    scenario = argv[0]
    trials = int(argv[1]) if len(argv) > 1 else 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(json.dumps({"error": f"prctl: errno {ctypes.get_errno()}"}))
        return 1
    binary = build("rel_fault")
    results = []
    with tempfile.TemporaryDirectory(prefix="rel-kill-") as tmp:
        for _ in range(trials):
            results.append(trial(scenario, binary, Path(tmp)))
    # Anything else reparented here (the shell GDB ran the program with) is reaped too.
    while True:
        try:
            done, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if done == 0:
            break
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
