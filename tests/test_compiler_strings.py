"""GDB's string functions in the kernel (compiler/strings.py, stringcode.py), run in the
reference eBPF interpreter: match, no match, or unsure (GDB decides) exactly where GDB's
`A.string() == B.string()` is true, false, or an error or beyond the kernel's bound."""
import pytest

from harness.axref import Memory, run_bpf
from gdb_plugin.compiler import AxUnavailable
from gdb_plugin.compiler.predicate import build_program
from gdb_plugin.compiler.result import CharArray, KernelString
from gdb_plugin.compiler.strings import MAX_STRING, string_test
from gdb_plugin.compiler.syntax import parse
from test_compiler_lower import VERDICTS, listing

MATCH, NO_MATCH, UNSURE = 1, 0, 2
A, B = 0x10000, 0x20000                  # where rdi and rsi point
RDI, RSI = listing("reg 5", "end"), listing("reg 4", "end")


def verdict(part, a=None, b=None):
    regions = {address: data for address, data in ((A, a), (B, b)) if data is not None}
    run = run_bpf(build_program(part, VERDICTS), {5: A, 4: B}, Memory(regions))
    return run.r0


@pytest.mark.parametrize("memory,expected", [
    (b"omega\0", MATCH), (b"omegb\0", NO_MATCH), (b"omega!\0", NO_MATCH), (b"\0", NO_MATCH),
    (b"omega", UNSURE),                                   # unreadable before its NUL
    (b"x" * MAX_STRING + b"\0", NO_MATCH), (b"x" * (MAX_STRING + 1) + b"\0", UNSURE),
    (b"om\xe9ga\0", UNSURE), (b"omega\0\xe9", MATCH),     # GDB cannot decode, or not read
])
def test_streq_with_a_literal(memory, expected):
    assert verdict(KernelString("t", "$_streq", (RDI, b"omega")), memory) == expected


@pytest.mark.parametrize("a,b,expected", [
    (b"alpha\0", b"alpha\0junk", MATCH), (b"alpha\0", b"alph\0", NO_MATCH),
    (b"alpha\0", b"alpha\xff\0", UNSURE), (b"\0", b"\0", MATCH), (b"x\0", None, UNSURE),
])
def test_streq_of_two_strings_in_memory(a, b, expected):
    assert verdict(KernelString("t", "$_streq", (RDI, RSI)), a, b) == expected


def test_streq_with_the_literal_first():
    part = KernelString("t", "$_streq", (b"alpha", RSI))
    assert verdict(part, None, b"alpha\0") == MATCH
    assert verdict(part, None, b"alpHa\0") == NO_MATCH


@pytest.mark.parametrize("op,value,expected", [
    ("==", 5, MATCH), ("!=", 5, NO_MATCH), ("<", 6, MATCH), (">", 5, NO_MATCH),
    ("<=", 4, NO_MATCH), (">=", -1, MATCH),
])
def test_strlen_compared_with_an_integer(op, value, expected):
    assert verdict(KernelString("t", "$_strlen", (RDI,), (op, value)), b"gamma\0") == expected
    assert verdict(KernelString("t", "$_strlen", (b"gamma",), (op, value))) == expected


def test_strlen_of_an_unreadable_string_is_unsure():
    assert verdict(KernelString("t", "$_strlen", (RDI,), ("==", 5)), None) == UNSURE


class StringGdb:
    """GDB's answers for `p` (a char * in rdi) and `i` (an int)."""

    def __call__(self, expression):
        answers = {"(typeof(p))0": "const8 0", "*(p) == 0": "const8 0",
                   "sizeof(*(p))": "const8 1", "p": "reg 5", "(i) << 1": "reg 3",
                   "i": "reg 3", "&(arr)[0]": "reg 4",
                   "*(arr) == 0": "const8 0", "sizeof(*(arr))": "const8 1",
                   "(typeof(arr))0": "const8 0", "(typeof(big))0": "const8 0",
                   "sizeof(arr)": "const8 8", "*(big) == 0": "const8 0",
                   "sizeof(*(big))": "const8 1", "sizeof(big)": "const16 256"}
        if expression not in answers:
            raise AxUnavailable("Attempt to take contents of a non-pointer value.")
        ops = listing(answers[expression], "end").ops
        return "Scope: 0x1000\nReg mask: 20\n" + "".join(
            f"{op.offset:3d}  {op.name} {op.arg}\n" if op.arg is not None else
            f"{op.offset:3d}  {op.name}\n" for op in ops)


@pytest.mark.parametrize("text,kernel", [
    ('$_streq(p, "x")', True), ('$_streq("x", p)', True), ("$_streq(p, p)", True),
    ("$_strlen(p) > 3", True), ("-3 < $_strlen(p)", True), ("$_strlen(p) == 0x10", True),
    ('$_streq(p, "x" "y")', False), ('$_streq(i, "x")', False), ('$_streq(p, "\\xe9")', False),
    ("$_strlen(p) < 5u", False), ("$_strlen(p) + 1 == 5", False), ('$_regex(p, "x")', False),
    ('$_streq(p, "' + "x" * (MAX_STRING + 1) + '")', False),
    ("$_strlen(p) == $_strlen(arr)", True), ('$_strlen("ab") < $_strlen(p)', True),
    ("$_strlen(p) + 1 == $_strlen(p)", False), ("$_strlen(i) == $_strlen(p)", False),
    ('$_streq(arr, "x")', True), ("$_strlen(arr) > 2", True), ('$_streq(big, "x")', False),
    ("$_memeq(p, arr, 4)", True), ("$_memeq(p, p, i)", True), ('$_memeq(p, "abc", 3)', False),
    ("$_memeq(p, s, 3)", False), ("$_memeq(p, p, p)", False),
])
def test_which_string_tests_the_kernel_takes(text, kernel):
    assert (string_test(parse(text), text, StringGdb()) is not None) == kernel


def memeq_verdict(length, a=None, b=None, rdx=0):
    regions = {address: data for address, data in ((A, a), (B, b)) if data is not None}
    part = KernelString("t", "$_memeq", (RDI, RSI, length))
    return run_bpf(build_program(part, VERDICTS), {5: A, 4: B, 3: rdx}, Memory(regions)).r0


RDX = listing("reg 3", "end")


@pytest.mark.parametrize("a,b,n,expected", [
    (b"abcd", b"abcd", 4, MATCH), (b"abcd", b"abce", 4, NO_MATCH), (b"abcdX", b"abcdY", 4, MATCH),
    (b"\0\0\0\0", b"\0\0\0\1", 4, NO_MATCH), (b"abc", b"abcd", 4, UNSURE),
    (b"x" * 256, b"x" * 256, 256, MATCH), (b"x" * 255 + b"y", b"x" * 256, 256, NO_MATCH),
    (b"x" * 257, b"x" * 257, 257, UNSURE), (None, None, 0, MATCH), (b"a", b"b", 1, NO_MATCH),
])
def test_memeq_compares_n_bytes_as_gdb_does(a, b, n, expected):
    """GDB compares the N bytes (none for N == 0); an unreadable byte is its error, and N beyond
    the kernel's buffers is left to GDB."""
    assert memeq_verdict(n, a, b) == expected
    assert memeq_verdict(RDX, a, b, rdx=n) == expected


def test_memeq_with_a_negative_length_is_gdbs_error():
    assert memeq_verdict(RDX, b"ab", b"ab", rdx=-1 & ((1 << 64) - 1)) == UNSURE
    assert memeq_verdict(-1, b"ab", b"ab") == UNSURE


ARRAY = CharArray(RSI, 8)                # char arr[8] at B


@pytest.mark.parametrize("memory,literal,expected", [
    (b"abc\0xyzw", b"abc", MATCH), (b"abc\0xyzw", b"abcx", NO_MATCH),
    (b"abcdefgh", b"abcdefgh", MATCH),                  # no NUL: GDB reads the whole array
    (b"abcdefgh\0", b"abcdefghi", NO_MATCH), (b"abcdefghi\0", b"abcdefghi", NO_MATCH),
    (b"\0" * 8, b"", MATCH), (b"abc\xe9\0xyz", b"abc", UNSURE), (b"abc", b"abc", UNSURE),
])
def test_streq_of_a_char_array_reads_to_its_nul_or_its_end(memory, literal, expected):
    assert verdict(KernelString("t", "$_streq", (ARRAY, literal)), b=memory) == expected


@pytest.mark.parametrize("memory,length", [(b"abc\0xyzw", 3), (b"abcdefghij", 8),
                                           (b"\0bcdefgh", 0)])
def test_strlen_of_a_char_array(memory, length):
    part = KernelString("t", "$_strlen", (ARRAY,), ("==", length))
    assert verdict(part, b=memory) == MATCH
    assert verdict(KernelString("t", "$_strlen", (ARRAY,), ("==", length + 1)), b=memory) \
        == NO_MATCH


@pytest.mark.parametrize("a,b,op,expected", [
    (b"abc\0", b"xyz\0", "==", MATCH), (b"abc\0", b"xy\0", "==", NO_MATCH),
    (b"abc\0", b"xy\0", ">", MATCH), (b"\0", b"x\0", "<=", MATCH),
    (b"abc\0", b"x\xe9\0", "==", UNSURE), (b"abc\0", b"xy", ">", UNSURE),
])
def test_strlen_compared_with_another_strlen(a, b, op, expected):
    assert verdict(KernelString("t", "$_strlen", (RDI, RSI), (op, None)), a, b) == expected
    literal = KernelString("t", "$_strlen", (RDI, b[:-1]), (op, None))
    if b.endswith(b"\0") and b"\xe9" not in b:
        assert verdict(literal, a) == expected
