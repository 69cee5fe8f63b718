"""`hbreak-if -c`: raw C predicates compiled with BCC, in real GDB."""
import re

from harness.gdb import NO_BREAKPOINTS, run_gdb
from harness.programs import build
from harness.stops import gdb_stops, stops


def test_string_compare_stops_where_gdb_streq_does(kernel_tier, bcc):
    words = build("words")
    got, result = stops(words, "hbreak-if -c lookup 'str_eq_user(ARG(1), \"needle\")'", args=["60"])
    assert got == gdb_stops(words, "lookup", '$_streq(word, "needle")', args=["60"])
    assert got == list(range(1, 60, 6))
    assert "[kernel tier]" in result.stdout


def test_state_across_hits_stops_at_the_third_odd_argument(kernel_tier, bcc):
    words = build("words")
    result = run_gdb(words, ["hbreak-if -c lookup (REG(rsi) & 1) && STATE_INC(0) == 3", "run",
                             "print i", "info hbreak-if", "continue"], args=["60"]).check()
    assert result.values()[1] == "5"
    assert re.search(r"C predicate \(expression\): \(REG\(rsi\) & 1\) && STATE_INC\(0\) == 3", result.stdout)
    assert re.search(r"compiled by BCC in \d+\.\d+ s", result.stdout)
    assert "exited normally" in result.stdout


def test_a_compile_error_is_the_compilers_message_and_sets_nothing(kernel_tier, bcc):
    words = build("words")
    result = run_gdb(words, ["hbreak-if -c lookup no_such_variable > ARG(1)", "info hbreak-if",
                             "info breakpoints"])
    assert re.search(r"^predicate:1:1: error: use of undeclared identifier .no_such_variable.", result.stderr, re.M), result.stderr
    assert "Traceback" not in result.output
    assert "No hbreak-if breakpoints." in result.stdout
    assert NO_BREAKPOINTS.search(result.stdout), result.stdout
