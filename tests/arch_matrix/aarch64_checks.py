"""What holds on an AArch64 machine only, run there by row.py (pytest collects this file only
when it is named, so the x86-64 suite has no skip for it)."""
import re

from harness.gdb import run_gdb
from harness.programs import build


def test_on_aarch64_an_hwatch_if_is_gdbs_own_watchpoint_and_stops_as_it():
    loop = build("loop")
    each_stop = 'commands\nsilent\nprintf "STOP %d\\n", g_counter\ncontinue\nend'
    stops = []
    for set_command in ("watch -location g_counter if g_counter % 50 == 7",
                        "hwatch-if g_counter g_counter % 50 == 7"):
        result = run_gdb(loop, ["break main", "run", set_command, each_stop, "continue"],
                         args=["200"]).check()
        stops.append(re.findall(r"^STOP (\d+)$", result.stdout, re.M))
    assert "the kernel of this machine cannot watch the program (on AArch64" in result.stdout
    assert stops[1] == stops[0] == ["7", "57", "107", "157"]
