"""The condition corpus (tests/corpus/) against GDB's own `break target if COND`: for every
condition, program and build, the hits the kernel lets through include every GDB stop, and
equal them where the condition compiled exactly; GDB's re-check at each stop then makes the
stops identical (tests/harness/conditions.py)."""
import pytest

from corpus import BUILDS, ITERATIONS, PROGRAMS, conditions
from harness.conditions import disagreements, gdb_side, kernel_side
from harness.programs import build

pytestmark = [pytest.mark.gdb, pytest.mark.slow]


@pytest.mark.parametrize("opt", BUILDS)
@pytest.mark.parametrize("filename,program", [(f, p) for f, p, _ in PROGRAMS])
def test_corpus_stops_as_gdb_does(kernel_tier, tmp_path, filename, program, opt):
    texts = conditions(filename)
    exe = build(program, opt, extra=("-no-pie",))
    data = gdb_side(exe, tmp_path, [(text, text) for text in texts], ITERATIONS)
    problems = []
    for text, compiled, stops in zip(texts, data["compiled"], data["stops"]):
        hits = kernel_side(exe, data["address"], compiled["program"], ITERATIONS)
        problems += disagreements(text, compiled, stops, hits, data["address"], ITERATIONS)
    assert not problems, f"[{program} {opt}] {len(problems)} problems:\n" + "\n".join(problems)
    # The corpus exercises both outcomes: most conditions stop sometimes, not never or always.
    sometimes = [s for s in data["stops"] if 0 < len(s) < ITERATIONS]
    assert len(sometimes) >= 0.7 * len(texts), data["stops"]
