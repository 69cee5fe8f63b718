"""Run /usr/bin/gdb in batch mode on a program and capture what it prints."""

import functools
import os
import re
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from harness.paths import GDB, PLUGIN
from harness.processes import end

# Output must not depend on the terminal, the user's settings or the network.
SETTINGS = (
    "set pagination off",
    "set confirm off",
    "set style enabled off",
    "set width 0",
    "set height 0",
    "set debuginfod enabled off",
)

_VALUE = re.compile(r"^\$(\d+) = (.*)$")
# What `info breakpoints` says with none: GDB 13 "No breakpoints or watchpoints.", GDB 16 and 18
# "No breakpoints, watchpoints, tracepoints, or catchpoints."
NO_BREAKPOINTS = re.compile(r"^No breakpoints(?: or|,) watchpoints", re.M)


@functools.lru_cache(maxsize=None)
def gdb_major(gdb=GDB) -> int:
    """The major version of `gdb`, for the tests of what one GDB does differently."""
    out = subprocess.run([gdb, "--version"], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^GNU gdb .*?(\d+)\.\d+", out, re.M).group(1))


class GdbError(AssertionError):
    pass


class GdbTimeout(GdbError):
    pass


@dataclass
class GdbResult:
    stdout: str
    stderr: str
    returncode: int
    argv: list = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def lines(self) -> list:
        return self.stdout.splitlines()

    def errors(self) -> list:
        """stderr lines that are not warnings (GDB errors, Python exceptions)."""
        return [l for l in self.stderr.splitlines() if l.strip() and not l.startswith("warning:")]

    def values(self) -> dict:
        """The `$N = value` lines printed by `print`, as {N: "value"}."""
        found = {}
        for line in self.lines():
            m = _VALUE.match(line)
            if m:
                found[int(m.group(1))] = m.group(2)
        return found

    def check(self, allow_errors: bool = False) -> "GdbResult":
        """Raise with the whole transcript if gdb failed or printed errors."""
        if self.returncode != 0 or (not allow_errors and self.errors()):
            raise GdbError(f"gdb failed:\n{self}")
        return self

    def expect(self, text: str) -> "GdbResult":
        if text not in self.stdout:
            raise GdbError(f"{text!r} not in gdb output:\n{self}")
        return self

    def __str__(self) -> str:
        return (f"$ {' '.join(map(str, self.argv))}\n[exit {self.returncode}]\n"
                f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}")


def run_gdb(binary, commands: Sequence[str], args=(), timeout: float = 60,
            env: Optional[dict] = None, plugin=True, stop_on_error: bool = False,
            cwd=None, gdb=GDB, prefix=()) -> GdbResult:
    """Run gdb -batch on `binary` (None for no program) with `commands`.

    Each command is one script unit and may span lines (`commands 1\\nsilent\\nend`). By default
    every unit runs even if an earlier one failed, like -ex; with stop_on_error the first error
    ends the script (and gdb exits non-zero). The program's own output shares gdb's pipes, so its
    order relative to gdb's output is not reliable. `env` adds to the current environment.
    `plugin` may name another copy of plugin.py; `gdb` another gdb binary, and `prefix` a
    command that runs it (e.g. as another user).
    """
    # An emulated guest (tests/kernel_matrix under TCG) runs GDB far slower than hardware does.
    timeout *= float(os.environ.get("HBREAK_IF_TIMEOUT_SCALE") or 1)
    full_env = dict(os.environ)
    full_env.pop("DEBUGINFOD_URLS", None)
    full_env.update({"LC_ALL": "C", "TERM": "dumb"})
    if env:
        full_env.update(env)

    with tempfile.TemporaryDirectory(prefix="hbreak-if-gdb-") as tmp:
        os.chmod(tmp, 0o755)  # readable by a gdb that runs as another user
        units = ["\n".join(commands)] if stop_on_error else list(commands)
        argv = [*prefix, str(gdb), "-batch", "-nx"]
        if gdb != GDB:
            argv.append("--data-directory=/usr/share/gdb")  # a copy cannot find its own
        for setting in SETTINGS:
            argv += ["-iex", setting]
        if plugin:
            argv += ["-x", str(PLUGIN if plugin is True else plugin)]
        for n, unit in enumerate(units):
            script = Path(tmp, f"{n:03d}.gdb")
            script.write_text(unit + "\n")
            argv += ["-x", str(script)]
        if binary is not None:
            argv += ["--args", str(binary), *map(str, args)]

        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace",
                                env=full_env, cwd=cwd, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # gdb leads its own process group, which holds the program too unless gdb moved it.
            os.killpg(proc.pid, signal.SIGKILL)
            try:
                out, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired as held:
                # A process that left the group (gdbserver's program, say) holds the pipes.
                out, err = (bytes(held.stdout or b"").decode(errors="replace"),
                            bytes(held.stderr or b"").decode(errors="replace"))
                end(proc)
            result = GdbResult(out, err, proc.returncode, argv)
            raise GdbTimeout(f"gdb timed out after {timeout}s:\n{result}") from None
    return GdbResult(out, err, proc.returncode, argv)
