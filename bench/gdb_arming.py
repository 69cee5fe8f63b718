"""Sourced inside GDB by bench/arming.py (the program is live, stopped at main).

Reads the conditions from $BENCH_ARMING_CONDITIONS and prints one line,
`BENCH-ARMING {json}`.
"""
import json
import os
import re
import time

import gdb

# A row of `info hbreak-if`: Num, Enb, Tier, ...
TIER = re.compile(r"^\s*\d+\s+[yn]\s+(kernel-signal|kernel|ptrace)\s", re.M)


def perf_fds():
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == "anon_inode:[perf_event]":
                count += 1
        except OSError:
            pass
    return count


def measure_one(location, item):
    before = perf_fds()
    start = time.perf_counter()
    try:
        gdb.execute(f"hbreak-if {location} {item['condition']}", to_string=True)
        error = None
    except gdb.error as e:
        error = str(e)
    seconds = time.perf_counter() - start
    armed = perf_fds() - before
    try:
        info = gdb.execute("info hbreak-if", to_string=True)
    except gdb.error as e:
        info = str(e)
    found = TIER.search(info)
    gdb.execute("delete", to_string=True)
    return dict(item, seconds=seconds, perf_events_added=armed, error=error,
                tier=found.group(1) if found else None)


def main():
    with open(os.environ["BENCH_ARMING_CONDITIONS"]) as f:
        todo = json.load(f)
    location = os.environ.get("BENCH_ARMING_LOCATION", "target")
    runs = [measure_one(location, item) for item in todo]
    first = [r for r in runs if r.get("warmup")]
    result = {"first": first[0] if first else None,
              "runs": [r for r in runs if not r.get("warmup")]}
    gdb.write("BENCH-ARMING " + json.dumps(result) + "\n")


main()
