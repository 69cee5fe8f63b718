"""Raw C predicates compiled with BCC, loaded, and attached to perf breakpoints on real children.

Subjects: tests/programs/cpred_strings.c (target(const char *s) with the strings listed there)
and tests/programs/kernel_calls.c (target(x) for x = 0..N-1), both driven by
tests/test_kernel_perf.py's Subject, which reports which calls raised a SIGTRAP.

Without BCC these tests skip (fail with HBREAK_IF_REQUIRE_BCC=1); the ones that load programs
also need the kernel tier.
"""
import os
import uuid

import pytest

from harness.gdb import run_gdb
from harness.paths import REPO
from harness.programs import build

from gdb_plugin.cpred import (BODY, EXPRESSION, CompileError, CPredicateError, LoadError,
                              bcc_status, compile_c_predicate)
from gdb_plugin.kernel.perf import PerfBreakpoint
from test_kernel_perf import SIG_DATA, TRAP_PERF, Subject

# cpred_strings.c: WORDS[x % 8]; "needle" at 1 and 6, an unreadable pointer at 7.
NWORDS = 8
NEEDLE = (1, 6)
UNREADABLE = 7


def unique(text):
    """`text` with a comment that no other test (or earlier run in this process) used, so that
    the first compile is a real one and not a cache hit."""
    return "%s /* %s */" % (text, uuid.uuid4().hex)


@pytest.fixture(scope="module")
def strings_exe():
    return build("cpred_strings", "-O2", extra=("-no-pie",))


@pytest.fixture(scope="module")
def calls_exe():
    return build("kernel_calls", "-O2", extra=("-no-pie",))


@pytest.fixture
def start():
    started = []

    def run(exe, n):
        s = Subject(exe, n)
        started.append(s)
        return s
    yield run
    for s in started:
        s.kill()


def stops(subject, pred):
    """Arm a perf breakpoint with `pred` on the subject's target, run it, and return the x of
    every call that raised a SIGTRAP (checking that each was our perf trap)."""
    with PerfBreakpoint.open(subject.pid, subject.target, sig_data=SIG_DATA) as bp:
        bp.attach_bpf(pred)
        bp.enable()
        traps = subject.go()
        assert bp.count() == subject.n      # every call was seen by the hardware
    assert {t[1:4] for t in traps} <= {(TRAP_PERF, SIG_DATA, subject.target)}
    return [t[0] for t in traps]


# ---- (a) strings and loops over a buffer ----

LOOP_BODY = r"""
/* Copy the argument, then walk it: stop when it is exactly "needle". */
char s[16];
long n = bpf_probe_read_user_str(s, sizeof(s), (const void *)ARG(1));
if (n < 0)
	return 1;	/* unreadable: let GDB decide */
u64 want = 0x656c6465656eULL;	/* "needle", little-endian */
int len = 0;
for (int i = 0; i < sizeof(s); i++) {
	if (s[i] == 0)
		break;
	if (i >= 6 || s[i] != (char)(want >> (8 * i)))
		return 0;
	len++;
}
return len == 6;
"""


@pytest.mark.parametrize("text, kind", [
    ('str_eq_user(ARG(1), "needle")', EXPRESSION),
    (LOOP_BODY, BODY),
], ids=["str_eq_user", "loop"])
def test_stop_when_the_string_argument_is_needle(kernel_tier, bcc, strings_exe, start, text,
                                                 kind):
    with compile_c_predicate(unique(text), 1) as pred:
        assert pred.kind == kind and not pred.stateful
        s = start(strings_exe, 5 * NWORDS)
        expected = [x for x in range(s.n) if x % NWORDS in NEEDLE + (UNREADABLE,)]
        assert stops(s, pred) == expected


def test_unreadable_memory_stops(kernel_tier, bcc, strings_exe, start):
    # A predicate that would never stop by itself still stops where it cannot read.
    with compile_c_predicate(unique("load_user(char, ARG(1)) == 'Z'"), 1) as pred:
        s = start(strings_exe, 3 * NWORDS)
        assert stops(s, pred) == [x for x in range(s.n) if x % NWORDS == UNREADABLE]


def test_true_64_bit_value_stops(kernel_tier, bcc, calls_exe, start):
    # The kernel reads only 32 bits of the result; a body returning a high bit must still stop.
    with compile_c_predicate(unique("return (REG(rdi) + 1) << 40;"), 1) as pred:
        s = start(calls_exe, 5)
        assert stops(s, pred) == [0, 1, 2, 3, 4]
    with compile_c_predicate(unique("return REG(rdi) << 40;"), 1) as pred:
        s = start(calls_exe, 5)
        assert stops(s, pred) == [1, 2, 3, 4]


def test_registers_by_name(kernel_tier, bcc, calls_exe, start):
    text = "REG(rdi) == 7 || (int)REG(edi) == 9 || ARG(1) == 11 || ctx->regs.di == 13"
    with compile_c_predicate(unique(text), 1) as pred:
        s = start(calls_exe, 20)
        assert stops(s, pred) == [7, 9, 11, 13]


# ---- (b) state across hits ----

def test_third_odd_rdi(kernel_tier, bcc, calls_exe, start):
    with compile_c_predicate("(REG(rdi) & 1) && STATE_INC(0) == 3", 1) as pred:
        assert pred.stateful and pred.kind == EXPRESSION
        s = start(calls_exe, 20)
        assert stops(s, pred) == [5]        # odd values 1, 3, 5: the third is 5
        assert pred.state(0) == 10          # every odd value was counted
        assert pred.state(1) == 0


def test_state_by_key(kernel_tier, bcc, calls_exe, start):
    with compile_c_predicate("return STATE_BY(REG(rdi) % 3)++ == 2;", 1) as pred:
        assert pred.kind == BODY
        s = start(calls_exe, 20)
        assert stops(s, pred) == [6, 7, 8]  # the third time each residue comes up
        assert pred.state_keys() == [0, 1, 2]
        assert [pred.state_by(k) for k in (0, 1, 2, 3)] == [7, 7, 6, 0]
        pred.reset_state()
        assert pred.state_keys() == []


def test_state_is_per_breakpoint(kernel_tier, bcc, calls_exe, start):
    text = unique("STATE_INC(0) == 2")
    with compile_c_predicate(text, 1) as one, compile_c_predicate(text, 2) as two:
        assert not two.cached and one.fd != two.fd
        s = start(calls_exe, 4)
        assert stops(s, one) == [1]
        assert one.state(0) == 4 and two.state(0) == 0
        s = start(calls_exe, 4)
        assert stops(s, two) == [1]


def test_state_starts_over_when_handed_out_again(kernel_tier, bcc, calls_exe, start):
    text = unique("STATE_INC(0) == 2")
    with compile_c_predicate(text, 1) as pred:
        stops(start(calls_exe, 3), pred)
        assert pred.state(0) == 3
        with compile_c_predicate(text, 1) as same:     # still open: shared, state kept
            assert same.cached and same.fd == pred.fd and same.state(0) == 3
    with compile_c_predicate(text, 1) as again:       # all closed before: fresh state
        assert again.cached and again.state(0) == 0
        assert stops(start(calls_exe, 3), again) == [1]


# ---- (c) errors ----

def test_compile_error_names_the_users_line(bcc):
    text = unique("u64 x = REG(rdi);\nif (x > 3)\n\treturn x == undefined_name;\nreturn 0;")
    with pytest.raises(CompileError) as info:
        compile_c_predicate(text, 1)
    e = info.value
    assert (e.line, e.column) == (3, 14)
    msg = str(e)
    assert msg.startswith(
        "predicate:3:14: error: use of undeclared identifier 'undefined_name'")
    assert "return x == undefined_name;" in msg
    assert "Traceback" not in msg and "/virtual/main.c" not in msg


def test_compile_error_in_an_expression(bcc):
    with pytest.raises(CompileError) as info:
        compile_c_predicate(unique("REG(rdi) == 1 && REG(rsi) = 2"), 1)
    assert (info.value.line, info.value.column) == (1, 27)
    assert "predicate:1:27: error: expression is not assignable" in str(info.value)


def test_statements_without_return_get_a_hint(bcc):
    with pytest.raises(CompileError) as info:
        compile_c_predicate(unique("u64 x = REG(rdi); x == 5"), 1)
    e = info.value
    assert e.line == 1 and "predicate:1:5: error: expected ')'" in e.diagnostics
    assert str(e).endswith("a body with statements must return its verdict")
    assert "no `return`" not in e.diagnostics


def test_unknown_register(bcc):
    with pytest.raises(CompileError) as info:
        compile_c_predicate(unique("REG(xmm0) == 1"), 1)
    assert info.value.line == 1
    assert "HBREAK_IF_T_xmm0" in str(info.value) and "macro 'REG'" in str(info.value)


def test_backend_error_is_a_message_not_an_exit(bcc):
    # LLVM calls exit(1) on this one; the compile runs in a child, so we are still here.
    with pytest.raises(CompileError) as info:
        compile_c_predicate(unique("char b[600];\nread_user(b, 600, ARG(1));\nreturn b[1];"), 1)
    # LLVM 14 (Debian 12) says "BPF stack limit of 512 bytes", LLVM 19 (Debian 13) "BPF stack limit".
    assert "BPF stack limit" in str(info.value)
    assert info.value.line is None


def test_verifier_rejection(kernel_tier, bcc):
    with pytest.raises(LoadError) as info:
        compile_c_predicate(unique("return *(u64 *)((char *)ctx + 4000);"), 1)
    assert "invalid bpf_context access" in str(info.value)
    assert info.value.log and info.value.errno


def test_empty_predicate():
    with pytest.raises(CPredicateError, match="empty"):
        compile_c_predicate("  /* nothing */ ", 1)


# ---- (e) the cache ----

def test_second_compile_is_a_cache_hit(kernel_tier, bcc, capsys):
    text = unique('str_eq_user(ARG(1), "needle") || REG(rsi) == 3')
    first = compile_c_predicate(text, 1)
    second = compile_c_predicate(text, 1)
    other_bp = compile_c_predicate(text, 2)     # stateless: shared by every breakpoint
    try:
        assert not first.cached and second.cached and other_bp.cached
        assert second.fd == first.fd == other_bp.fd
        assert first.compile_seconds > 0.02     # clang ran
        assert second.compile_seconds < 0.02
        assert second.compile_seconds * 20 < first.compile_seconds
        assert second.build_seconds == first.build_seconds
        with capsys.disabled():
            print("\n  C predicate: first compile %.3f s, cached %.6f s"
                  % (first.compile_seconds, second.compile_seconds))
    finally:
        for p in (first, second, other_bp):
            p.close()
    third = compile_c_predicate(text, 1)        # closed handles leave the program cached
    assert third.cached
    third.close()
    assert third.closed
    with pytest.raises(ValueError):
        third.fd


def test_disassembly(kernel_tier, bcc):
    with compile_c_predicate(unique("REG(rdi) == 500"), 1) as pred:
        lines = pred.disassemble()
        assert len(lines) == pred.insn_count
        assert any("*(u64 *)(r1 + 112)" in ln for ln in lines)    # pt_regs->di
        assert lines[-1].endswith("exit")


# ---- inside gdb ----

@pytest.mark.gdb
def test_compiles_inside_gdb(kernel_tier, bcc):
    # gdb's own Python, with its threads: the child compile must neither hang nor take gdb down.
    script = "\n".join([
        "python",
        "import sys",
        "sys.path.insert(0, %r)" % str(REPO),
        "from gdb_plugin.cpred import compile_c_predicate, CPredicateError",
        "p = compile_c_predicate(%r, 1)" % unique('str_eq_user(ARG(1), "needle")'),
        "print('compiled', p.kind, p.fd > 0, p.cached)",
        "try:",
        "    compile_c_predicate('char b[600]; read_user(b, 600, ARG(1)); return b[1];', 2)",
        "except CPredicateError as e:",
        "    print('refused', type(e).__name__)",
        "print('gdb still here')",
        "end",
    ])
    result = run_gdb(None, [script], plugin=False, timeout=120)
    assert "compiled expression True False" in result.stdout, result
    assert "refused CompileError" in result.stdout, result
    assert "gdb still here" in result.stdout, result
