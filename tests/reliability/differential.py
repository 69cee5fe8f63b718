"""The differential run: the same rounds of conditions under GDB's `break LOCATION if COND`
and under `hbreak-if LOCATION COND`, compared hit by hit.

One batch = two GDB sessions (tests/reliability/gdb_driver.py in each), whatever the number
of conditions: a round arms one condition per slot of rel_diff (four distinct addresses, so
each breakpoint has a debug register of its own) and the program runs the round's N
iterations; then the next round is armed.  A stop is named by (round, g_tick, pc), which is
the same in both sessions because both run the same program with the same arguments and the
same rounds.
"""
from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from harness.gdb import run_gdb
from harness.paths import PROGRAMS
from harness.programs import build
from reliability.conditions import Build, Condition, all_conditions

DRIVER = Path(__file__).resolve().parent / "gdb_driver.py"
ITERATIONS = 40
# What must never appear in a transcript of either session.
DEFECT = re.compile(r"Traceback|Python Exception|internal error|hbreak-if: \w+Error",
                    re.IGNORECASE)
# Defect messages already reported, each pinned by a strict xfail test in
# test_reliability_bugs.py; counted, not failed (the stops are still compared).
KNOWN_DEFECTS = []


def inner_line() -> int:
    lines = (PROGRAMS / "rel_diff.c").read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if "/* @inner */" in line)


_BUILDS: Dict[str, tuple] = {}


def prepare(opt: str):
    """(binary, Build) for rel_diff built with `opt`."""
    if opt not in _BUILDS:
        binary = build("rel_diff", opt)
        offsets = {}
        result = run_gdb(binary, [f"disassemble {fn}" for fn in ("f_int", "f_wide", "f_ptr")],
                         plugin=False).check()
        function = None
        for line in result.stdout.splitlines():
            m = re.match(r"Dump of assembler code for function (\w+):", line)
            if m:
                function = m.group(1)
                continue
            m = re.match(r"\s+0x[0-9a-f]+ <\+(\d+)>:", line)
            if m and function and len(offsets.setdefault(function, [])) < 4:
                offsets[function].append(int(m.group(1)))
        _BUILDS[opt] = binary, Build(opt, inner_line(), offsets)
    return _BUILDS[opt]


@dataclass
class Mismatch:
    condition: Optional[Condition]
    what: str
    expected: object = None
    got: object = None

    def __str__(self):
        c = self.condition
        head = (f"[{c.location}] gdb: `break {c.location} if {c.gdb}`  hbreak-if: "
                f"`hbreak-if {c.location} {c.hbreak}`" if c else "[session]")
        return f"{head}\n    {self.what}: expected {self.expected!r}, got {self.got!r}"


@dataclass
class Outcome:
    conditions: int = 0
    rejected_by_both: int = 0
    hits: int = 0
    stops: int = 0
    expected_stops: int = 0
    tiers: Counter = field(default_factory=Counter)
    known: Counter = field(default_factory=Counter)       # mismatches of reported bugs
    rechecked: int = 0                 # hits the kernel let through to GDB's own check
    rejected_by_gdb: int = 0           # ... where GDB found the condition false
    # Conditions entirely in the kernel whose filter still let through hits GDB rejects.
    loose: List[tuple] = field(default_factory=list)
    mismatches: List[Mismatch] = field(default_factory=list)
    seconds: Dict[str, float] = field(default_factory=dict)
    transcripts: Dict[str, str] = field(default_factory=dict)

    def add(self, other: "Outcome") -> None:
        self.conditions += other.conditions
        self.rejected_by_both += other.rejected_by_both
        self.hits += other.hits
        self.stops += other.stops
        self.expected_stops += other.expected_stops
        self.tiers.update(other.tiers)
        self.known.update(other.known)
        self.rechecked += other.rechecked
        self.rejected_by_gdb += other.rejected_by_gdb
        self.loose += other.loose
        self.mismatches += other.mismatches
        for k, v in other.seconds.items():
            self.seconds[k] = self.seconds.get(k, 0.0) + v

    def report(self) -> str:
        return (f"conditions tried: {self.conditions} (rejected by both GDB and hbreak-if: "
                f"{self.rejected_by_both}), hits: {self.hits}, stops: {self.stops} "
                f"(GDB's break-if: {self.expected_stops}), mismatches: {len(self.mismatches)}, "
                f"tiers: {dict(self.tiers)}; hits the kernel let through: {self.rechecked}, "
                f"of which GDB rejected: {self.rejected_by_gdb}; known bugs: {dict(self.known)}")


def session(binary, mode: str, batch, tmp: Path, iterations: int, arm_before_run=False):
    plan = {"mode": mode, "rounds": [[c.entry() for c in r] for r in batch],
            "out": str(tmp / f"{mode}.json"), "arm_before_run": arm_before_run}
    plan_path = tmp / f"{mode}-plan.json"
    plan_path.write_text(json.dumps(plan))
    result = run_gdb(binary, [f"python REL_PLAN = {str(plan_path)!r}", f"source {DRIVER}"],
                     args=[iterations, len(batch)], plugin=(mode == "hbreak-if"),
                     timeout=600)
    out = tmp / f"{mode}.json"
    data = json.loads(out.read_text()) if out.exists() else {"driver_error": "no result"}
    return data, result


def _stops_by_id(data) -> Dict[int, List[tuple]]:
    found: Dict[int, List[tuple]] = {}
    for stop in data.get("stops", []):
        for ident in stop["ids"]:
            found.setdefault(ident, []).append((stop["round"], stop["tick"], stop["pc"]))
    return found


def _error_stops(data) -> Dict[int, set]:
    """{id: stops where GDB's own evaluation of the condition raised an error}"""
    found: Dict[int, set] = {}
    for stop in data.get("stops", []):
        for ident in stop.get("errors", ()):
            found.setdefault(ident, set()).add((stop["round"], stop["tick"], stop["pc"]))
    return found


def _session_problems(name, data, result, known: Counter) -> List[str]:
    problems = []
    if data.get("driver_error"):
        problems.append(f"{name}: driver error: {data['driver_error']}")
    if data.get("aborted"):
        problems.append(f"{name}: {data['aborted']}")
    if data.get("exit_code") != 0:
        problems.append(f"{name}: the program's exit code is {data.get('exit_code')!r}")
    if data.get("unexpected"):
        problems.append(f"{name}: stops no breakpoint explains: {data['unexpected'][:5]}")
    if result.returncode != 0:
        problems.append(f"{name}: gdb exited with {result.returncode}")
    defects = [line for line in result.output.splitlines()
               if DEFECT.search(line) and not any(p.search(line) for p, _ in KNOWN_DEFECTS)]
    for line in result.output.splitlines():
        for pattern, test in KNOWN_DEFECTS:
            if pattern.search(line):
                known[test] += 1
    if defects:
        problems.append(f"{name}: {defects[:5]}")
    return problems


def compare(batch, reference, hbreak, ref_result, hb_result) -> Outcome:
    outcome = Outcome()
    expected, got = _stops_by_id(reference), _stops_by_id(hbreak)
    errors = _error_stops(reference)
    for problem in (_session_problems("break", reference, ref_result, outcome.known)
                    + _session_problems("hbreak-if", hbreak, hb_result, outcome.known)):
        outcome.mismatches.append(Mismatch(None, problem))
    for c in all_conditions(batch):
        outcome.conditions += 1
        ref = reference.get("conditions", {}).get(str(c.id), {})
        hb = hbreak.get("conditions", {}).get(str(c.id), {})
        if "rejected" in ref or "rejected" in hb:
            if "rejected" in ref and "rejected" in hb:
                outcome.rejected_by_both += 1
            else:
                outcome.mismatches.append(Mismatch(c, "accepted by one, refused by the other",
                                                   ref.get("rejected", "accepted"),
                                                   hb.get("rejected", "accepted")))
            continue
        outcome.tiers[hb.get("tier_at_end") or hb.get("tier")] += 1
        outcome.hits += hb.get("hits") or 0
        outcome.rechecked += hb.get("rechecked") or 0
        outcome.rejected_by_gdb += hb.get("rejected_by_gdb") or 0
        if hb.get("tier_at_end") == "kernel" and not hb.get("notes") and hb.get("rejected_by_gdb"):
            outcome.loose.append((c, hb["rejected_by_gdb"], hb.get("hits")))
        e, g = sorted(expected.get(c.id, [])), sorted(got.get(c.id, []))
        outcome.stops += len(g)
        outcome.expected_stops += len(e)
        if e != g:
            missing = sorted(set(e) - set(g))
            extra = sorted(set(g) - set(e))
            if missing and set(missing) <= errors.get(c.id, set()):
                what = "stops lost where GDB's evaluation of the condition fails; "
            else:
                what = ""
            outcome.mismatches.append(Mismatch(
                c, f"{what}stops (round, tick, pc) differ; {len(e)} expected, {len(g)} made; "
                   f"lost: {missing[:6]}, spurious: {extra[:6]}", len(e), len(g)))
    outcome.seconds = {"break": reference.get("seconds", 0.0),
                       "hbreak-if": hbreak.get("seconds", 0.0)}
    if outcome.mismatches:
        outcome.transcripts = {"break": str(ref_result), "hbreak-if": str(hb_result)}
    return outcome


def run_batch(opt: str, batch, iterations: int = ITERATIONS,
              arm_before_run: bool = False) -> Outcome:
    """Both sessions over `batch`; with arm_before_run, round 0 is set before `run`."""
    binary, _ = prepare(opt)
    with tempfile.TemporaryDirectory(prefix="rel-diff-") as tmp:
        tmp = Path(tmp)
        reference, ref_result = session(binary, "break", batch, tmp, iterations,
                                        arm_before_run)
        hbreak, hb_result = session(binary, "hbreak-if", batch, tmp, iterations,
                                    arm_before_run)
    return compare(batch, reference, hbreak, ref_result, hb_result)
