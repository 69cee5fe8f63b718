"""Arming cost: from the `hbreak-if` command to a breakpoint armed in the kernel.

GDB runs the `mem` workload to `main`, then, for conditions of growing size,
times `gdb.execute("hbreak-if target COND")` with time.perf_counter (front
end + compile + load + attach, everything the command does), checks that a
perf event appeared among GDB's file descriptors (the breakpoint is armed
when the command returns, not later), reads the tier from `info hbreak-if`,
and deletes the breakpoint.  The first command is reported on its own: it
also runs the tier self-test.
"""
import json
import os
import subprocess
import tempfile

from .build import BENCH, ROOT
from .configs import GDB, PLUGIN

GDB_SIDE = os.path.join(BENCH, "gdb_arming.py")

# Terms over what `target(struct item *p)` in workloads/mem.c can see; {c} is a constant.
TERMS = [
    "p->id == {c}",
    "g_counter > {c}",
    "p->s < -{c}",
    "(p->flags & {m}) == {m}",
    "g_unsigned % {k} == 3",
    "items[{j}].id != {c}",
    "p->big + {c} > 0",
    "(p->id ^ {c}) < {k}",
]
SIZES = (1, 2, 4, 8, 16, 32)


def condition(size: int, variant: int) -> str:
    """A condition of `size` terms, && and || alternating in groups of two."""
    parts = []
    for n in range(size):
        c = 1000 + 37 * variant + 11 * n
        term = TERMS[(n + variant) % len(TERMS)].format(
            c=c, m=1 << (n % 8), k=7 + n + variant, j=(n + variant) % 64)
        parts.append(f"({term})")
    groups = [" && ".join(parts[i:i + 2]) for i in range(0, len(parts), 2)]
    return " || ".join(f"({g})" if len(groups) > 1 and " && " in g else g for g in groups)


def conditions(per_size: int):
    return [(size, condition(size, variant)) for size in SIZES for variant in range(per_size)]


def measure(binary: str, per_size: int = 6, timeout: float = 600.0) -> dict:
    """Run the measurement in GDB -> {"first": {...}, "runs": [...]} or {"error": ...}."""
    todo = [{"size": 1, "condition": condition(1, 99), "warmup": True}]
    todo += [{"size": s, "condition": c} for s, c in conditions(per_size)]
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="bench-arming-",
                                     delete=False) as f:
        json.dump(todo, f)
        path = f.name
    env = dict(os.environ, BENCH_ARMING_CONDITIONS=path, BENCH_ARMING_LOCATION="target")
    command = [GDB, "-batch", "-nx", "-x", PLUGIN, "-ex", "set pagination off",
               "-ex", "set confirm off", "-ex", "break main", "-ex", "run",
               "-ex", "delete", "-x", GDB_SIDE, "-ex", "kill", "--args", binary, "1000"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    finally:
        os.unlink(path)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-ARMING "):
            return json.loads(line[len("BENCH-ARMING "):])
    tail = [l for l in (done.stderr + done.stdout).splitlines() if l.strip()][-5:]
    return {"error": "no result from GDB: " + " | ".join(tail)}
