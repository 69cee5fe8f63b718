"""Runs inside GDB: feeds command lines to GDB one by one and records, after each, what the
user saw and what state was left behind.

Sourced after `python REL_CASES = "/path/cases.json"`; the file holds {"cases": [...],
"out": path, "start": "break main" or null}.  For each case: the command's output or error
text, and afterwards the hbreak-if breakpoints, GDB's breakpoints (visible and internal), and
the open fds of this GDB process by kind (perf events, BPF programs and maps, other).  A case
that created a breakpoint is cleaned up with `delete`, and the state is recorded again.
"""
import json
import os
import sys

import gdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # sourced by GDB
from gdb_process import fds, rss_kib  # noqa: E402


def state():
    from gdb_plugin.gdbside.model import registry
    return {
        "hbreak_if": [bp.number for bp in registry],
        "breakpoints": sorted(bp.number for bp in gdb.breakpoints()),
        "catchpoints": gdb.execute("info breakpoints", to_string=True).count("catchpoint"),
        "fds": fds(),
    }


def run_case(command):
    record = {"command": command}
    before = {bp.number for bp in gdb.breakpoints()}
    try:
        record["output"] = gdb.execute(command, to_string=True)
        record["outcome"] = "accepted"
    except gdb.error as error:
        record["outcome"] = "error"
        record["message"] = str(error)
    except Exception as error:            # not a GDB error: the command escaped GDB's handling
        record["outcome"] = "exception"
        record["message"] = f"{type(error).__name__}: {error}"
    record["after"] = state()
    created = [bp for bp in gdb.breakpoints() if bp.number not in before]
    if created:
        record["created"] = [bp.number for bp in created]
        for bp in created:
            if bp.is_valid() and bp.visible:      # internal ones go with their owner
                try:
                    gdb.execute(f"delete {bp.number}", to_string=True)
                except gdb.error as error:
                    record["delete_error"] = str(error)
        record["after_delete"] = state()
    return record


def main(path):
    with open(path) as f:
        plan = json.load(f)
    result = {"cases": []}
    if plan.get("start"):
        gdb.execute(plan["start"], to_string=True)
        gdb.execute("run", to_string=True)
    for warmup in plan.get("warmup", []):
        result.setdefault("warmup", []).append(run_case(warmup))
    result["baseline"] = state()
    result["rss_before"] = rss_kib()
    for command in plan["cases"]:
        result["cases"].append(run_case(command))
    result["rss_after"] = rss_kib()
    result["final"] = state()
    with open(plan["out"], "w") as f:
        json.dump(result, f)


main(REL_CASES)  # noqa: F821 - defined by the `python REL_CASES = ...` line before `source`
