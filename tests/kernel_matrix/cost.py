"""Per-hit cost: the loop program (tests/programs/loop.c, N calls to target(i)) under
`hbreak-if target i == N-1`, under GDB's own `break target if i == N-1`, and under no breakpoint.

The clock runs inside GDB, from a stop at main() to the one stop at i == N-1 (for no breakpoint:
to the exit), so GDB's start-up and the program's loading are not in it. With two sizes N0 and N
and the best of `repeats` runs at each:

    per hit = (E(N) - E(N0)) / (N - N0)  -  (E_none(N1) - E_none(N0)) / (N1 - N0)

the second term being the loop's own time per call (N1 = 1,000,000, no breakpoint). N is
picked per configuration so that the hits take about `target_s` seconds (grown tenfold from
100 until they take a fifth of that, then scaled).

Run with the test virtualenv's Python (the harness imports pytest):
    .venv/bin/python tests/kernel_matrix/cost.py [--target S] [--repeats R] [--remote G,A]
prints the result as one `COST-JSON {...}` line. With --remote, the program runs under the
gdbserver --multi listening on port G of 127.0.0.1, hbreak-if through the agent on port A
(the kernel matrix's served row), and GDB's own breakpoint has its condition evaluated there.
"""
import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.gdb import run_gdb  # noqa: E402
from harness.programs import build  # noqa: E402

N0 = 1
N_FIRST = 100
N_MAX = 5_000_000
N_LOOP = 1_000_000
# `info hbreak-if`: Num Enb Tier Hits Stops ... (GDB's own count is of true conditions only)
INFO = re.compile(r"^2\s+y\s+(\S+)\s+([\d,]+)\s+\d+\s", re.M)
ELAPSED = re.compile(r"^ELAPSED ([0-9.]+)$", re.M)
START = "python import time as _kt; _kt0 = _kt.perf_counter()"
STOP = 'python print("ELAPSED %.6f" % (_kt.perf_counter() - _kt0))'


class CostError(RuntimeError):
    pass


def _commands(config, n, setup):
    if config == "none":
        return [*setup, "break main", "run", START, "continue", STOP]
    setter = "hbreak-if target" if config == "hbreak-if" else "break target if"
    return [*setup, f"{setter} i == {n - 1}", "break main", "run", START, "continue", STOP,
            "print i", *(["info hbreak-if"] if config == "hbreak-if" else []), "continue"]


def remote_setup(loop, gdbserver_port, agent_port):
    """The commands that run `loop` under the gdbserver on that port, with the agent."""
    repo = Path(__file__).resolve().parent.parent.parent
    return [f"target extended-remote 127.0.0.1:{gdbserver_port}", f"set remote exec-file {loop}",
            f"set hbreak-if remote-agent env PYTHONPATH={repo} /usr/bin/python3 -m "
            f"gdb_plugin.agent --connect 127.0.0.1:{agent_port}"]


def _timed(loop, config, n, prefix, timeout, setup=()):
    result = run_gdb(loop, _commands(config, n, setup), args=[n], prefix=prefix,
                     timeout=timeout)
    elapsed = ELAPSED.search(result.stdout)
    if not elapsed or "exited normally" not in result.stdout or (
            config != "none" and result.values().get(1) != str(n - 1)):
        raise CostError(f"{config} at N={n} did not stop once at i == {n - 1}:\n{result}")
    info = INFO.search(result.stdout)
    if config == "hbreak-if" and (not info or int(info.group(2).replace(",", "")) != n):
        # Each of the N calls must have been a hit (seen by the kernel or by GDB), or the time
        # per hit means nothing.
        raise CostError(f"{config} at N={n}: the breakpoint did not count {n} hits:\n{result}")
    return float(elapsed.group(1)), info.group(1) if info else None


def _best(loop, config, n, prefix, repeats, timeout, setup):
    runs = [_timed(loop, config, n, prefix, timeout, setup) for _ in range(repeats)]
    return min(t for t, _ in runs), runs[0][1]


def measure(prefix=(), target_s=2.0, repeats=2, timeout=900, configs=("hbreak-if", "gdb"),
            remote=None):
    """{config: {"per_hit_us", "n", "tier", "seconds"}}; `remote`: (gdbserver port, agent
    port)."""
    loop = build("loop")
    setup = remote_setup(loop, *remote) if remote else ()
    per_call = ((_timed(loop, "none", N_LOOP, prefix, timeout, setup)[0]
                 - _timed(loop, "none", N0, prefix, timeout, setup)[0]) / (N_LOOP - N0))
    out = {}
    for config in configs:
        t0, tier = _best(loop, config, N0, prefix, repeats, timeout, setup)
        n = N_FIRST
        while True:
            extra = _timed(loop, config, n, prefix, timeout, setup)[0] - t0
            if extra >= target_s / 5 or n * 10 > N_MAX:
                break
            n *= 100 if extra < target_s / 500 and n * 100 <= N_MAX else 10
        if extra > 0 and target_s / extra > 1.5:
            n = int(min(N_MAX, n * target_s / extra))
        tn, tier_n = _best(loop, config, n, prefix, repeats, timeout, setup)
        out[config] = {"per_hit_us": ((tn - t0) / (n - N0) - per_call) * 1e6, "n": n,
                       "tier": tier_n or tier, "seconds": round(tn, 3),
                       "loop_per_call_us": round(per_call * 1e6, 4)}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--remote", type=lambda text: tuple(map(int, text.split(","))),
                    metavar="GDBSERVER_PORT,AGENT_PORT")
    args = ap.parse_args()
    print("COST-JSON " + json.dumps(measure(target_s=args.target, repeats=args.repeats,
                                            remote=args.remote)))


if __name__ == "__main__":
    main()
