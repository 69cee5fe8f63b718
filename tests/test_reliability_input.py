"""Bad input: every malformed or adversarial `hbreak-if` command line is one GDB error (or a
warning) with a useful message, never a Python traceback or internal error, and leaves nothing
half-armed: no hbreak-if breakpoint, no stray catchpoint or internal breakpoint, no perf event
or BPF fd in the GDB process.  Input GDB accepts -- huge, deeply nested, near the limits of the
eBPF verifier -- is either accepted with GDB's own stops or falls back with a message.
"""
import re

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from harness.gdb import gdb_major
from harness.programs import build
from harness.stops import gdb_stops, hbreak_if_stops
from reliability.conditions import HypothesisDraw
from reliability.inputs import (C_PREDICATE_CACHE, check_case, command_lines, kernel_fds,
                                problems_in, run_session)


@pytest.fixture(scope="module")
def loop():
    return build("loop")


def _assert_clean(data, result, minimum_errors=1):
    found, known = problems_in(data, result)
    report = "\n".join(f"{command[:200]!r}:\n    " + "\n    ".join(problems)
                       for command, problems in found[:30])
    assert not found, f"{len(found)} of {len(data['cases'])} cases went wrong:\n{report}"
    assert "Traceback" not in result.output and "Python Exception" not in result.output, result
    errors = [c for c in data["cases"] if c["outcome"] == "error"]
    assert len(errors) >= minimum_errors
    # Nothing accumulated over the whole session (but the C predicates' bounded cache).
    final, baseline = kernel_fds(data["final"]["fds"]), kernel_fds(data["baseline"]["fds"])
    assert final["anon_inode:[perf_event]"] == baseline["anon_inode:[perf_event]"]
    assert final["anon_inode:bpf-prog"] <= baseline["anon_inode:bpf-prog"] + C_PREDICATE_CACHE
    assert not data["final"]["hbreak_if"]
    return known


@pytest.mark.parametrize("live", [True, False], ids=["program-stopped", "no-program"])
def test_fuzzed_command_lines_fail_cleanly(kernel_tier, loop, live):
    @settings(max_examples=2, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.data())
    def fuzz(data):
        lines = command_lines(HypothesisDraw(data.draw), 150)
        session, result = run_session(loop, lines, live=live)
        _assert_clean(session, result)

    fuzz()


ADVERSARIAL = [
    # (command, what the user must see: a regex on the error message, or None if accepted)
    ("hbreak-if", r"a location is needed"),
    ("hbreak-if -t", r"a location is needed"),
    ("hbreak-if -thread", r"-thread needs a value"),
    ("hbreak-if -thread 1.1 target i == 2", r"-thread takes a number"),
    ("hbreak-if -thread -1 target i == 2", r"at least 0"),
    ("hbreak-if -thread 0 target i == 2", r"Unknown thread 0"),
    ("hbreak-if -thread 99999999999999999999 target i == 2", r"Unknown thread"),
    ("hbreak-if -ignore -1 target i == 2", r"at least 0"),
    ("hbreak-if -ignore 1e3 target i == 2", r"-ignore takes a number"),
    ("hbreak-if -ignore target i == 2", r"-ignore takes a number, not 'target'"),
    ("hbreak-if -ignore " + "9" * 5000 + " target i == 1", r"-ignore takes a number"),
    ("hbreak-if -x target i == 2", r"invalid explicit location argument"),
    # GDB 16 and 18 read a lone `-` as a line offset, pending where that line has no code,
    # as for `break -`; GDB 13 leaves it to the condition, a syntax error.
    ("hbreak-if - target i == 2", r"syntax error" if gdb_major() < 16 else None),
    ("hbreak-if -- -t target i == 2", r"invalid explicit location"),
    ("hbreak-if -explain nosuch i == 1", r"pending: nothing to compile"),
    ("hbreak-if -c", r"a location is needed"),
    ("hbreak-if -c target", r"-c needs a C predicate"),
    ("hbreak-if -c -explain target 1", r"-explain shows GDB conditions"),
    ("hbreak-if 'target i == 1", r"unbalanced '"),
    ('hbreak-if "target i == 1', r'unbalanced "'),
    ("hbreak-if target(", r"unbalanced bracket"),
    ("hbreak-if ( target", r"unbalanced bracket"),
    ("hbreak-if [ target", r"unbalanced bracket"),
    ("hbreak-if target (i == 1", r"syntax error"),
    ("hbreak-if target i == 1)", r"Junk at end of expression"),
    ("hbreak-if target [i", r"syntax error"),
    ("hbreak-if target: i == 1", r"malformed linespec"),
    ("hbreak-if :target i == 1", r"malformed linespec"),
    ("hbreak-if target if if", r"syntax error"),
    ("hbreak-if target i == 1 thread 1", r"Junk at end of expression"),
    ("hbreak-if target sizeof", r"syntax error"),
    ("hbreak-if target #", r"Invalid character '#'"),
    ("hbreak-if target i == 'ab'", r"Invalid character constant"),
    ("hbreak-if target 0x", r'Invalid number "0x"'),
    ("hbreak-if target 08", r'Invalid number "08"'),
    ("hbreak-if target 99999999999999999999999999", r"Numeric constant too large"),
    ("hbreak-if target i == 1 &&", r"syntax error"),
    ("hbreak-if target && i == 1", r"syntax error"),
    ("hbreak-if target i ? 1 :", r"syntax error"),
    ("hbreak-if target (struct nosuch *)0", r"No struct type named nosuch"),
    ("hbreak-if target no_such_variable == 1", r'No symbol "no_such_variable"'),
    ("hbreak-if target $(echo pwned)", r'No symbol "echo"'),
    ("hbreak-if target i == 1 /* comment */", r'No symbol "comment"'),
    ("hbreak-if target i == 1 // x", r"syntax error"),
    ("hbreak-if target " + "a" * 100_000 + " == 1", r"No symbol"),
    ("hbreak-if target i == " + "1" * 5000, r"Numeric constant too large"),
    # Accepted, as GDB accepts them (GDB evaluates what the kernel cannot).
    ("hbreak-if target", None),
    ("hbreak-if -t -ignore 0x10 target i == 2", None),
    ("hbreak-if -- target i == 2", None),
    ("hbreak-if 'target' i == 1", None),
    ('hbreak-if "target" i == 1', None),
    ("hbreak-if target:1 i == 1", None),
    ("hbreak-if *target+1 i == 1", None),
    ("hbreak-if *0 1", None),
    ("hbreak-if *0xffffffffffffffff 1", None),
    ("hbreak-if *&g_counter 1", None),
    ("hbreak-if nosuch i == 1", None),                      # pending, as GDB's break can be
    ("hbreak-if loop.c:99999 i == 1", None),
    ("hbreak-if puts 1", None),
    ("hbreak-if target $_siginfo.si_signo == 5", None),
    ("hbreak-if target $_streq(\"a\", \"a\")", None),
    ("hbreak-if target i == \"string\"", None),
    ("hbreak-if target $xmm0.v4_int32[0] == 1", None),
    ("hbreak-if target $fs_base == 1", None),
    ("hbreak-if target $k0 == 1", None),
    ("hbreak-if target ((struct item *)0)->id == 0", None),
    ("hbreak-if target *(int *)0 == 0", None),
    ("hbreak-if target 'loop.c'::g_counter == 1", None),
    ("hbreak-if target target::i == 1", None),
    ("hbreak-if target " + " || ".join(f"i == {k}" for k in range(1, 200)), None),
    ("hbreak-if target " + "(" * 100 + "i" + ")" * 100 + " == 3", None),
    ("hbreak-if target " + " && ".join(f"g_cur->big != {k}" for k in range(1, 500)), None),
    ("hbreak-if target " + "".join("(i + " for _ in range(200)) + "0" + ")" * 200 + " == 5",
     None),
    ("hbreak-if target " + "".join(f"(i == {k} ? {k} : " for k in range(300)) + "0"
     + ")" * 300 + " == 5", None),
]


def test_adversarial_command_lines(kernel_tier, loop):
    session, result = run_session(loop, [command for command, _ in ADVERSARIAL])
    _assert_clean(session, result)
    wrong = []
    for (command, expected), case in zip(ADVERSARIAL, session["cases"]):
        if expected is None:
            if case["outcome"] != "accepted" or not re.search(r"^hbreak-if \d+ at ",
                                                              case["output"], re.M):
                wrong.append((command, case))
        elif case["outcome"] != "error" or not re.search(expected, case["message"]):
            wrong.append((command, case))
    assert not wrong, "\n".join(f"{c[:120]!r}: {case.get('message') or case.get('output')!r}"
                                for c, case in wrong)


def test_bad_input_before_the_program_runs(kernel_tier, loop):
    session, result = run_session(loop, [command for command, _ in ADVERSARIAL], live=False)
    _assert_clean(session, result)


HUGE_CONDITIONS = [
    " || ".join(f"i == {k * 7}" for k in range(1, 200)),
    " && ".join(f"g_cur->big != -{k}" for k in range(1, 400)),
    "(" * 100 + "i" + ")" * 100 + " == 33",
    "".join("(i + " for _ in range(60)) + "0" + ")" * 60 + " == 6000",
    "".join(f"(i == {k} ? {k + 1} : " for k in range(150)) + "0" + ")" * 150 + " == 77",
    " + ".join(f"items[{k % 16}].s" for k in range(1, 300)) + " < i * -40",
    " ^ ".join(f"(i > {k} ? items[{k % 16}].id : items[{(k + 3) % 16}].s)"
               for k in range(1, 100)) + " == 5",
]


@pytest.mark.parametrize("condition", HUGE_CONDITIONS,
                         ids=["or-199", "and-399", "parens-100", "nested-sum-60",
                              "ternary-chain-150", "sum-299-loads", "xor-99-ternaries"])
def test_huge_and_deep_conditions_stop_where_gdb_does(kernel_tier, loop, condition):
    expected = gdb_stops(loop, "target", condition, args=["300"])
    got, result = hbreak_if_stops(loop, "target", condition, args=["300"])
    assert got == expected
    assert "Traceback" not in result.output and "internal error" not in result.output


def test_unicode_in_a_utf8_locale_is_gdbs_error(kernel_tier, loop):
    lines = ["hbreak-if target ї == 1", "hbreak-if 日本 i == 1", "hbreak-if target i == ٣",
             "hbreak-if target\u00a0i == 1", "hbreak-if -thread ٣ target i == 1"]
    session, result = run_session(loop, lines, env={"LC_ALL": "C.UTF-8"})
    found, known = problems_in(session, result)
    assert not found, found
    for case in session["cases"]:
        assert case["outcome"] in ("error", "accepted")


def test_cases_check_catches_leftovers():
    """The checker itself: a leftover fd or catchpoint after an error is reported."""
    baseline = {"hbreak_if": [], "breakpoints": [1], "catchpoints": 0,
                "fds": {"other": 10}}
    leaking = {"command": "x", "outcome": "error", "message": "No symbol",
               "after": {"hbreak_if": [], "breakpoints": [1], "catchpoints": 1,
                         "fds": {"other": 10, "anon_inode:[perf_event]": 1}}}
    problems = check_case(leaking, baseline)
    assert any("catchpoints" in p for p in problems)
    assert any("kernel fds" in p for p in problems)
    assert check_case({**leaking, "after": baseline}, baseline) == []
    assert check_case({**leaking, "after": baseline, "message": "hbreak-if: internal error: X"},
                      baseline)
