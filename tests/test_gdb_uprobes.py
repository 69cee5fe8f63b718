"""Beyond four: hbreak-ifs that get no debug register move to the uprobe tier, where the kernel
still decides their hits, and stop where GDB's own `break LOCATION if CONDITION` stops, with
the same registers and memory.

tests/programs/many_functions.c calls f0..f31 in turn, N times.  The breakpoints sit at four
kinds of instruction: a function's first (`push %rbp`, which the kernel emulates), the
first after its prologue (a load, stepped out of line), the store of its first argument to
the stack (`mov %rdi,-0x18(%rbp)`: the stop must show the stack before the store), and its
second line (a store through a pointer, which another thread could see: GDB decides there).
"""
import json
import re
import subprocess
import textwrap

import pytest

from harness.gdb import GDB, run_gdb
from harness.programs import build

ITERATIONS = 300
# At each stop: the function, the pc, registers and the stack around the stack pointer.  The
# resume flag (eflags bit 16) is how a thread passes a hardware breakpoint it stopped at.
EXPRESSIONS = ["$pc", "$rsp", "$rbp", "$rdi", "$rsi", "$rax", "$rdx", "$eflags & ~0x10000",
               "*(long *) ($rsp - 8)", "*(long *) $rsp", "*(long *) ($rbp - 0x18)"]

SCRIPT = textwrap.dedent(r'''
    import json
    import gdb

    gdb.execute("break main", to_string=True)
    gdb.execute("run", to_string=True)
    gdb.execute("delete", to_string=True)
    for location, condition in BREAKPOINTS:
        gdb.execute(f"{COMMAND} {location} if {condition}", to_string=True)
    stops = []
    gdb.execute("continue", to_string=True)
    while gdb.selected_inferior().pid:
        frame = gdb.selected_frame()
        stops.append([frame.name()] + [int(gdb.parse_and_eval(e))
                                       for e in EXPRESSIONS])
        gdb.execute("continue", to_string=True)
    json.dump(stops, open(OUTPUT, "w"))
''')


def breakpoints(binary, count):
    """(location, condition) for f0..f{count-1}: a few stops each, at the four instructions."""
    listing = subprocess.run(["objdump", "-d", str(binary)], capture_output=True, text=True,
                             check=True).stdout
    chosen = []
    for k in range(count):
        body = re.search(rf"^([0-9a-f]+) <f{k}>:\n(.*?)\n\n", listing, re.M | re.S)
        store = re.search(r"^\s*([0-9a-f]+):.*\tmov\s+%rdx,\(%rax\)$", body[2], re.M)
        location = [f"*f{k}", f"f{k}", f"*f{k}+4",
                    f"*f{k}+{int(store[1], 16) - int(body[1], 16)}"][k % 4]
        chosen.append((location, f"i == {(k * 37) % ITERATIONS} || i % 89 == {k}"))
    return chosen


def stops(binary, command, chosen, tmp_path, side):
    script, output = tmp_path / f"{side}.py", tmp_path / f"{side}.json"
    script.write_text(f"COMMAND = {command!r}\nBREAKPOINTS = {chosen!r}\n"
                      f"EXPRESSIONS = {EXPRESSIONS!r}\nOUTPUT = {str(output)!r}\n" + SCRIPT)
    extra = ["info hbreak-if"] if command == "hbreak-if" else []
    result = run_gdb(binary, [f"source {script}", *extra], args=[str(ITERATIONS)], timeout=300,
                     plugin=command == "hbreak-if")
    assert output.exists(), f"the {side} side failed:\n{result}"
    assert "Traceback" not in result.output, result
    return json.loads(output.read_text()), result


@pytest.mark.parametrize("count", [8, 32])
def test_beyond_four_breakpoints_the_kernel_decides_and_the_stops_are_gdbs(kernel_tier, count,
                                                                            tmp_path):
    # A copy of its own: uprobes are held back from a file another debugged process runs.
    binary = build("many_functions", "-O0", [f"-DCOPY={count}"])
    chosen = breakpoints(binary, count)
    expected, _ = stops(binary, "break", chosen, tmp_path, "gdb")
    got, result = stops(binary, "hbreak-if", chosen, tmp_path, "hbreak-if")
    assert len(expected) > count  # each breakpoint stops, some more than once
    assert got == expected
    entries = [entry.split() for entry in re.split(r"^(?=\d+\s+y\s)", result.stdout,
                                                   flags=re.M)[1:]]
    assert [entry[2] for entry in entries] == ["kernel"] * 4 + ["uprobe"] * (count - 4)
    # Each counts every call of its function, the hits that stopped and those that did not.
    assert [entry[3] for entry in entries] == [str(ITERATIONS)] * count, result.stdout
    # GDB decides only at the stores through a pointer, and says why.
    refused = [entry[6] for entry in entries if "no uprobe at" in " ".join(entry)]
    assert refused == [location for k, (location, _) in enumerate(chosen) if k >= 4 and k % 4 == 3]
    assert re.search(r"no uprobe at 0x[0-9a-f]+ \(GDB evaluates the condition there\): a uprobe "
                     r"cannot stop exactly before it: it stores to \(%rax\)", result.stdout)


def test_gdb_sees_its_own_memory_and_breakpoints_beside_a_uprobe(kernel_tier):
    """While the program continues the uprobe at f5 filters its hits; at a stop GDB reads the
    program's own instruction there (the kernel's int3 is gone), and a breakpoint of GDB's own
    at the same address stops as it would alone."""
    binary = build("many_functions", "-O0", ["-DCOPY=beside"])
    result = run_gdb(binary, ["break main", "run", "set hbreak-if tier uprobe",
                              "hbreak-if *f5 rdi == 7", "break f9 if i == 3", "continue",
                              "x/2i f5", "continue", "print $rdi", "break *f5 if $rdi == 9",
                              "continue", "print $rdi", "continue", "info hbreak-if"],
                     args=["12"]).check()
    assert re.search(r"^Breakpoint 4, f9 \(i=3,", result.stdout, re.M)
    assert re.search(r"^   0x[0-9a-f]+ <f5>:\s+push\s+%rbp$", result.stdout, re.M), result.stdout
    # GDB decides the first hit after the resume from main's breakpoint (its int3 go in then,
    # with no event to say so), i = 0, which arms the uprobe; it stays armed at the stop at f9:
    # the kernel filtered 1-3 and 4-6.
    assert re.search(r"^hbreak-if 3, f5 \(i=7,.*\n.*\n\(6 hits filtered in the kernel\)$",
                     result.stdout, re.M), result.stdout
    assert re.search(r"^Breakpoint 5, f5 \(i=9,", result.stdout, re.M)
    assert result.values() == {1: "7", 2: "9"}
    assert "exited normally" in result.stdout
    assert re.search(r"^3\s+y\s+uprobe\s+12\s+1\s", result.stdout, re.M), result.stdout


def test_an_exec_of_the_same_program_stops_as_gdb_does(kernel_tier):
    """The uprobes of the old image are released at the exec, where the kernel would put their
    int3 in the new image (its file is the old one's), before GDB reads its code."""
    execer = build("execer", "-O0", ["-DCOPY=uprobes"])
    commands = ["run", *['printf "STOP %d %d\\n", g_phase, i', "continue"] * 3]
    expected = run_gdb(execer, ["break target if i == 1 || i == 5", *commands], args=["8"],
                       plugin=False).check()
    got = run_gdb(execer, ["set hbreak-if tier uprobe", "hbreak-if target i == 1 || i == 5",
                           *commands], args=["8"]).check()
    stops = re.findall(r"^STOP (\d+) (\d+)$", got.stdout, re.M)
    assert stops == re.findall(r"^STOP (\d+) (\d+)$", expected.stdout, re.M) == [
        ("0", "1"), ("1", "1"), ("1", "5")]
    assert len(re.findall(r"^hbreak-if 2, target \(i=[15]\)", got.stdout, re.M)) == 3
    assert "SIGTRAP" not in got.output and "exited normally" in got.stdout


def test_no_uprobe_in_a_file_another_debugged_process_runs(kernel_tier):
    """A uprobe is the kernel's for its file, in every process: while another process of the
    same program is being debugged, GDB decides the hits there, and says why."""
    binary = build("many_functions", "-O0", ["-DCOPY=shared"])
    other = subprocess.Popen([GDB, "-batch", "-nx", "-ex", "break main", "-ex", "run",
                              "-ex", "echo READY\\n", "-ex", "python import time; time.sleep(120)",
                              "--args", str(binary), "5"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        assert any("READY" in line for line in other.stdout)
        result = run_gdb(binary, ["break main", "run", "set hbreak-if tier uprobe",
                                  "hbreak-if *f5 rdi == 7", "continue", "print $rdi", "continue"],
                         args=["12"]).check(allow_errors=True)
    finally:
        other.kill()
        other.wait()
    assert re.search(rf"warning: hbreak-if: no uprobe in {binary} while process \d+, which runs "
                     r"it too, is being debugged", result.stderr), result.stderr
    assert result.values() == {1: "7"}
    assert "exited normally" in result.stdout


def test_set_before_run_a_fifth_at_a_stack_store_stops_as_gdb_does(kernel_tier):
    """Set before `run`, the fifth moves to the uprobe tier as the program starts; whether %rbp
    is the frame pointer at its store is asked at the first stop (GDB 16 fails an assertion if
    the call frame information is read while a library loads)."""
    binary = build("many_functions", "-O0", ["-DCOPY=before_run"])
    chosen = [("f0", "i == 1"), ("f1", "i == 2"), ("f2", "i == 3"), ("f3", "i == 4"),
              ("*f6+4", "i == 5 || i == 8")]
    report = ['printf "STOP %d %#lx %#lx\\n", i, $pc, *(long *) ($rbp - 0x18)', "continue"]
    expected = run_gdb(binary, [*[f"break {where} if {cond}" for where, cond in chosen], "run",
                                *report * 6], args=["10"], plugin=False).check()
    got = run_gdb(binary, [*[f"hbreak-if {where} {cond}" for where, cond in chosen], "run",
                           *report * 6, "info hbreak-if"], args=["10"]).check(allow_errors=True)
    stops = re.findall(r"^STOP .*$", got.stdout, re.M)
    assert stops == re.findall(r"^STOP .*$", expected.stdout, re.M) and len(stops) == 6
    assert re.search(r"^6\s+y\s+uprobe\s", got.stdout, re.M), got.stdout
    assert "no uprobe at" not in got.output and "exited normally" in got.stdout
