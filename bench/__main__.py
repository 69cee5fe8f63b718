"""bench/run.sh [--quick]: build the workloads, run every configuration, write bench/results/.

python3 -m bench --help for the options that run a part of it.
"""
import argparse
import contextlib
import dataclasses
import datetime
import os
import re
import signal
import sys
import time

from . import arming, build, configs, native, profile, report
from .report import us
from .timing import GDBSERVER, Point, first_per_hit, fit, median, per_hit, per_hit_at

TINY = 8          # start-up run: divisible by every thread count used
FULL_FAST = [TINY, 10 ** 3, 10 ** 4, 10 ** 5, 10 ** 6]
FULL_SLOW = [TINY, 10 ** 3, 10 ** 4, 10 ** 5]
QUICK_FAST = [TINY, 10 ** 3, 10 ** 4, 10 ** 5]
QUICK_SLOW = [TINY, 10 ** 3, 10 ** 4]
THREAD_COUNTS = (1, 2, 4, 8)
THREAD_CONFIGS = ("alone", "floor", "hbreak-if kernel")
PINNED_CPU = 0
GDB_REFERENCE = "gdb hbreak"     # what the ratios to GDB divide by (code workloads)


def log(text: str) -> None:
    print(text, flush=True)


def _load() -> float:
    """The 1-minute load average, recorded with every run (other work on the machine)."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return -1.0


# Before each run, wait (up to QUIET.wait seconds) for the 1-minute load average to fall
# below QUIET.load: other work on a 2-core machine distorts every number.  The benchmark
# itself keeps about one to two runnable processes.
@dataclasses.dataclass
class Quiet:
    load: float = 3.0
    wait: float = 120.0      # per run
    budget: float = 900.0    # for the whole benchmark
    waited: float = 0.0


QUIET = Quiet()


def wait_for_quiet() -> float:
    """Wait for a quieter machine (bounded); -> the load average the run starts with."""
    start = time.time()
    deadline = start + min(QUIET.wait, max(0.0, QUIET.budget - QUIET.waited))
    load = _load()
    while load >= QUIET.load and time.time() < deadline:
        time.sleep(5)
        load = _load()
    QUIET.waited += time.time() - start
    return load


def _attempt(config, workload, hits, address):
    try:
        return config.run(workload, hits, address)
    except Exception as e:  # the harness keeps going; the row says why
        return configs.Run(ok=False, reason=f"{type(e).__name__}: {e}")


def _anomaly(record: dict, note: str) -> None:
    if note not in record.setdefault("anomalies", []):
        record["anomalies"].append(note)


def _note_run(record: dict, run, workload, hits: int) -> None:
    """Keep what a run says beyond its time: tier, evidence, counts, anything odd."""
    if run.tier:
        record["tier"] = run.tier
    if run.evidence:
        record["evidence"] = run.evidence
    if run.count is not None:
        record.setdefault("counts", {})[str(hits)] = run.count
    complaint = re.search(r"^(Error in testing condition.*\n.*)$", run.output, re.M)
    if run.ok and complaint:
        _anomaly(record, f"GDB printed at the stop: `{' '.join(complaint.group(1).split())}`")
    if run.info and run.ok and not re.search(r"^hbreak-if \d+, ", run.output, re.M):
        _anomaly(record, "the program stopped at the right hit, but without the "
                 "`hbreak-if N, ...` report")
    if run.info:
        record.setdefault("info_hbreak_if", {})[str(hits)] = run.info
        # With threads, the others may still be running at the stop: fewer hits so far.
        wrong_hits = (run.info["hits"] != hits if workload.threads == 1
                      else run.info["hits"] > hits)
        if run.ok and (wrong_hits or run.info["stops"] != 1):
            _anomaly(record, f"at {hits} hits, `info hbreak-if` reported {run.info['hits']} "
                     f"hits and {run.info['stops']} stop(s)")


def measure(chosen, workload, hits_for, repeats, address) -> list:
    """Run the configurations over their hits lists -> their JSON-ready records.

    Interleaved, so that all configurations see the same machine: each repeat
    goes through every N in turn, and at each N through every configuration.
    A configuration that fails is reported with its reason and not run again.
    """
    chosen = [c for c in chosen if c.applies(workload)]
    records = {c.name: {"name": c.name, "description": c.description, "slow": c.slow,
                        "ok": True, "reason": "", "points": []} for c in chosen}
    points = {c.name: {} for c in chosen}
    loads = {c.name: {} for c in chosen}
    lists = {c.name: [h for h in hits_for(c) if workload.valid_hits(h)] for c in chosen}
    every_n = sorted({h for hits in lists.values() for h in hits})
    for repeat in range(1, repeats + 1):
        for hits in every_n:
            for config in chosen:
                record = records[config.name]
                if not record["ok"] or hits not in lists[config.name]:
                    continue
                load = wait_for_quiet()
                run = _attempt(config, workload, hits, address)
                if not run.ok:
                    # One retry: on a shared machine a run can fail for reasons of its own.
                    retry = _attempt(config, workload, hits, address)
                    if retry.ok:
                        _anomaly(record, f"a run at {hits} hits failed once and passed on "
                                 f"retry: {run.reason}")
                        run = retry
                _note_run(record, run, workload, hits)
                if not run.ok:
                    record.update(ok=False, reason=f"at {hits} hits: {run.reason}")
                    if run.output:
                        record["failed_output_tail"] = run.output[-3000:]
                    log(f"    [{repeat}/{repeats}] {config.name:24s} {hits:>8} hits: "
                        f"n/a ({record['reason']})")
                    continue
                point = points[config.name].setdefault(hits, Point(hits))
                point.samples.append(run.wall)
                point.cpu_samples.append(run.cpu)
                loads[config.name].setdefault(hits, []).append(load)
                log(f"    [{repeat}/{repeats}] {config.name:24s} {hits:>8} hits: "
                    f"{run.wall:8.3f} s  cpu {run.cpu:8.3f} s  (load {load:.1f})")
    for config in chosen:
        record = records[config.name]
        series = [points[config.name][h] for h in sorted(points[config.name])]
        record["points"] = [{"hits": p.hits, "samples": p.samples, "best": p.best,
                             "cpu_samples": p.cpu_samples, "best_cpu": p.best_cpu,
                             "loadavg": loads[config.name][p.hits]} for p in series]
        record["_points"] = series
        line = fit(series) if record["ok"] else None
        if line:
            record["slope"], record["fixed_s"] = line
            record["slope_cpu"], record["fixed_cpu_s"] = fit(series, cpu=True)
        elif record["ok"]:
            record.update(ok=False, reason="fewer than two points")
    return [records[c.name] for c in chosen]


def derive(workload_record: dict) -> None:
    """Per-hit costs and ratios within one workload."""
    by_name = {c["name"]: c for c in workload_record["configs"]}
    alone = by_name.get("alone")
    alone_ok = alone is not None and alone["ok"]
    for c in workload_record["configs"]:
        if not c["ok"]:
            continue
        base = alone["slope"] if alone_ok and c is not alone else 0.0
        c["per_hit"] = c["slope"] - base
        base = alone["slope_cpu"] if alone_ok and c is not alone else 0.0
        c["per_hit_cpu"] = c["slope_cpu"] - base
        if alone_ok and c is not alone:
            c["per_hit_at"] = {str(h): v for h, v in
                               per_hit_at(c["_points"], alone["_points"]).items()}
    for c in workload_record["configs"]:
        if not c["ok"] or c["name"] == "alone":
            continue
        for key, ref in (("ratio_to_gdb", workload_record["gdb_reference"]),
                         ("ratio_to_floor", "floor")):
            r = by_name.get(ref)
            if r and r["ok"] and r.get("per_hit"):
                c[key] = c["per_hit"] / r["per_hit"]
            if r and r["ok"] and r.get("per_hit_cpu"):
                c[key + "_cpu"] = c["per_hit_cpu"] / r["per_hit_cpu"]
    for c in workload_record["configs"]:
        c.pop("_points", None)


TARGETS = (("floor", ("floor",), 1.1, "le"), ("hbreak", ("gdb hbreak",), 30.0, "ge"),
           ("gdbserver", GDBSERVER, 15.0, "ge"))


def _target_value(kernel, other, better):
    """The target's ratio (kernel ÷ floor, or other ÷ kernel), None when a cost is missing."""
    if kernel is None or other is None or other <= 0 or kernel <= 0:
        return None
    return kernel / other if better == "le" else other / kernel


def targets(results: dict) -> list:
    out = []
    breakpoints = [w for w in results["workloads"] if not w.get("watch")]
    for w in breakpoints + ([results["pinned"]] if results.get("pinned") else []):
        for key, refs, limit, better in TARGETS:
            entry = {"key": key, "workload": w["name"],
                     "text": f"{report.TARGETS_TEXT[key]} — {w['name']}"}
            parts, verdicts = [], []
            for measure_name, field in (("wall", "per_hit"), ("CPU", "per_hit_cpu")):
                kernel = per_hit(w, "hbreak-if kernel", field)
                ref, other = first_per_hit(w, refs, field)
                value = _target_value(kernel, other, better)
                if value is None:
                    missing = "hbreak-if kernel" if kernel is None else " or ".join(refs)
                    parts.append(f"{measure_name}: n/a ({missing} not measured)")
                    verdicts.append(None)
                    continue
                met = value <= limit if better == "le" else value >= limit
                if better == "le":
                    parts.append(f"{measure_name}: {kernel * 1e6:.2f} µs vs floor "
                                 f"{other * 1e6:.2f} µs = {value:.3f}× the floor")
                else:
                    parts.append(f"{measure_name}: {ref} {other * 1e6:.1f} µs vs "
                                 f"{kernel * 1e6:.2f} µs = {value:.1f}× faster")
                entry["value_" + measure_name.lower()] = value
                verdicts.append(met)
            entry["measured"] = "; ".join(parts)
            entry["met_wall"], entry["met_cpu"] = verdicts
            entry["met"] = verdicts[0]
            out.append(entry)
    a = results.get("arming") or {}
    if a.get("median_ms") is not None:
        met = a["median_ms"] < 20.0 and not a["failed"]
        out.append({"key": "arming", "workload": "mem", "value": a["median_ms"],
                    "text": report.TARGETS_TEXT["arming"],
                    "measured": f"median {a['median_ms']:.2f} ms over {a['count']} conditions",
                    "met": met, "met_wall": met, "met_cpu": None})
    else:
        out.append({"key": "arming", "workload": "mem", "text": report.TARGETS_TEXT["arming"],
                    "measured": f"n/a ({a.get('error', 'not measured')})", "met": None,
                    "met_wall": None, "met_cpu": None})
    return out


def summarize_arming(raw: dict) -> dict:
    if raw.get("error"):
        return raw
    runs = raw["runs"]
    good = [r for r in runs if not r.get("error") and r.get("perf_events_added", 0) > 0]
    if not good:
        reasons = sorted({r.get("error") or f"tier {r.get('tier')}, no perf event opened"
                          for r in runs})
        return {"error": "no condition was armed: " + "; ".join(reasons)[:500],
                "first": raw.get("first"), "runs": runs}
    by_size = {}
    for r in good:
        entry = by_size.setdefault(str(r["size"]), {"times": [], "tiers": set(), "events": set()})
        entry["times"].append(r["seconds"])
        entry["tiers"].add(str(r.get("tier")))
        entry["events"].add(r.get("perf_events_added"))
    summary = {
        "first": raw.get("first"), "runs": runs, "count": len(good),
        "failed": len(runs) - len(good),
        "failures": [r for r in runs if r not in good],
        "median_ms": median([r["seconds"] for r in good]) * 1e3,
        "by_size": {size: {"count": len(e["times"]), "median_ms": median(e["times"]) * 1e3,
                           "max_ms": max(e["times"]) * 1e3, "tiers": sorted(e["tiers"]),
                           "events": sorted(e["events"], key=str)}
                    for size, e in by_size.items()},
    }
    return summary


def thread_scaling(hits_list, repeats, all_configs) -> dict:
    chosen = [c for c in all_configs if c.name in THREAD_CONFIGS]
    rows = []
    for t in THREAD_COUNTS:
        workload = build.threads_workload(t)
        log(f"  threads: {t}")
        address = native.resolve_address(workload)
        record = {"gdb_reference": GDB_REFERENCE,
                  "configs": measure(chosen, workload, lambda c: hits_list, repeats, address)}
        derive(record)
        rows.append({"threads": t, "configs": {
            c["name"]: {k: c.get(k) for k in ("ok", "reason", "per_hit", "per_hit_cpu", "slope",
                                              "slope_cpu", "points", "tier")}
            for c in record["configs"]}})
    return {"hits": hits_list, "configs": [c.name for c in chosen if c.name != "alone"],
            "rows": rows}


def run_workload(workload, chosen, fast, slow, repeats) -> dict:
    address = native.resolve_address(workload)
    record = {"name": workload.name, "title": workload.title, "short": workload.short,
              "location": workload.location, "address": hex(address),
              "argv_example": workload.argv(1000),
              "gdb_condition": workload.gdb_condition(1000).replace("999", "N-1"),
              "hbreak_if_condition": workload.hbreak_if_condition(1000).replace("999", "N-1"),
              "watch": workload.watch,
              "gdb_reference": "gdb watch" if workload.watch else GDB_REFERENCE,
              "configs": []}
    if workload.threads > 1:
        record["gdb_condition"] = record["hbreak_if_condition"] = (
            f"tid == {workload.threads - 1} && i == N/{workload.threads}-1")
    record["configs"] = measure(chosen, workload, lambda c: slow if c.slow else fast, repeats,
                                address)
    derive(record)
    if any(c.name == "hbreak-if kernel" for c in chosen):
        predicate = profile.predicate_run_time(workload, fast[-1], address)
        record["profile"] = profile.breakdown(record, predicate)
    for c in record["configs"]:
        if c["ok"]:
            log(f"  {c['name']:26s} {us(c.get('per_hit'))} µs per hit, "
                f"{us(c.get('per_hit_cpu'))} µs CPU per hit")
        else:
            log(f"  {c['name']:26s} n/a: {c['reason']}")
    return record


@contextlib.contextmanager
def on_cpu(cpu: int):
    """Run everything started inside (GDB, gdbserver, the program) on one CPU."""
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller N (fast configurations to 10^5, slow ones to 10^4)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per point (minimum kept)")
    parser.add_argument("--workloads", default="loop,mem,threads,python,watch,strings,callers",
                        help="comma-separated subset of loop,mem,threads,python,watch,strings,"
                             "callers")
    parser.add_argument("--configs", default="",
                        help="comma-separated configuration names to run (default all; "
                             "'alone' is always run)")
    parser.add_argument("--no-threads", action="store_true", help="skip thread-count scaling")
    parser.add_argument("--no-arming", action="store_true", help="skip the arming cost")
    parser.add_argument("--no-pinned", action="store_true",
                        help="skip workload (a) re-run with everything on one CPU")
    parser.add_argument("--out", default=os.path.join(build.BENCH, "results"))
    parser.add_argument("--quiet-load", type=float, default=QUIET.load,
                        help="before each run, wait for the 1-minute load average to fall "
                             "below this (default %(default)s; 0 = never wait)")
    parser.add_argument("--quiet-wait", type=float, default=QUIET.wait,
                        help="longest wait in seconds for a quiet machine, per run")
    args = parser.parse_args(argv)
    # A stopped benchmark stops its current run (subprocess kills it) and removes its files.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    QUIET.load = args.quiet_load if args.quiet_load > 0 else float("inf")
    QUIET.wait = args.quiet_wait
    fast = QUICK_FAST if args.quick else FULL_FAST
    slow = QUICK_SLOW if args.quick else FULL_SLOW
    all_configs = configs.configurations()
    wanted = [n.strip() for n in args.configs.split(",") if n.strip()]
    chosen = [c for c in all_configs if not wanted or c.name in wanted or c.name == "alone"]
    started = time.time()

    log("building workloads")
    build.build()
    results = {
        "generated": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["bench/run.sh", *(sys.argv[1:] if argv is None else argv)]),
        "quick": args.quick, "repeats": args.repeats, "machine": report.machine(),
        "max_hits_fast": fast[-1], "max_hits_slow": slow[-1],
        "hits_fast": fast, "hits_slow": slow, "quiet_load": args.quiet_load,
        "workloads": [], "notes": list(NOTES),
    }
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    for workload in build.workloads():
        if workload.name not in names:
            continue
        log(f"workload {workload.name}: {workload.title}")
        results["workloads"].append(run_workload(workload, chosen, fast, slow, args.repeats))
        if workload.name == "loop" and any(c.name == "gdbserver target-cond" for c in chosen):
            results["gdbserver_evidence"] = configs.gdbserver_evidence(workload)

    if not args.no_pinned and "loop" in names:
        log(f"workload loop again, everything on CPU {PINNED_CPU}")
        loop = build.workloads()[0]
        with on_cpu(PINNED_CPU):
            record = run_workload(loop, chosen, QUICK_FAST, QUICK_SLOW, args.repeats)
        record["title"] += f", GDB and the program on one CPU (CPU {PINNED_CPU})"
        record["short"] = f"(a) loop, all on CPU {PINNED_CPU}"
        record["name"] = "loop-1cpu"
        results["pinned"] = record

    if not args.no_threads:
        log("thread-count scaling")
        hits = [TINY, 10 ** 4, 10 ** 5] if args.quick else [TINY, 10 ** 5, 10 ** 6]
        results["thread_scaling"] = thread_scaling(hits, args.repeats, all_configs)
    if not args.no_arming:
        log("arming cost")
        raw = arming.measure(os.path.join(build.BUILD, "mem"), per_size=4 if args.quick else 8)
        results["arming"] = summarize_arming(raw)

    results["machine"]["loadavg at end"] = report._read("/proc/loadavg")
    results["elapsed_s"] = round(time.time() - started, 1)
    results["waited_for_quiet_s"] = round(QUIET.waited, 1)
    results["targets"] = targets(results)
    paths = report.write(results, args.out)
    log("")
    for w in results["workloads"]:
        log(f"{w['title']}")
        log(report.workload_table(w))
        log("")
    if results.get("pinned"):
        log(results["pinned"]["title"])
        log(report.workload_table(results["pinned"]))
        log("")
    log(report.targets_table(results["targets"]))
    log("")
    if results.get("arming"):
        log(report.arming_section(results["arming"]))
        log("")
    log("wrote " + ", ".join(os.path.relpath(p, build.ROOT) for p in paths)
        + f" in {results['elapsed_s']:.0f} s")
    return 0


NOTES = [
    "Per-hit costs of the configurations where GDB or gdbserver sees every hit depend on CPU "
    "placement and machine load (see the one-CPU section): with GDB and the program on "
    "different CPUs, each hit waits for an idle CPU to wake up in this VM; when other work keeps "
    "the CPUs busy, or both run on one CPU, that wait disappears. The minimum of 3 therefore "
    "favours GDB: the ratios against GDB are conservative.",
    "The machine has 2 cores and is shared with other work (test suites ran concurrently); "
    "each point is the minimum of its repeats, but small differences (a few %) are noise.",
    "The floor is a perf hardware breakpoint opened with gdb_plugin.kernel on the forked "
    "workload (enable_on_exec, inherit, counting only: no sample period, no BPF, no signal); "
    "its count is checked to equal the number of hits.",
    "GDB configurations that evaluate the condition in GDB (break, hbreak, Python stop(), "
    "gdbserver, hbreak-if ptrace tier) are capped at the smaller maximum N; at 10^6 hits each "
    "run would take minutes.",
    "Workload (c) runs its threads in parallel on 2 cores, so its per-hit wall time is lower "
    "than the CPU time per hit wherever hits do not serialize (the floor and the kernel tier); "
    "GDB stops every thread at each hit and serializes them.",
    "gdbserver 13.1 prints 'Warning: ptrace(regsets_store_inferior_registers): Bad address' "
    "twice per hit on this kernel; it still evaluates the condition and stops correctly. The "
    "timed runs send its stderr to /dev/null.",
]


if __name__ == "__main__":
    sys.exit(main())
