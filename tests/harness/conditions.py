"""GDB's `break target if COND` against the compiled predicate, for many conditions at once.

The programs (tests/programs/cond_diff.c, corpus_c.c, corpus_cpp.cpp) call a noinline
`target` once per iteration, with the iteration in the global `g_iter`, and speak the armed
protocol of tests/programs/armed.h.

1. In GDB, with the program live, every condition is compiled with compile_condition and
   the plugin's own agent_eval (GDB's real `maint agent-eval -at target`; the compile time
   is recorded).
2. In the same GDB, one `break target if COND` per condition; the program runs to the end,
   and at every stop the breakpoints whose hit counts grew say which conditions held (a
   condition GDB cannot evaluate -- unreadable memory, division by zero -- also stops).
3. Outside GDB, per condition, the program runs with the compiled predicate attached to a
   perf breakpoint at the same address; a SIGTRAP handler records the iterations that trap.
"""
from __future__ import annotations

import json
import re
import subprocess
import textwrap
from typing import List, Sequence, Tuple

from harness.gdb import run_gdb
from harness.paths import REPO
from gdb_plugin.kernel.bpf import BpfProgram
from gdb_plugin.kernel.perf import PerfBreakpoint

EXACT, PARTIAL, GDB_ONLY = "exact", "partial", "gdb"

GDB_SCRIPT = textwrap.dedent(r'''
    import json, sys, time
    import gdb
    sys.path.insert(0, REPO)
    from gdb_plugin.compiler import compile_condition, parse_listing
    from gdb_plugin.gdbside import agent
    from gdb_plugin.gdbside.callerfacts import FactsAt
    from gdb_plugin.compiler.narrowing import gdb_truncates_magnitude
    from gdb_plugin.compiler.predicate import build_program
    from gdb_plugin.compiler.result import KernelLeaf
    from gdb_plugin.ebpf import encode_program

    conditions = json.load(open(CONDITIONS_JSON))
    gdb.execute("break main", to_string=True)
    gdb.execute("run", to_string=True)
    probe_bp = gdb.Breakpoint("target", internal=True)
    address = probe_bp.locations[0].address
    probe_bp.delete()

    # What hbreak-if itself asks GDB, through the plugin's own agent_eval.
    agent_eval = agent.agent_eval_at(address, "target")
    is_program_symbol = agent.is_program_symbol(address)

    compiled = []
    for item in conditions:
        start = time.perf_counter()
        with agent.compiling_allowed(), agent.compiling():
            result = compile_condition(item["condition"], agent_eval, is_program_symbol,
                                       callers=FactsAt(address))
        seconds = time.perf_counter() - start
        # The compiler's own share: reading the listings, lowering, assembling.
        start = time.perf_counter()
        for _, ax in result.ax_listings:
            build_program(KernelLeaf("x", parse_listing(ax.listing)))
        pure = time.perf_counter() - start
        compiled.append({
            "rewritten": result.rewritten, "exact": result.exact,
            "kernel_part": result.kernel_part,
            "program": encode_program(result.program).hex(),
            "scopes": sorted({ax.scope for _, ax in result.ax_listings}),
            "notes": [str(note) for note in result.notes], "seconds": seconds,
            "pure_seconds": pure,
        })
    stops = None
    if RUN:
        breakpoints = []
        for item in conditions:
            bp = gdb.Breakpoint("target")
            bp.condition = item["gdb_condition"]
            breakpoints.append(bp)
        counts = [0] * len(breakpoints)
        stops = [[] for _ in breakpoints]
        while True:
            gdb.execute("continue", to_string=True)
            if not gdb.selected_inferior().pid:
                break
            iteration = int(gdb.parse_and_eval("g_iter"))
            for k, bp in enumerate(breakpoints):
                if bp.hit_count > counts[k]:
                    counts[k] = bp.hit_count
                    stops[k].append(iteration)
    json.dump({"address": address, "compiled": compiled, "stops": stops,
               "narrows_by_magnitude": gdb_truncates_magnitude()}, open(OUTPUT_JSON, "w"))
''')


def gdb_side(exe, tmp_path, conditions: Sequence[Tuple[str, str]], iterations: int,
             run: bool = True):
    """For (condition, GDB's spelling of it) pairs: {"address", "compiled": [...], and with
    `run`, "stops": [iterations GDB stopped at, per condition]}."""
    items = [{"condition": c, "gdb_condition": g} for c, g in conditions]
    (tmp_path / "conditions.json").write_text(json.dumps(items))
    script = tmp_path / "diff.py"
    script.write_text(f"REPO = {str(REPO)!r}\nCONDITIONS_JSON = "
                      f"{str(tmp_path / 'conditions.json')!r}\nOUTPUT_JSON = "
                      f"{str(tmp_path / 'out.json')!r}\nRUN = {run!r}\n" + GDB_SCRIPT)
    result = run_gdb(exe, [f"source {script}"], args=[iterations], plugin=False, timeout=600)
    if not (tmp_path / "out.json").exists():
        raise AssertionError(f"the GDB side failed:\n{result}")
    return json.loads((tmp_path / "out.json").read_text())


def kernel_side(exe, address, program_hex, iterations: int) -> List[int]:
    """Iterations at which the predicate let the breakpoint hit through."""
    proc = subprocess.Popen([str(exe), str(iterations), "armed"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        ready = proc.stdout.readline().split()
        assert ready and ready[0] == "ready", ready
        program = BpfProgram.load(bytes.fromhex(program_hex), name="cond_diff")
        with program, PerfBreakpoint.open(proc.pid, address) as bp:
            bp.attach_bpf(program)
            bp.enable()
            out, _ = proc.communicate("g", timeout=60)
            assert bp.count() == iterations
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    m = re.search(r"^hits:(.*)$", out, re.M)
    assert m, out
    return [int(v) for v in m.group(1).split()]


def kind(compiled) -> str:
    return (EXACT if compiled["exact"] else
            PARTIAL if compiled["kernel_part"] is not None else GDB_ONLY)


def disagreements(condition, compiled, gdb_stops, kernel_hits, address,
                  iterations: int, unsure_expected: bool = False) -> List[str]:
    """How the kernel disagrees with GDB on one condition, as sentences (none: it agrees).
    With `unsure_expected`, an exact condition may let hits through to GDB."""
    gdb_stops, kernel_hits = set(gdb_stops), set(kernel_hits)
    details = (f"{condition}\n    kernel part: {compiled['kernel_part']}\n"
               f"    notes: {compiled['notes']}\n    GDB stops only: "
               f"{sorted(gdb_stops - kernel_hits)[:20]}\n    kernel only: "
               f"{sorted(kernel_hits - gdb_stops)[:20]}")
    problems = []
    if not gdb_stops <= kernel_hits:
        problems.append("the kernel suppressed hits GDB stops at")
    if compiled["exact"] and not unsure_expected and gdb_stops != kernel_hits:
        problems.append("exact, but the kernel let through hits GDB does not stop at")
    if kind(compiled) == GDB_ONLY and kernel_hits != set(range(iterations)):
        problems.append("nothing compiled, yet the kernel suppressed hits")
    if compiled["scopes"] and compiled["scopes"] != [address]:
        problems.append(f"compiled for {compiled['scopes']}, not {address:#x}")
    return [f"{problem}: {details}" for problem in problems]
