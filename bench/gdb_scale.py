"""Sourced inside GDB by bench/scale.py, with the scale workload stopped at all_started()
(and a breakpoint at all_created()).

Sets $BENCH_SCALE_BREAKPOINTS hbreak-ifs whose condition is never true, timing each command,
runs to all_created() (every thread exists), runs to the end, and prints one line,
`BENCH-SCALE {json}`: command times, perf events and other descriptors GDB holds, perf_event
objects in the kernel, and the threads `info hbreak-if` shows armed.
"""
import json
import os
import re
import time

import gdb

ROW = re.compile(r"^\s*\d+\s+[yn]\s+(\S+)\s+[\d,]+\s+[\d,]+\s+(\d+)", re.M)


def descriptors():
    """(perf events, every descriptor) GDB holds."""
    perf = total = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            perf += os.readlink(f"/proc/self/fd/{name}") == "anon_inode:[perf_event]"
            total += 1
        except OSError:
            pass
    return perf, total


def perf_event_objects():
    """Allocated perf_event objects in the kernel (/proc/slabinfo), None where unreadable."""
    try:
        with open("/proc/slabinfo") as slabinfo:
            for line in slabinfo:
                fields = line.split()
                if fields[0] == "perf_event":
                    return int(fields[1]), int(fields[3])
    except (OSError, IndexError, ValueError):
        pass
    return None


def snapshot():
    perf, total = descriptors()
    rows = ROW.findall(gdb.execute("info hbreak-if", to_string=True)) if armed else []
    return {"perf_fds": perf, "fds": total, "perf_event_objects": perf_event_objects(),
            "threads": len(gdb.selected_inferior().threads()),
            "tiers": [tier for tier, _ in rows], "threads_armed": [int(n) for _, n in rows]}


armed = 0
result = {"before": snapshot(), "commands_s": []}
for k in range(int(os.environ["BENCH_SCALE_BREAKPOINTS"])):
    start = time.perf_counter()
    gdb.execute(f"hbreak-if target tid == {-1 - k}", to_string=True)
    result["commands_s"].append(time.perf_counter() - start)
    armed += 1
result["armed"] = snapshot()
start = time.perf_counter()
gdb.execute("continue", to_string=True)
result["to_all_created_s"] = time.perf_counter() - start
result["all_created"] = snapshot()
gdb.write("BENCH-SCALE " + json.dumps(result) + "\n")
gdb.execute("continue", to_string=True)
