"""Randomized differential suite: hbreak-if stops exactly where GDB's own break-if stops.

Conditions are drawn by hypothesis (tests/reliability/conditions.py) over registers (bare
rdi/edi/di/dil/r8b/pc and their $ forms), memory, globals, locals, struct fields and
bit-fields, with random widths, signedness, casts, literals and every C operator, at function
entries, `*ADDRESS` locations inside prologues and a line inside a loop, on -O0 and -O2
builds of tests/programs/rel_diff.c, whose iterations take boundary values (0, -1, INT_MIN,
0x80, 1 << 40, NULL pointers, zero divisors).  Each batch costs two GDB sessions
(tests/reliability/differential.py): GDB's `break LOCATION if CONDITION` and `hbreak-if
LOCATION CONDITION`, round by round, and every stop is compared as (round, hit, pc).

The fast profile runs here.  The long profile (10,000 conditions or more):

    HBREAK_IF_LONG=1 .venv/bin/python -m pytest tests/test_reliability_differential.py -s
    .venv/bin/python tests/reliability/long.py --conditions 10000      (same, as a script)
"""
import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from reliability import conditions
from reliability.differential import prepare, run_batch

LONG = os.environ.get("HBREAK_IF_LONG") == "1"
ROUNDS = 28                    # 112 conditions per example (one pair of GDB sessions)
EXAMPLES = 4


def _check(outcome):
    detail = "\n".join(str(m) for m in outcome.mismatches[:20])
    if outcome.mismatches and outcome.transcripts:
        detail += "\n\n" + outcome.transcripts["hbreak-if"][-6000:]
    assert not outcome.mismatches, f"{outcome.report()}\n{detail}"
    # The comparison means something: conditions were set, and some stopped and some did not.
    assert outcome.conditions - outcome.rejected_by_both >= outcome.conditions * 0.9
    assert 0 < outcome.expected_stops < outcome.hits
    assert outcome.tiers["kernel"] >= outcome.conditions * 0.6, outcome.report()


@pytest.mark.slow
@pytest.mark.parametrize("opt", ["-O0", "-O2"])
def test_hbreak_if_stops_where_gdb_break_if_stops(kernel_tier, opt):
    _, build = prepare(opt)

    # The same examples every run: CI must not turn red by chance; the long profile explores.
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],       # a failure names its conditions
              suppress_health_check=list(HealthCheck))
    @given(batch=conditions.hypothesis_rounds(build, ROUNDS), before_run=st.booleans())
    def differential(batch, before_run):
        _check(run_batch(opt, batch, arm_before_run=before_run))

    differential()


@pytest.mark.skipif(not LONG, reason="the long profile runs with HBREAK_IF_LONG=1")
def test_long_profile(kernel_tier, capsys):
    from reliability import long
    total = long.run(int(os.environ.get("HBREAK_IF_LONG_CONDITIONS", 10_000)),
                     jobs=os.cpu_count() or 2,
                     first_seed=int(os.environ.get("HBREAK_IF_LONG_SEED", 1)))
    with capsys.disabled():
        print("\n" + long.summary(total))
    assert not total.mismatches, "\n".join(str(m) for m in total.mismatches[:50])
