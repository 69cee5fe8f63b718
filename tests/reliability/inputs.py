"""Bad input for `hbreak-if`: generated command lines, and the checks every one must pass.

A session (tests/reliability/input_driver.py) runs many command lines in one GDB and records,
after each, the user-visible result and the state left behind.  check_case() says what is
wrong with one case, if anything:
  * the command escaped GDB's error handling, or its error message is empty or a defect
    report (internal error, Python exception, traceback);
  * an error left something behind: an hbreak-if breakpoint, a catchpoint, a GDB breakpoint
    (visible or internal), or a perf event / BPF program / BPF map fd;
  * an accepted command did not clean up on `delete`.
"""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence

from harness.gdb import run_gdb

DRIVER = Path(__file__).resolve().parent / "input_driver.py"
DEFECT = re.compile(r"internal error|Traceback|Python Exception|Error occurred in Python|"
                    r"\w+Error: ", re.IGNORECASE)
KERNEL_FDS = ("anon_inode:[perf_event]", "anon_inode:bpf-prog", "anon_inode:bpf-map")

# Defects already reported, each pinned by a strict xfail test in test_reliability_bugs.py.
# A fuzzed case showing one of them is counted, not failed; when the bug is fixed, its xfail
# test passes (and so fails, being strict), and the entry here goes away.
KNOWN_DEFECTS: list = []


def known_defect(message: str) -> Optional[str]:
    for pattern, test in KNOWN_DEFECTS:
        if pattern.search(message or ""):
            return test
    return None


def kernel_fds(fds: dict) -> dict:
    return {kind: fds.get(kind, 0) for kind in KERNEL_FDS}


# Compiled C predicates stay loaded in a cache of at most 32 (gdb_plugin/cpred/predicate.py,
# MAX_CACHED), each a program and three maps: that many may outlive their breakpoints.
C_PREDICATE_CACHE = 32


def _kernel_fds_differ(state: dict, baseline: dict, cached: int) -> bool:
    now, before = kernel_fds(state), kernel_fds(baseline)
    if now["anon_inode:[perf_event]"] != before["anon_inode:[perf_event]"]:
        return True
    extra = min(cached, C_PREDICATE_CACHE)
    return not (before["anon_inode:bpf-prog"] <= now["anon_inode:bpf-prog"]
                <= before["anon_inode:bpf-prog"] + extra
                and before["anon_inode:bpf-map"] <= now["anon_inode:bpf-map"]
                <= before["anon_inode:bpf-map"] + 3 * extra)


def _state_differs(state: dict, baseline: dict, cached: int = 0) -> List[str]:
    problems = []
    if state["hbreak_if"]:
        problems.append(f"hbreak-if breakpoints left: {state['hbreak_if']}")
    if state["catchpoints"] != baseline["catchpoints"]:
        problems.append(f"{state['catchpoints']} catchpoints (before: {baseline['catchpoints']})")
    if state["breakpoints"] != baseline["breakpoints"]:
        problems.append(f"GDB breakpoints {state['breakpoints']} (before: "
                        f"{baseline['breakpoints']})")
    if _kernel_fds_differ(state["fds"], baseline["fds"], cached):
        problems.append(f"kernel fds {kernel_fds(state['fds'])} (before: "
                        f"{kernel_fds(baseline['fds'])})")
    # GDB itself keeps files open (symbol files of libraries it read); a few are not ours.
    if state["fds"].get("other", 0) > baseline["fds"].get("other", 0) + 8:
        problems.append(f"other fds {state['fds']} (before: {baseline['fds']})")
    return problems


def check_case(case: dict, baseline: dict, cached: int = 0) -> List[str]:
    """What is wrong with one recorded case (empty if nothing); `cached`: C predicates
    compiled so far in the session, which may stay loaded."""
    problems = []
    text = case.get("message") or case.get("output") or ""
    if case["outcome"] == "exception":
        problems.append(f"escaped GDB's error handling: {case['message']}")
    if case["outcome"] == "error":
        if not text.strip():
            problems.append("an error with no message")
        problems += _state_differs(case["after"], baseline, cached)
    if DEFECT.search(text):
        problems.append(f"defect in the message: {text[:300]!r}")
    if case["outcome"] == "accepted" and case.get("created"):
        problems += [f"after delete: {p}" for p in
                     _state_differs(case.get("after_delete", case["after"]), baseline, cached)]
    if case.get("delete_error"):
        problems.append(f"delete failed: {case['delete_error']}")
    return problems


def run_session(binary, commands: Sequence[str], live: bool = True, env=None,
                timeout: float = 600, warmup=("hbreak-if target i == 1",)):
    """Run `commands` in one GDB on `binary`; (result JSON, GdbResult)."""
    with tempfile.TemporaryDirectory(prefix="rel-input-") as tmp:
        tmp = Path(tmp)
        plan = {"cases": list(commands), "out": str(tmp / "out.json"),
                "start": "break main" if live else None, "warmup": list(warmup)}
        (tmp / "plan.json").write_text(json.dumps(plan))
        result = run_gdb(binary, [f"python REL_CASES = {str(tmp / 'plan.json')!r}",
                                  f"source {DRIVER}"], env=env, timeout=timeout)
        out = tmp / "out.json"
        data = json.loads(out.read_text()) if out.exists() else None
    return data, result


def problems_in(data, result):
    """[(command, [problems])] for every case with a problem, and {known defect: count}."""
    assert data is not None, f"the session did not finish:\n{result}"
    found, known, cached = [], {}, 0
    for case in data["cases"]:
        if case["outcome"] == "accepted" and re.search(r"(^|\s)-c(\s|$)", case["command"]):
            cached += 1
        problems = check_case(case, data["baseline"], cached)
        text = case.get("message") or case.get("output") or ""
        test = known_defect(text)
        if test:
            known[test] = known.get(test, 0) + 1
            problems = [p for p in problems if not p.startswith("defect in the message")]
        if problems:
            found.append((case["command"], problems))
    return found, known


# -- generated command lines ---------------------------------------------------------------------

FLAGS = ["-t", "-thread", "-ignore", "-c", "-explain", "--", "-", "-x", "--thread", "-T",
         "-ignore=3", "-thread=1", "-tt", "-explain-", "-if"]
NUMBERS = ["0", "1", "2", "-1", "99", "2147483647", "2147483648", "4294967296", "0x10", "010",
           "1e3", "1.1", "abc", "--1", "+1", "0b1", "1_0", "''", '""', "0x", "٣"]
LOCATIONS = ["target", "main", "nosuch", "*0", "*0x0", "*-1", "*0xffffffffffffffff", "*target",
             "*target+1", "*&g_counter", "*&target", "loop.c:26", "loop.c:99999", "loop.c:-5",
             "loop.c:0", "'target'", '"target"', "target:1", "+1", "-1", "*$pc", "*$sp",
             "puts", "exit", "*(", "loop.c:", ":", "::", "*", "&", "$pc", "target)",
             "'loop.c':26", "loop.c:target", "*target + 4", "-function", "-line", "-source",
             "-qualified", "-probe"]
CONDITION_PARTS = ["i", "i ==", "== i", "1", "0", "-1", "g_counter", "g_cur->id", "items[3].s",
                   "(", ")", "[", "]", "{int}", "*", "&", "!", "~", "&&", "||", "?", ":", ",",
                   "+", "<<", ">>", "%", "/", "sizeof", "(char)", "(struct item *)", "->",
                   ".", "$rax", "$pc", "rdi", "edi", "al", "$_siginfo", "$_", "$", "$$",
                   "$1", "$nonexistent", "$_streq(\"a\", \"a\")", "target(1)", "0x",
                   "08", "1.5", "'a'", "\"s\"", "if", "thread", "1 if", "task", "@", "#",
                   "'loop.c'::g_counter", "target::i", "::i", "=", "++", "--", "+=", "/*",
                   "*/", "//", "{", "}", "99999999999999999999999", "9223372036854775808"]
# Characters GDB's parser refuses (or, in a UTF-8 locale, takes for identifiers).
ODD = [";", "`", "\\", "'", '"', "ï", "日本", "\t", "  "]


def command_lines(draw, count: int) -> List[str]:
    """`count` command lines drawn with `draw` (a conditions.RandomDraw/HypothesisDraw)."""
    lines = []
    for _ in range(count):
        words = ["hbreak-if"]
        for _ in range(draw.integer(0, 3)):
            words.append(draw.choice(FLAGS))
            if draw.chance(0.6):
                words.append(draw.choice(NUMBERS))
        if draw.chance(0.9):
            words.append(draw.choice(LOCATIONS))
        if draw.chance(0.2):
            words.append("if")
        for _ in range(draw.integer(0, 6)):
            words.append(draw.choice(CONDITION_PARTS if draw.chance(0.92) else ODD))
        line = " ".join(words)
        if draw.chance(0.05):
            line = line + " " + " || ".join(["i == 1"] * draw.integer(50, 400))
        lines.append(line)
    return lines
