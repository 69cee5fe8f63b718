"""Print the corpus's coverage table: for each program and build, how many conditions run
fully in the kernel, partly (the kernel filters, GDB decides), or only in GDB.

    python3 tests/corpus/coverage.py [--reasons]

--reasons also lists, per build, each part that stays with GDB and why. Needs gdb and gcc/g++;
compiling needs no kernel support (the programs run under GDB only to compile at `target`).
"""
import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS), str(TESTS.parent)]

from corpus import BUILDS, ITERATIONS, PROGRAMS, conditions  # noqa: E402
from harness.conditions import EXACT, GDB_ONLY, PARTIAL, gdb_side, kind  # noqa: E402
from harness.programs import build  # noqa: E402


def compiled(program: str, opt: str, texts):
    with tempfile.TemporaryDirectory() as tmp:
        return gdb_side(build(program, opt, extra=("-no-pie",)), Path(tmp),
                        [(text, text) for text in texts], ITERATIONS, run=False)["compiled"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reasons", action="store_true",
                        help="list each part that stays with GDB, and why")
    args = parser.parse_args()
    rows, reasons = [], []
    for filename, program, language in PROGRAMS:
        texts = conditions(filename)
        for opt in BUILDS:
            results = compiled(program, opt, texts)
            counts = Counter(kind(result) for result in results)
            share = lambda k: f"{counts[k]} ({100 * counts[k] / len(texts):.0f}%)"
            rows.append(f"| {language} {opt} | {len(texts)} | {share(EXACT)} | "
                        f"{share(PARTIAL)} | {share(GDB_ONLY)} |")
            reasons += [f"{language} {opt}: {note}" for result in results
                        for note in result["notes"] if "GDB evaluates it" in note]
    print("| program, build | conditions | fully in the kernel | partly | GDB only |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    if args.reasons:
        print("\n" + "\n".join(reasons))


if __name__ == "__main__":
    main()
