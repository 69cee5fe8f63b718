"""Runs inside GDB: a soak of one hbreak-if breakpoint, measuring GDB's fds and memory.

Sourced after `python REL_SOAK = {...}` with keys: location, condition (`{k}` in it is
replaced by the cycle number), out (a JSON path), sample_every (stops), recreate (number of
create/delete cycles before running), final_k (the {k} of the breakpoint that runs).  The
program must be stopped (at main).  Records fds by kind and VmRSS before arming, at every
sample_every-th stop, and after the program exits, plus the stop count.
"""
import json
import os
import sys
import time

import gdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # sourced by GDB
from gdb_process import fds, rss_kib  # noqa: E402


def sample(label):
    return {"label": label, "fds": fds(), "rss_kib": rss_kib(), "time": time.monotonic()}


def main(plan):
    out = {"samples": [sample("start")], "stops": 0, "stop_values": []}
    command = f"hbreak-if {plan['location']} {plan['condition']}"
    for cycle in range(plan.get("recreate", 0)):
        # A condition with {k} differs at every cycle: compiled and loaded afresh each time.
        gdb.execute(command.replace("{k}", str(cycle)), to_string=True)
        number = max(bp.number for bp in gdb.breakpoints())
        gdb.execute(f"delete {number}", to_string=True)
    if plan.get("recreate"):
        out["samples"].append(sample("after re-creating"))
    gdb.execute(command.replace("{k}", str(plan.get("final_k", 0))), to_string=True)
    out["samples"].append(sample("armed"))
    exited = []
    gdb.events.exited.connect(lambda event: exited.append(getattr(event, "exit_code", None)))
    every = plan.get("sample_every", 100)
    gdb.execute("continue", to_string=True)
    while not exited:
        out["stops"] += 1
        if plan.get("value"):
            out["stop_values"].append(int(gdb.parse_and_eval(plan["value"])))
        if out["stops"] % every == 0:
            out["samples"].append(sample(f"stop {out['stops']}"))
        gdb.execute("continue", to_string=True)
    out["exit_code"] = exited[0]
    out["samples"].append(sample("exited"))
    import gdb_plugin
    out["breakpoints"] = [{"number": b.number, "hits": b.hits, "stops": b.stops, "tier": b.tier}
                          for b in gdb_plugin.breakpoints()]
    with open(plan["out"], "w") as f:
        json.dump(out, f)


main(REL_SOAK)  # noqa: F821 - defined by the `python REL_SOAK = ...` line before `source`
