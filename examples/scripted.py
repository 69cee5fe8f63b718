"""A scripted session with the Python API: gdb -batch -x gdb_plugin/plugin.py -x examples/scripted.py build/loop

Stops at every 250,000th call, prints the argument and the breakpoint's counters, and
finishes with the program's exit status.
"""
import gdb

import gdb_plugin

bp = gdb_plugin.hbreak_if("target", "i % 250000 == 0 && i > 0")
gdb.execute("run")
while gdb.selected_inferior().pid:
    print(f"stopped at i = {int(gdb.parse_and_eval('i'))}: {bp.hits:,} hits, {bp.stops} stops")
    gdb.execute("continue")
print(f"tier {bp.tier}: {bp.hits:,} hits seen, {bp.stops} stops; exit code "
      f"{int(gdb.parse_and_eval('$_exitcode'))}")
