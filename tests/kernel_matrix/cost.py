"""Per-hit cost: the loop program (tests/programs/loop.c, N calls to target(i)) under
`hbreak-if target i == N-1`, under GDB's own `break target if i == N-1`, and under no breakpoint.

The clock runs inside GDB, from a stop at main() to the one stop at i == N-1 (for no breakpoint:
to the exit), so GDB's start-up and the program's loading are not in it. With two sizes N0 and N
and the best of `repeats` runs at each:

    per hit = (E(N) - E(N0)) / (N - N0)  -  (E_none(N1) - E_none(N0)) / (N1 - N0)

the second term being the loop's own time per call (N1 = 1,000,000, no breakpoint). N is picked per configuration so that the
hits take about `target_s` seconds (grown tenfold from 100 until they take a fifth of that,
then scaled).

Run with the test virtualenv's Python (the harness imports pytest):
    .venv/bin/python tests/kernel_matrix/cost.py [--target S] [--repeats R]
prints the result as one `COST-JSON {...}` line.
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
TIER = re.compile(r"^hbreak-if 1 at .*\[(\S+) tier\]$", re.M)
# `info hbreak-if`: Num Enb Tier Hits Stops ... (GDB's own count is of true conditions only)
HITS = re.compile(r"^1\s+y\s+\S+\s+([\d,]+)\s+\d+\s", re.M)
ELAPSED = re.compile(r"^ELAPSED ([0-9.]+)$", re.M)
START = "python import time as _kt; _kt0 = _kt.perf_counter()"
STOP = 'python print("ELAPSED %.6f" % (_kt.perf_counter() - _kt0))'


class CostError(RuntimeError):
    pass


def _commands(config, n):
    if config == "none":
        return ["break main", "run", START, "continue", STOP]
    setter = "hbreak-if target" if config == "hbreak-if" else "break target if"
    return [f"{setter} i == {n - 1}", "break main", "run", START, "continue", STOP, "print i",
            *(["info hbreak-if"] if config == "hbreak-if" else []), "continue"]


def _timed(loop, config, n, prefix, timeout):
    result = run_gdb(loop, _commands(config, n), args=[n], prefix=prefix, timeout=timeout)
    elapsed = ELAPSED.search(result.stdout)
    if not elapsed or "exited normally" not in result.stdout or (
            config != "none" and result.values().get(1) != str(n - 1)):
        raise CostError(f"{config} at N={n} did not stop once at i == {n - 1}:\n{result}")
    hits = HITS.search(result.stdout)
    if config == "hbreak-if" and (not hits or int(hits.group(1).replace(",", "")) != n):
        # Each of the N calls must have been a hit (seen by the kernel or by GDB), or the time
        # per hit means nothing.
        raise CostError(f"{config} at N={n}: the breakpoint did not count {n} hits:\n{result}")
    tier = TIER.search(result.stdout)
    return float(elapsed.group(1)), tier.group(1) if tier else None


def _best(loop, config, n, prefix, repeats, timeout):
    runs = [_timed(loop, config, n, prefix, timeout) for _ in range(repeats)]
    return min(t for t, _ in runs), runs[0][1]


def measure(prefix=(), target_s=2.0, repeats=2, timeout=900, configs=("hbreak-if", "gdb")):
    """{config: {"per_hit_us", "n", "tier", "seconds"}}."""
    loop = build("loop")
    per_call = ((_timed(loop, "none", N_LOOP, prefix, timeout)[0]
                 - _timed(loop, "none", N0, prefix, timeout)[0]) / (N_LOOP - N0))
    out = {}
    for config in configs:
        t0, tier = _best(loop, config, N0, prefix, repeats, timeout)
        n = N_FIRST
        while True:
            extra = _timed(loop, config, n, prefix, timeout)[0] - t0
            if extra >= target_s / 5 or n * 10 > N_MAX:
                break
            n *= 100 if extra < target_s / 500 and n * 100 <= N_MAX else 10
        if extra > 0 and target_s / extra > 1.5:
            n = int(min(N_MAX, n * target_s / extra))
        tn, tier_n = _best(loop, config, n, prefix, repeats, timeout)
        out[config] = {"per_hit_us": ((tn - t0) / (n - N0) - per_call) * 1e6, "n": n,
                       "tier": tier_n or tier, "seconds": round(tn, 3),
                       "loop_per_call_us": round(per_call * 1e6, 4)}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    print("COST-JSON " + json.dumps(measure(target_s=args.target, repeats=args.repeats)))


if __name__ == "__main__":
    main()
