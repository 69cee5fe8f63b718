"""The Python API, as a script run by `gdb -batch -x` uses it: the bundled example."""
import re
import subprocess

from harness.gdb import run_gdb
from harness.paths import REPO


def test_scripted_example_stops_where_it_says(kernel_tier, tmp_path):
    loop = tmp_path / "loop"
    subprocess.run(["gcc", "-g", "-O0", "-o", loop, REPO / "examples" / "loop.c"], check=True)
    result = run_gdb(loop, [f"source {REPO / 'examples' / 'scripted.py'}"], timeout=120).check()
    assert re.findall(r"^stopped at i = (\d+): ([\d,]+) hits, (\d+) stops$", result.stdout, re.M) == [
        ("250000", "250,001", "1"), ("500000", "500,001", "2"), ("750000", "750,001", "3")]
    assert "tier kernel: 1,000,000 hits seen, 3 stops; exit code 0" in result.stdout


def test_api_handles_and_errors(kernel_tier, tmp_path):
    loop = tmp_path / "loop"
    subprocess.run(["gcc", "-g", "-O0", "-o", loop, REPO / "examples" / "loop.c"], check=True)
    script = tmp_path / "api.py"
    script.write_text(
        "import gdb, gdb_plugin\n"
        "bp = gdb_plugin.hbreak_if('target', 'i == 10', temporary=True)\n"
        "print('created', bp.number, bp.tier, bp.enabled, bp.is_valid())\n"
        "try:\n"
        "    gdb_plugin.hbreak_if('target', 'i ==')\n"
        "except gdb.GdbError as error:\n"
        "    print('refused:', error)\n"
        "print('breakpoints', [b.number for b in gdb_plugin.breakpoints()])\n"
        "gdb.execute('run')\n"
        "print('after stop', int(gdb.parse_and_eval('i')), bp.is_valid())\n")
    result = run_gdb(loop, [f"source {script}"]).check()
    assert "created 2 kernel True True" in result.stdout
    # GDB 13: "near `'.", GDB 16 and 18: "near the end of `i =='."
    assert re.search(r"^refused: A syntax error in expression, near (`'|the end of `i ==')\.$",
                     result.stdout, re.M), result.stdout
    assert "breakpoints [2]" in result.stdout
    # A temporary breakpoint is gone once it has stopped, as with tbreak.
    assert "after stop 10 False" in result.stdout
