"""`save breakpoints` keeps hbreak-ifs and hwatch-ifs: a new GDB that sources the file has the
same breakpoints, in the same tiers and GDB numbers, and stops where the first one did."""
import re

from harness.gdb import run_gdb
from harness.programs import build

N = 1000
# Four debug registers: three hbreak-ifs and a watchpoint (the disabled one takes none).
SETTINGS = [
    "break target if i == 999",
    "hbreak-if target i % 400 == 50",
    "ignore $bpnum 1",
    "commands\nprint i * 2\nend",
    "hbreak-if -t target i == 20",
    "hbreak-if -c target ARG(1) == 42",
    "hbreak-if -thread 1 target i % 250 == 7",
    "disable $bpnum",
    "hwatch-if -a items[3].big $new == -403",  # main writes it at i % 16 == 3
]
RUN_TO_THE_END = ["continue"] * 7
STOPS = ["hbreak-if 5, target (i=20)", "hbreak-if 6, target (i=42)",
         "hwatch-if 8: access items[3].big",
         "hbreak-if 4, target (i=450)", "$1 = 900", "hbreak-if 4, target (i=850)", "$2 = 1700",
         "Breakpoint 2, target (i=999)"]
STOP = re.compile(r"^(?:(?:hbreak-if \d+, |Breakpoint \d+, |\$\d+ = ).*"
                  r"|hwatch-if \d+: (?:access )?\S+)$", re.M)
INFO_SECTION = re.compile(r"^Num  Enb  Tier.*?(?=^\S+ = |^hbreak-if \d+, |^hwatch-if \d+|\Z)",
                          re.M | re.S)


def _stops(stdout: str):
    return [stop.split(" at ")[0] for stop in STOP.findall(stdout)]


def _listing(stdout: str) -> str:
    """`info hbreak-if` without the BCC build time, which a cached build does not share."""
    listing = INFO_SECTION.search(stdout).group(0)
    return re.sub(r"compiled by BCC in [\d.]+ s( \(cached\))?", "compiled by BCC", listing)


def test_a_saved_session_sourced_in_a_new_gdb_is_the_same(kernel_tier, tmp_path):
    loop = build("loop")
    saved = tmp_path / "breakpoints.gdb"
    first = run_gdb(loop, ["start", *SETTINGS, "info hbreak-if", f"save breakpoints {saved}",
                           *RUN_TO_THE_END], args=[N]).check()
    text = saved.read_text()
    # Each hbreak-if is its own breakpoint, written with the command that sets it again; the
    # watchpoint is a catchpoint, and so is the one the hbreak-ifs share.
    assert text.count("condition $bpnum $_hbreak_if_at(") == 4, text
    assert text.count("catch signal SIGTRAP SIG40") == 2, text
    assert text.count("condition $bpnum $_hbreak_if_hit(") == 2, text
    # GDB 16 and 18 name the thread as 1.1.
    assert re.search(r'^break target thread 1(\.1)?\n  condition \$bpnum \$_hbreak_if_at\(7, '
                     r'"hbreak-if -thread 1 target i % 250 == 7"\) && \(i % 250 == 7\)\n'
                     r'disable \$bpnum$', text, re.M), text
    assert ('"hbreak-if -ignore 1 target i % 400 == 50") && (i % 400 == 50)\n  commands\n'
            '    print i * 2') in text, text
    assert 'tbreak target\n  condition $bpnum $_hbreak_if_at(5, "hbreak-if -t ' in text, text

    second = run_gdb(loop, ["start", f"source {saved}", "info hbreak-if", *RUN_TO_THE_END],
                     args=[N]).check()
    assert "could not be set again" not in second.output, second
    assert _listing(second.stdout) == _listing(first.stdout)
    assert re.search(r"^7\s+n\s+kernel\s.*\n\s+condition: i % 250 == 7\n\s+thread: 1$",
                     _listing(second.stdout), re.M), second
    assert _stops(first.stdout) == STOPS, first
    assert _stops(second.stdout) == STOPS, second
    assert "exited normally" in second.stdout


def test_a_saved_temporary_one_is_deleted_at_its_stop(kernel_tier, tmp_path):
    loop = build("loop")
    saved = tmp_path / "breakpoints.gdb"
    run_gdb(loop, ["hbreak-if -t target i == 20", f"save breakpoints {saved}"]).check()
    result = run_gdb(loop, [f"source {saved}", "run", "info breakpoints", "continue"],
                     args=[N]).check()
    assert _stops(result.stdout) == ["hbreak-if 2, target (i=20)"], result
    assert re.search(r"^No breakpoints", result.stdout, re.M), result  # GDB 16 says more
    assert "exited normally" in result.stdout
