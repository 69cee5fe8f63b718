"""The compiler's differential corpus through the `hbreak-if` command, in each tier: the
iterations at which hbreak-if stops equal those at which GDB's own `break target if COND`
stops (the corpus and GDB's side come from test_compiler_gdb_diff).  In every tier GDB checks
the condition at its own breakpoint's stop, so `$_siginfo` is a SIGTRAP's there too."""
import json
import textwrap

import pytest

from harness.gdb import run_gdb
from harness.paths import REPO
from harness.programs import build
from harness.conditions import gdb_side
from test_compiler_gdb_diff import CONDITIONS, ITERATIONS

PER_RUN = 4  # x86 debug registers: more would fall back to software breakpoints

HBREAK_IF_SCRIPT = textwrap.dedent(r'''
    import json
    import gdb
    import gdb_plugin

    gdb.execute(f"set hbreak-if tier {TIER}")
    # Set where GDB's side sets its breakpoints: in the running program.
    gdb.execute("break main", to_string=True)
    gdb.execute("run", to_string=True)
    gdb.execute("delete", to_string=True)
    breakpoints = [gdb_plugin.hbreak_if("target", condition) for condition in CONDITIONS]
    stops = [[] for _ in breakpoints]
    counts = [0] * len(breakpoints)
    gdb.execute("continue", to_string=True)
    while gdb.selected_inferior().pid:
        iteration = int(gdb.parse_and_eval("g_iter"))
        for k, bp in enumerate(breakpoints):
            if bp.stops > counts[k]:
                counts[k] = bp.stops
                stops[k].append(iteration)
        gdb.execute("continue", to_string=True)
    json.dump({"stops": stops, "tiers": [bp.tier for bp in breakpoints]}, open(OUTPUT, "w"))
''')


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """GDB's own stops for every condition of the corpus, in one GDB session."""
    exe = build("cond_diff", "-O0", extra=("-no-pie",))
    spellings = [(c[0], c[2] if len(c) > 2 else c[0]) for c in CONDITIONS]
    return exe, gdb_side(exe, tmp_path_factory.mktemp("gdb-side"), spellings, ITERATIONS)["stops"]


def _hbreak_if_stops(exe, conditions, tier, tmp_path):
    script, output = tmp_path / "run.py", tmp_path / "out.json"
    script.write_text(f"TIER = {tier!r}\nCONDITIONS = {conditions!r}\nOUTPUT = {str(output)!r}\n"
                      + HBREAK_IF_SCRIPT)
    result = run_gdb(exe, [f"source {script}"], args=[ITERATIONS], timeout=300)
    assert output.exists(), f"the hbreak-if side failed:\n{result}"
    assert "Traceback" not in result.output, result
    return json.loads(output.read_text())


@pytest.mark.parametrize("tier", ["kernel", "kernel-signal", "ptrace", "uprobe"])
@pytest.mark.parametrize("batch", range(0, len(CONDITIONS), PER_RUN * 4))
def test_same_stops_as_gdb_in_every_tier(kernel_tier, expected, tier, batch, tmp_path):
    exe, gdb_stops = expected
    # Uprobes need no debug register: a batch at once, in a copy of the program of its own (no
    # uprobe goes in a file another debugged process runs).
    per_run = PER_RUN * 4 if tier == "uprobe" else PER_RUN
    if tier == "uprobe":
        exe = build("cond_diff", "-O0", extra=("-no-pie", f"-DCOPY={batch}"))
    problems = []
    for start in range(batch, min(batch + PER_RUN * 4, len(CONDITIONS)), per_run):
        chosen = list(range(start, min(start + per_run, len(CONDITIONS))))
        conditions = [CONDITIONS[k][0] for k in chosen]
        got = _hbreak_if_stops(exe, conditions, tier, tmp_path)
        for k, stops, bp_tier in zip(chosen, got["stops"], got["tiers"]):
            if stops != gdb_stops[k]:
                problems.append(f"{CONDITIONS[k][0]!r} ({bp_tier}): hbreak-if stopped at "
                                f"{stops[:12]}..., GDB at {gdb_stops[k][:12]}...")
    assert not problems, "\n".join(problems)
