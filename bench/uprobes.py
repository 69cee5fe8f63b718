"""The uprobe tier against the floors it stands on, in one run:

    python3 -m bench.uprobes [--hits N] [--repeats R] [--out DIR]

writes DIR/uprobes.md (default bench/results/).  Workload (a), target(i) called N times, with
the breakpoint at two instructions: target's first (`*target`, `push %rbp`, which the kernel
emulates at a uprobe) and the first after its prologue (`target`, a load the kernel steps out
of line).  At each, the cost per hit: the slope of the wall time (median of R runs) between
1,000 hits and N, which leaves out GDB's start-up and the program's own work, for
a perf hardware breakpoint that only counts (the hardware floor), a uprobe whose program only
counts (the uprobe floor), and hbreak-if in the kernel tier and in the uprobe tier (`set
hbreak-if tier uprobe`), the condition true at the last hit only.
"""
import argparse
import dataclasses
import os
import statistics

from . import build, native
from .configs import _hbreak_if

LOCATIONS = {
    "*target": "`push %rbp`, emulated by the kernel",
    "target": "a load after the prologue, stepped out of line",
}
CONFIGURATIONS = ("hardware floor", "uprobe floor", "hbreak-if kernel", "hbreak-if uprobe")
UPROBE_TIER_TARGET = 1.2  # times the uprobe floor
FEW = 1000


def _workload(location: str) -> build.Workload:
    loop = next(w for w in build.workloads() if w.name == "loop")
    # At target's first instruction its argument is still in %rdi (i is not stored yet).
    return dataclasses.replace(loop, location=location,
                               gdb_condition=lambda h: f"$rdi == {h - 1}",
                               hbreak_if_condition=lambda h: f"rdi == {h - 1}",
                               check="$rdi", expected=lambda h: h - 1)


def _wall(name: str, workload, hits: int, address: int) -> float:
    if name in ("hardware floor", "uprobe floor"):
        timed = native.run(workload.argv(hits), address, with_uprobe=name == "uprobe floor")
        if timed.count != hits:
            raise RuntimeError(f"the {name} counted {timed.count} hits, not {hits}")
        return timed.wall
    run = _hbreak_if("uprobe" if name == "hbreak-if uprobe" else None)(workload, hits, address)
    if not run.ok:
        raise RuntimeError(f"{name} at {workload.location}: {run.reason}")
    return run.wall


def _costs(workload, hits: int, repeats: int) -> dict:
    """Seconds per hit of each configuration: the slope of its wall time between FEW hits
    and `hits` (GDB's start-up, and the program's own work, fall out)."""
    address = native.resolve_address(workload)
    costs = {}
    for name in CONFIGURATIONS:
        few = statistics.median(_wall(name, workload, FEW, address) for _ in range(repeats))
        many = statistics.median(_wall(name, workload, hits, address) for _ in range(repeats))
        costs[name] = (many - few) / (hits - FEW)
    return costs


def report(results: dict, hits: int, repeats: int) -> str:
    lines = ["# Uprobes: the uprobe tier against its floors", "",
             f"Workload (a), target(i) called {hits:,} times; µs per hit, the slope of the "
             f"wall time (median of {repeats} runs) between {FEW:,} hits and {hits:,}; one run "
             "of `python3 -m bench.uprobes`.",
             "", "| breakpoint at | hardware floor | uprobe floor | hbreak-if kernel tier | "
             "hbreak-if uprobe tier | uprobe tier / uprobe floor |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for location, costs in results.items():
        ratio = costs["hbreak-if uprobe"] / costs["uprobe floor"]
        lines.append(f"| `{location}` ({LOCATIONS[location]}) | "
                     + " | ".join(f"{costs[name] * 1e6:.1f}" for name in CONFIGURATIONS)
                     + f" | {ratio:.2f}× (target ≤ {UPROBE_TIER_TARGET}×"
                     + (", met)" if ratio <= UPROBE_TIER_TARGET else ", not met)") + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args()
    build.build(verbose=False)
    results = {location: _costs(_workload(location), args.hits, args.repeats)
               for location in LOCATIONS}
    text = report(results, args.hits, args.repeats)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "uprobes.md"), "w") as out:
        out.write(text)
    print(text)


if __name__ == "__main__":
    main()
