"""Arming at scale: hbreak-ifs on thousands of threads, existing when they are set or created
afterwards; arming time, descriptors held, kernel objects; and the cost of a hit on a thread
armed with its own event against one armed with an inherited copy.

    python3 -m bench.scale [--quick] [--repeats N] [--plugin PATH] [--out DIR]

writes DIR/scale.md and DIR/scale.json (default bench/results/).  Each row runs GDB on
bench/workloads/scale.c (bench/gdb_scale.py does the GDB side); times are the minimum of the
repeats, counts are the same in every repeat.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys

from . import build, report
from .__main__ import wait_for_quiet
from .configs import GDB, PLUGIN

GDB_SIDE = os.path.join(build.BENCH, "gdb_scale.py")
# (threads when the breakpoints are set, threads created afterwards, breakpoints)
ROWS = [(existing, late, breakpoints)
        for existing, late in ((500, 0), (2000, 0), (0, 500), (0, 2000))
        for breakpoints in (0, 1, 4)]
QUICK_ROWS = [row for row in ROWS if 2000 not in row[:2]]
PER_HIT_CALLS = 200_000
SCALE = re.compile(r"^SCALE (.*)$", re.M)


def run_once(existing: int, late: int, breakpoints: int, calls: int, plugin: str) -> dict:
    command = [GDB, "-batch", "-nx", "-x", plugin, "-ex", "set pagination off",
               "-ex", "set confirm off", "-ex", "break all_started", "-ex", "break all_created",
               "-ex", "run", "-x", GDB_SIDE,
               "--args", os.path.join(build.BUILD, "scale"), str(existing), str(late), str(calls)]
    env = dict(os.environ, BENCH_SCALE_BREAKPOINTS=str(breakpoints))
    load = wait_for_quiet()
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=build.ROOT,
                          env=env, stdin=subprocess.DEVNULL)
    measured = [line for line in done.stdout.splitlines() if line.startswith("BENCH-SCALE ")]
    program = SCALE.search(done.stdout)
    if not measured or not program or "exited normally" not in done.stdout:
        tail = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()][-5:]
        raise RuntimeError(f"scale {existing} {late} {calls} with {breakpoints} breakpoints: "
                           + " | ".join(tail))
    result = json.loads(measured[0][len("BENCH-SCALE "):])
    result.update({k: float(v) for k, v in re.findall(r"(\w+)=(\S+)", program.group(1))})
    result["warnings"] = [line for line in done.stderr.splitlines() if "warning" in line]
    result["load"] = load
    # Counted when every thread exists: after arming, or once the later threads are created.
    result["counted"] = result["all_created"] if late else result["armed"]
    return result


def run_row(existing, late, breakpoints, calls, repeats, plugin) -> dict:
    runs = [run_once(existing, late, breakpoints, calls, plugin) for _ in range(repeats)]
    row = dict(runs[0], existing=existing, late=late, breakpoints=breakpoints, calls=calls,
               repeats=repeats)
    for key in ("to_all_created_s", "create_late_s", "existing_ns_per_call", "late_ns_per_call"):
        row[key] = min(run[key] for run in runs)
    row["arming_s"] = min(sum(run["commands_s"]) for run in runs)
    return row


def _objects_added(row):
    before, after = row["before"]["perf_event_objects"], row["counted"]["perf_event_objects"]
    if before is None or after is None:
        return "n/a"
    return f"≈ {after[0] - before[0]:,} ({(after[0] - before[0]) * after[1] / 1024:,.0f} KiB)"


def markdown(results: dict) -> str:
    lines = [
        "# Arming at scale", "",
        f"Generated {results['generated']} by `{results['command']}` "
        f"({results['repeats']} repeats, times are the minimum).", "",
        "Each row runs `bench/workloads/scale.c` under GDB: the threads of the first column "
        "exist when GDB sets the hbreak-ifs (`hbreak-if target tid == -1`, never true; a "
        "thread's events at one address are one per breakpoint), those of the second are created "
        "afterwards; each thread calls `target` once. *Arming* is the time the hbreak-if commands "
        "took together; *creating the later threads* is the program's own time for its "
        "`pthread_create` calls, GDB's handling of each new thread included. Descriptors and "
        "threads armed are counted once every thread exists; *kernel perf_event objects* is the "
        "growth of the `perf_event` slab (approximate: the slab has per-CPU caches), events and "
        "their copies alike.",
        "",
        "| threads when set | created after | breakpoints | arming | creating the later threads "
        "| perf descriptors held | all GDB descriptors | kernel perf_event objects | threads armed "
        "per breakpoint |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in results["rows"]:
        counted = row["counted"]
        lines.append(
            f"| {row['existing']:,} | {row['late']:,} | {row['breakpoints']} | "
            f"{row['arming_s'] * 1000:,.1f} ms | "
            f"{row['create_late_s'] * 1000:,.1f} ms | {counted['perf_fds']:,} | "
            f"{counted['fds']:,} | {_objects_added(row)} | "
            f"{', '.join(f'{n:,}' for n in counted['threads_armed']) or '-'} "
            f"of {counted['threads']:,} |")
    hit = results["per_hit"]
    alone, armed = hit["alone"], hit["armed"]
    lines += [
        "", "## Cost of a hit", "",
        f"One thread armed with its own event, then one created afterwards (armed with a copy), "
        f"each calling `target` {hit['calls']:,} times and timing its calls; the breakpoint's "
        "condition is never true, so every hit is filtered in the kernel.", "",
        "| thread | ns per call, no breakpoint | ns per call, one hbreak-if | cost of a hit |",
        "| --- | ---: | ---: | ---: |",
        f"| armed with its own event | {alone['existing_ns_per_call']:,.0f} | "
        f"{armed['existing_ns_per_call']:,.0f} | "
        f"{(armed['existing_ns_per_call'] - alone['existing_ns_per_call']) / 1000:.2f} µs |",
        f"| created afterwards, with a copy | {alone['late_ns_per_call']:,.0f} | "
        f"{armed['late_ns_per_call']:,.0f} | "
        f"{(armed['late_ns_per_call'] - alone['late_ns_per_call']) / 1000:.2f} µs |",
    ]
    warnings = sorted({w for row in results["rows"] for w in row["warnings"]})
    lines += ["", "Warnings from GDB: " + ("; ".join(warnings) if warnings else "none") + "."]
    loads = [row["load"] for row in results["rows"]]
    lines += ["", "Machine: " + results["machine"]["uname -a"] + "; "
              + results["machine"]["nproc"] + " CPUs, shared; 1-minute load average "
              f"{min(loads):.1f} to {max(loads):.1f} at the start of the rows' first runs."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.scale",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 threads only")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--plugin", default=PLUGIN, help="the plugin.py to measure")
    parser.add_argument("--out", default=os.path.join(build.BENCH, "results"))
    args = parser.parse_args(argv)
    build.build()
    results = {
        "generated": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["python3 -m bench.scale", *(sys.argv[1:] if argv is None else argv)]),
        "repeats": args.repeats, "machine": report.machine(), "rows": [],
    }
    for existing, late, breakpoints in QUICK_ROWS if args.quick else ROWS:
        print(f"{existing} threads, {late} later, {breakpoints} breakpoints", flush=True)
        results["rows"].append(run_row(existing, late, breakpoints, 1, args.repeats,
                                       args.plugin))
    results["per_hit"] = {"calls": PER_HIT_CALLS, **{
        name: run_row(1, 1, breakpoints, PER_HIT_CALLS, args.repeats, args.plugin)
        for name, breakpoints in (("alone", 0), ("armed", 1))}}
    os.makedirs(args.out, exist_ok=True)
    text = markdown(results)
    for name, data in (("scale.md", text), ("scale.json", json.dumps(results, indent=1))):
        with open(os.path.join(args.out, name), "w") as f:
            f.write(data)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
