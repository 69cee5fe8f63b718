"""The long profile of the differential suite: at least 10,000 random conditions, each
checked against GDB's own `break LOCATION if CONDITION`, on -O0 and -O2 builds of rel_diff.

    .venv/bin/python tests/reliability/long.py [--conditions 10000] [--jobs 2] [--seed 1]
    HBREAK_IF_LONG=1 .venv/bin/python -m pytest tests/test_reliability_differential.py

Prints the conditions tried, the hits the kernel saw, the stops made (and GDB's), and the
mismatches; exits 1 if there is any mismatch.  Each batch is reproducible from its seed and
build: `--only SEED:OPT` runs one batch and prints every mismatch with both transcripts.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
for path in (str(TESTS), str(TESTS.parent)):
    if path not in sys.path:
        sys.path.insert(0, path)

from reliability.conditions import random_rounds  # noqa: E402
from reliability.differential import Outcome, prepare, run_batch  # noqa: E402

ROUNDS_PER_BATCH = 40            # 160 conditions per pair of GDB sessions
OPTS = ("-O0", "-O2")


def _batch(seed: int, opt: str, rounds: int) -> Outcome:
    _, build = prepare(opt)
    batch = random_rounds(build, rounds, seed, first_id=0)
    # Every other pair of batches sets its first round before `run`.
    return run_batch(opt, batch, arm_before_run=seed % 4 >= 2)


def run(conditions: int, jobs: int, first_seed: int, rounds: int = ROUNDS_PER_BATCH,
        out=sys.stdout, mismatch_log: Path = None) -> Outcome:
    for opt in OPTS:
        prepare(opt)                               # build once, before the workers
    per_batch = rounds * 4
    batches = [(first_seed + n, OPTS[n % len(OPTS)]) for n in range(-(-conditions // per_batch))]
    total = Outcome()
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_batch, seed, opt, rounds): (seed, opt) for seed, opt in batches}
        for done, future in enumerate(as_completed(futures), 1):
            seed, opt = futures[future]
            outcome = future.result()
            total.add(outcome)
            print(f"[{done}/{len(batches)}] seed {seed} {opt}: {len(outcome.mismatches)} "
                  f"mismatches; running total: {total.conditions} conditions, "
                  f"{len(total.mismatches)} mismatches, {time.monotonic() - started:.0f} s",
                  file=out, flush=True)
            for mismatch in outcome.mismatches:
                print(f"  MISMATCH (seed {seed} {opt}) {mismatch}", file=out, flush=True)
            if outcome.mismatches and mismatch_log is not None:
                with open(mismatch_log, "a") as log:
                    log.write(f"=== seed {seed} {opt}\n")
                    for mismatch in outcome.mismatches:
                        log.write(f"{mismatch}\n")
                    for name, text in outcome.transcripts.items():
                        log.write(f"--- {name} transcript\n{text}\n")
    total.seconds["wall"] = time.monotonic() - started
    return total


def summary(total: Outcome) -> str:
    return (f"conditions tried: {total.conditions}\n"
            f"  refused by both GDB and hbreak-if: {total.rejected_by_both}\n"
            f"  tiers: {dict(total.tiers)}\n"
            f"hits (every time a thread reached a location): {total.hits}\n"
            f"stops: {total.stops} (GDB's break-if: {total.expected_stops})\n"
            f"hits the kernel let through to GDB: {total.rechecked}, of which GDB rejected: "
            f"{total.rejected_by_gdb}\n"
            f"mismatches: {len(total.mismatches)}\n"
            f"known bugs (strict xfail tests), instances: {dict(total.known)}\n"
            f"wall time: {total.seconds.get('wall', 0):.0f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conditions", type=int,
                        default=int(os.environ.get("HBREAK_IF_LONG_CONDITIONS", 10_000)))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("HBREAK_IF_LONG_SEED", 1)))
    parser.add_argument("--rounds", type=int, default=ROUNDS_PER_BATCH)
    parser.add_argument("--only", metavar="SEED:OPT", help="run one batch, print everything")
    parser.add_argument("--log", type=Path, help="append mismatches and transcripts here")
    args = parser.parse_args(argv)
    if args.only:
        seed, opt = args.only.split(":")
        outcome = _batch(int(seed), opt, args.rounds)
        print(outcome.report())
        for mismatch in outcome.mismatches:
            print(mismatch)
        for name, text in outcome.transcripts.items():
            print(f"--- {name} transcript\n{text}")
        return 1 if outcome.mismatches else 0
    total = run(args.conditions, args.jobs, args.seed, args.rounds, mismatch_log=args.log)
    print(summary(total))
    return 1 if total.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
