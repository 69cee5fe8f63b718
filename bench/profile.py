"""Where a kernel-tier hit's time goes: the debug exception (the floor), hbreak-if's BPF
predicate (the kernel's own run-time statistics), and the rest; and the best ratio any
filter in the kernel could reach against GDB on this machine."""
import json
import re
from . import bpf_stats, configs
from .timing import GDBSERVER, first_per_hit, per_hit

_STATS = re.compile(r"^BPF-STATS (\[.*\])$", re.M)


def predicate_run_time(workload, hits: int, address: int) -> dict:
    """One hbreak-if run with the kernel's BPF accounting on: the predicate's runs and time."""
    with bpf_stats.enabled():
        run = configs.predicate_stats(workload, hits, address)
    found = _STATS.search(run.output)
    if not run.ok or not found or not json.loads(found.group(1)):
        return {"ok": False, "hits": hits,
                "reason": run.reason or "no hbreak-if predicate was loaded at the stop"}
    programs = json.loads(found.group(1))
    runs = sum(p["run_cnt"] for p in programs)
    time_ns = sum(p["run_time_ns"] for p in programs)
    return {"ok": runs > 0, "hits": hits, "programs": len(programs), "run_cnt": runs,
            "run_time_ns": time_ns, "per_run_s": time_ns / runs * 1e-9 if runs else None,
            "reason": "" if runs else "the predicate never ran"}


def breakdown(workload_record: dict, predicate: dict) -> dict:
    """The kernel tier's per-hit cost split up, and the ceilings floor-bound ratios impose."""
    floor = per_hit(workload_record, "floor")
    kernel = per_hit(workload_record, "hbreak-if kernel")
    out = {"workload": workload_record["name"], "floor": floor, "kernel": kernel,
           "predicate": predicate}
    if floor and kernel and predicate.get("ok"):
        out["rest"] = kernel - floor - predicate["per_run_s"]
    if floor:
        out["ceilings"] = {}
        for name, names in (("gdb hbreak", ("gdb hbreak",)), ("gdbserver", GDBSERVER)):
            measured, other = first_per_hit(workload_record, names)
            if other:
                out["ceilings"][name] = (measured, other / floor)
    return out
