"""Differential test (tests/harness/conditions.py): where the compiled predicate lets a hit
through versus where GDB's own `break target if COND` stops, on tests/programs/cond_diff.c
built at -O0 and -O2. The kernel's iterations must include GDB's, and equal them when the
condition compiled exactly. Each condition also states what it should compile to: exactly,
partially, or not at all (GDB decides every hit).
"""
from __future__ import annotations

import re
import statistics

import pytest

from harness.conditions import (EXACT, GDB_ONLY, PARTIAL, disagreements, gdb_side,
                                kernel_side, kind)
from harness.gdb import run_gdb
from harness.programs import build

pytestmark = [pytest.mark.gdb, pytest.mark.slow]

ITERATIONS = 400

# (condition, what it compiles to, GDB's own spelling if the condition uses a bare register
# name GDB itself would not understand; None: GDB gets the condition as written).
CONDITIONS = [
    # arguments (locals) of every width and signedness
    ("i == 137", EXACT),
    ("i % 7 == 3", EXACT),
    ("i > 100 && i < 120", EXACT),
    ("i < 10 || i > 390", EXACT),
    ("!(i % 3)", EXACT),
    ("l < -600", EXACT),
    ("u > 900 && u < 1000", EXACT),
    ("s == -5", EXACT),
    ("s < -300 && u % 2 == 0", EXACT),
    ("(unsigned char)i == 200", EXACT),
    ("(short)(i * 300) < 0", EXACT),
    ("(signed char)i < 0", EXACT),
    ("-i < -390", EXACT),
    ("~i == -101", EXACT),
    ("i * 100000000 < 0", EXACT),
    ("(long)i * 100000000 < 0", EXACT),
    ("u - 300 < 30", EXACT),
    # division and remainder, with divisors that are sometimes zero
    ("i / 7 == 12", EXACT),
    ("-i / 7 == -12", EXACT),
    ("-i % 7 == -3", EXACT),
    ("i / (i % 5) == 3", EXACT),
    ("i % g_div == 1", EXACT),
    ("l / 3 == -i", EXACT),
    ("g_ubig / 1000 == 18446744073709551", EXACT),
    # shifts: int counts, unsigned and long counts, counts past the width, negative values;
    # a computed count may fall outside 0..63, where the kernel lets the hit through

    ("i << 3 == 800", EXACT),
    ("i >> 2 == 30", EXACT),
    ("i >> 1u == 30", EXACT),
    ("(l >> 1u) == -30", EXACT),
    ("(s >> 2u) < -90", EXACT),
    ("(i << 28L) < 0", EXACT),
    ("(i << 29) < 0", EXACT),
    ("l >> 60 == -1 && i % 4 == 0", EXACT),
    # values too wide for their type, which GDB 16 narrows by their magnitude (narrowing.py):
    # there the kernel lets such hits through (NARROWED_BY_MAGNITUDE)
    ("((i - 70000) << 16) > 65535", EXACT),
    ("(i - 70000) * 100000 < 0", EXACT),
    ("(short)(i - 70000) > 4000", EXACT),
    ("(unsigned short)(l - 70000) < 5000", EXACT),
    ("((l - 70000) << 50) < 0 && i % 3 == 0", EXACT),
    # literal && and || around a character literal, which GDB 18 compiles to 0 (agent.py)
    ("((2 != 65535) && ('a' > 3)) && i % 9 == 1", EXACT),
    ("(0 || (char)1) && i == 77", EXACT),
    ("(1 << i) == 0", PARTIAL),
    ("g_u >> (i % 40) == 1", PARTIAL),
    ("(g_l >> i) == -1", PARTIAL),
    # ternaries whose value (not just truth) is used
    ("(i % 2 ? g_u : -1) > 5", EXACT),
    ("(i % 2 ? -1 : g_u) > 5", EXACT),
    ("(i % 3 ? 1 : 2) == 2", EXACT),
    # globals, struct fields, bit-fields, arrays, pointers
    ("g_cur->id == 3", EXACT),
    ("g_cur->s < -200", EXACT),
    ("g_cur->flags & 0x80", EXACT),
    ("g_cur->sc < 0", EXACT),
    ("g_cur->big < -300000", EXACT),
    ("g_cur->ubig > 0xfffffffffffffff0", EXACT),
    ("g_cur->u > 0xfffffff5", EXACT),
    ("g_cur->pt.y == 2 * g_cur->pt.x", EXACT),
    ("g_cur->name[1] == 100", EXACT),
    ("g_cur->bf_a == 5", EXACT),
    ("g_cur->bf_b < 0", EXACT),
    ("g_cur->bf_c > 2000", EXACT),
    ("g_cur->next->id == 5", EXACT),
    ("g_arr[i % 16] == i", EXACT),
    ("g_arr[(i * 7) % 16] > 100", EXACT),
    ("r->pt.x + r->pt.y == 9 && r->id == 2", EXACT),
    ("r == &recs[3]", EXACT),
    ("str[0] == 98 && i > 200", EXACT),
    ("g_u * 3 < 1000", EXACT),
    ("g_l * g_l > 30000", EXACT),
    ("g_s < -15000", EXACT),
    ("g_uc + g_sc > 200", EXACT),
    ("g_sc < g_uc", EXACT),
    ("g_l < g_u", EXACT),
    ("(unsigned long)g_l > 1000", EXACT),
    ("g_big >> 40 == 17", EXACT),
    ("g_ubig % 1000 == 999", EXACT),
    ("sizeof(struct rec) > 40 && i == 3", EXACT),
    # unreadable memory: GDB reports an error and stops; so must the predicate
    ("*g_cur->ptr == 77", EXACT),
    ("g_cur->ptr != 0 && *g_cur->ptr % 4 == 1", EXACT),
    ("*g_null == 0", EXACT),
    ("*g_bad == 1 || i == 5", EXACT),
    ("i == 5 || *g_bad == 1", EXACT),
    ("i % 50 == 1 && *g_bad == 1", EXACT),
    # registers, bare and GDB's own
    ("rdi == 77", EXACT, "$rdi == 77"),
    ("edi == 77 || esi == -9", EXACT, "$edi == 77 || $esi == -9"),
    ("$esi < -1000", EXACT),
    ("$si == -30", EXACT),
    ("$sil == -3", EXACT),
    ("$dh == 1", EXACT),
    ("$dl == 3 && $dx == 259", EXACT),
    ("$pc != 0 && i == 9", EXACT),
    ("$sp > 4096 && i == 9", EXACT),
    ("$eflags & 0x200 && i == 7", EXACT),
    ("($eflags & 0x10000) == 0 && i == 11", EXACT),
    ("eflags > 0x100 && i % 9 == 1", EXACT, "$eflags > 0x100 && i % 9 == 1"),
    ("$cs == 0x33 && i == 4", EXACT),
    ("$ss == 0x2b && i == 6", EXACT),
    ("$orig_rax == -1 && i == 8", EXACT),
    # character literals (GDB's `char`), enums (GDB's integers), sizeof
    ("i > 300 && str[0] == 'g'", EXACT),
    ("str[0] == 'b'", EXACT),
    ("!(str[0] == 'a')", EXACT),
    ("str[1] == '\\x65' && i % 3 == 0", EXACT),
    ("g_cur->name[1] - 'a' == 3", EXACT),
    ("i % 10 == 0 ? str[0] == 'a' : i % 7 == 0", EXACT),
    ("g_mode == MODE_STOP", EXACT),
    ("g_mode != MODE_IDLE && i % 5 == 0", EXACT),
    ("g_delta < 0", EXACT),
    ("g_mode < -1 && i % 50 == 0", EXACT),
    ("(enum mode)(i % 8) == MODE_STOP", EXACT),
    ("(int)g_delta == -1 && i > 100", EXACT),
    ("g_delta == DELTA_UP || g_mode == 7", EXACT),
    ("sizeof(g_mode) == 4 && i == 9", EXACT),
    ("sizeof 'a' == 1 && i == 10", EXACT),
    # GDB's string functions: str is alpha, beta, gamma, delta in turn
    ('$_streq(str, "gamma")', EXACT),
    ('!$_streq(str, "beta") && i % 7 == 0', EXACT),
    ('$_strlen(str) == 4 || i == 3', EXACT),
    ('$_strlen(str) > 4 && i > 390', EXACT),
    ("$_streq(str, names[2]) && i % 3 == 0", EXACT),
    ("$_streq(str, (char *)g_bad)", EXACT),
    ('$_streq(str, "gam" "ma")', GDB_ONLY),
    ('$_streq(g_cur->name, "abcdefg")', EXACT),
    ('$_regex(str, "^g")', GDB_ONLY),
    # partial: the kernel filters, GDB decides the rest
    ("i > 300 && str[0] == 103.0", PARTIAL),
    ("i > 350 && $_siginfo.si_signo == 5", PARTIAL),
    ("i > 1.5 && i < 30", PARTIAL),
    ("&target == 0 || i < 5", GDB_ONLY),
    ("i < 20 && &target != 0", PARTIAL),
    ("$fp != 0 && i == 3", PARTIAL),
    ("$fs_base != 0 && i == 2", EXACT),
    ("$fs_base > 0x10000 && i % 5 == 1", EXACT),
    ("i % 4 == 0 && (str[0] == 103.0 || str[1] == 'l')", PARTIAL),
    ("i % 10 == 0 ? str[0] == 97.0 : i % 7 == 0", PARTIAL),
    ("str[0] == 98.0 ? i % 2 == 0 : i % 3 == 0", PARTIAL),
    # nothing the kernel can decide
    ("str[0] == 98.0", GDB_ONLY),
    ("i % 10 == 0 || str[1] == 120.0", GDB_ONLY),
    ("!(str[0] == 97.0)", GDB_ONLY),
    ("(_Bool)(i & 6) == 1", GDB_ONLY),
    # GDB's evaluator rejects `<` and `+` between two booleans: an error, so a stop, every hit
    ("(g_flag < g_flag) && i == 5", GDB_ONLY),
    ("g_flag + g_flag == 0 || i == 5", GDB_ONLY),
    ("g_flag < 1 && i == 5", EXACT),
    ("i + 0.5 > 100", GDB_ONLY),
]
assert len(CONDITIONS) >= 60
NARROWED_BY_MAGNITUDE = {"((i - 70000) << 16) > 65535", "(i - 70000) * 100000 < 0",
                         "(short)(i - 70000) > 4000", "(unsigned short)(l - 70000) < 5000",
                         "((l - 70000) << 50) < 0 && i % 3 == 0"}

def test_the_plugin_narrows_as_this_gdb_does():
    """GDB 16 narrows (short)-70000 by its magnitude, to 4464; C, GDB 13 and 18 to -4464.
    The compiled predicates leave such values to GDB exactly where GDB does the former."""
    result = run_gdb(None, ["print (short) -70000", "python from gdb_plugin.compiler.narrowing "
                            "import gdb_truncates_magnitude as m; print('by magnitude:', m())"])
    value = int(re.search(r"^\$1 = (-?\d+)$", result.stdout, re.M).group(1))
    assert value in (4464, -4464), result
    assert f"by magnitude: {value == 4464}" in result.stdout, result


def check_condition(index, data, kernel):
    """Problems with condition `index`, as sentences (none: it agrees with GDB)."""
    condition, expected = CONDITIONS[index][:2]
    compiled = data["compiled"][index]
    unsure = data["narrows_by_magnitude"] and condition in NARROWED_BY_MAGNITUDE
    problems = disagreements(condition, compiled, data["stops"][index], kernel[index],
                             data["address"], ITERATIONS, unsure_expected=unsure)
    if kind(compiled) != expected:
        problems.append(f"compiled {kind(compiled)}, expected {expected}: {condition}")
    return problems


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
def test_kernel_agrees_with_gdb(kernel_tier, tmp_path, opt):
    exe = build("cond_diff", opt, extra=("-no-pie",))
    data = gdb_side(exe, tmp_path, [(c[0], c[2] if len(c) > 2 else c[0]) for c in CONDITIONS],
                    ITERATIONS)
    kernel = [kernel_side(exe, data["address"], item["program"], ITERATIONS)
              for item in data["compiled"]]

    problems = [p for index in range(len(CONDITIONS)) for p in check_condition(index, data,
                                                                                 kernel)]
    assert not problems, f"[{opt}] {len(problems)} problems:\n" + "\n".join(problems)

    # The table exercises both outcomes: most conditions stop sometimes, not never or always.
    sometimes = [len(s) for s in data["stops"] if 0 < len(s) < ITERATIONS]
    assert len(sometimes) >= 0.75 * len(CONDITIONS), data["stops"]

    times = [item["seconds"] for item in data["compiled"]]
    pure = [item["pure_seconds"] for item in data["compiled"] if item["pure_seconds"]]
    print(f"\n[{opt}] compile time per condition: median "
          f"{statistics.median(times) * 1e3:.2f} ms with GDB's maint agent-eval round trips "
          f"(max {max(times) * 1e3:.2f} ms); parse + lower + assemble alone: median "
          f"{statistics.median(pure) * 1e3:.3f} ms")
    assert statistics.median(times) < 0.05
