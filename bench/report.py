"""Results: machine description, markdown tables, raw JSON, the plot."""
import json
import os
import platform
import subprocess
from typing import List, Optional

from . import plot
from .timing import METHOD

TARGETS_TEXT = {
    "floor": "hbreak-if kernel tier ≤ 1.1× the floor per hit",
    "hbreak": "hbreak-if kernel tier ≥ 30× faster per hit than GDB's `hbreak … if`",
    "gdbserver": "hbreak-if kernel tier ≥ 15× faster per hit than gdbserver (target-side "
                 "evaluation, else GDB's over gdbserver)",
    "arming": "arming median < 20 ms",
}


def _first_line(command: List[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError) as e:
        return f"({' '.join(command)}: {e})"


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return f"({e})"


def machine() -> dict:
    model = ""
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "uname -a": _first_line(["uname", "-a"]),
        "nproc": _first_line(["nproc"]),
        "cpu model name": model,
        "gdb --version": _first_line(["gdb", "--version"]),
        "gdbserver --version": _first_line(["gdbserver", "--version"]),
        "gcc --version": _first_line(["gcc", "--version"]),
        "python": platform.python_version(),
        "perf_event_paranoid": _read("/proc/sys/kernel/perf_event_paranoid"),
        "loadavg at start": _read("/proc/loadavg"),
    }


# ------------------------------------------------------------------ formatting

def us(seconds: Optional[float]) -> str:
    if seconds is None:
        return "n/a"
    value = seconds * 1e6
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def ratio(value: Optional[float]) -> str:
    if value is None:
        return "—"
    if value >= 10:
        return f"{value:.0f}×"
    if value >= 1:
        return f"{value:.2f}×"
    return f"{value:.3f}×"


def hits_text(hits: int) -> str:
    exponent = len(str(hits)) - 1
    if hits == 10 ** exponent and exponent >= 3:
        return f"10^{exponent}"
    return f"{hits:,}"


def _pair(wall: Optional[float], cpu: Optional[float]) -> str:
    return f"{ratio(wall)} / {ratio(cpu)}"


def workload_table(workload: dict) -> str:
    gdb = "`watch -l if`" if workload.get("watch") else "`hbreak if`"
    rows = ["| configuration | N (hits) | wall time at N | µs per hit (wall) | µs per hit (CPU) "
            f"| ratio to GDB {gdb} (wall / CPU) | ratio to floor (wall / CPU) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c in workload["configs"]:
        if not c["ok"]:
            rows.append(f"| {c['name']} | n/a | n/a | n/a ({_cell(c['reason'])}) | n/a | n/a "
                        f"| n/a |")
            continue
        top = c["points"][-1]
        if c["name"] == "alone":
            per_hit = f"{us(c['slope'])} (the loop itself)"
            per_hit_cpu = us(c.get("slope_cpu"))
            to_hbreak = to_floor = "—"
        else:
            per_hit = us(c["per_hit"])
            per_hit_cpu = us(c.get("per_hit_cpu"))
            to_hbreak = _pair(c.get("ratio_to_gdb"), c.get("ratio_to_gdb_cpu"))
            to_floor = _pair(c.get("ratio_to_floor"), c.get("ratio_to_floor_cpu"))
        tier = f" [tier {c['tier']}]" if c.get("tier") and c["name"].startswith("hbreak-if") else ""
        rows.append(f"| {c['name']}{tier} | {hits_text(top['hits'])} | {top['best']:.3f} s "
                    f"| {per_hit} | {per_hit_cpu} | {to_hbreak} | {to_floor} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:240]


def flatness_table(workload: dict) -> str:
    all_hits = sorted({int(h) for c in workload["configs"] for h in c.get("per_hit_at", {})})
    if not all_hits:
        return "(no data)"
    head = "| configuration | " + " | ".join(hits_text(h) for h in all_hits) + " | max/min (N ≥ 10^4) |"
    rows = [head, "| --- |" + " ---: |" * (len(all_hits) + 1)]
    for c in workload["configs"]:
        at = {int(h): v for h, v in c.get("per_hit_at", {}).items()}
        if not c["ok"] or not at or c["name"] == "alone":
            continue
        big = [v for h, v in at.items() if h >= 10000 and v > 0]
        spread = f"{max(big) / min(big):.2f}" if len(big) >= 2 else "—"
        rows.append(f"| {c['name']} | " + " | ".join(us(at.get(h)) if h in at else ""
                                                    for h in all_hits) + f" | {spread} |")
    return "\n".join(rows)


def threads_table(scaling: dict) -> str:
    names = scaling["configs"]
    rows = ["| threads | " + " | ".join(f"{n} µs/hit (wall / CPU)" for n in names)
            + " | hbreak-if kernel ÷ floor (wall / CPU) |",
            "| ---: |" + " ---: |" * (len(names) + 1)]
    for row in scaling["rows"]:
        cells = []
        for n in names:
            entry = row["configs"].get(n, {})
            cells.append(f"{us(entry.get('per_hit'))} / {us(entry.get('per_hit_cpu'))}"
                         if entry.get("ok") else f"n/a ({_cell(entry.get('reason', ''))})")
        floor = row["configs"].get("floor", {})
        kern = row["configs"].get("hbreak-if kernel", {})
        pair = []
        for key in ("per_hit", "per_hit_cpu"):
            f, k = floor.get(key), kern.get(key)
            pair.append(k / f if f and k else None)
        rows.append(f"| {row['threads']} | " + " | ".join(cells) + f" | {_pair(*pair)} |")
    return "\n".join(rows)


def arming_section(arming: dict) -> str:
    if not arming:
        return "(not measured)"
    if arming.get("error"):
        return f"n/a: {arming['error']}"
    lines = []
    first = arming.get("first")
    if first:
        lines.append(f"First command of the session (includes the tier self-test): "
                     f"{first['seconds'] * 1e3:.1f} ms, tier {first.get('tier')}, "
                     f"{first.get('perf_events_added')} perf event(s) opened"
                     + (f", error: {first['error']}" if first.get("error") else "") + ".")
        lines.append("")
    lines.append("| terms in the condition | conditions | median ms | max ms | tiers | perf events "
                 "opened by the command |")
    lines.append("| ---: | ---: | ---: | ---: | --- | --- |")
    for size, stats in sorted(arming["by_size"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"| {size} | {stats['count']} | {stats['median_ms']:.2f} | "
                     f"{stats['max_ms']:.2f} | {', '.join(stats['tiers'])} | "
                     f"{', '.join(str(n) for n in stats['events'])} |")
    lines.append("")
    lines.append(f"Median over all {arming['count']} conditions: **{arming['median_ms']:.2f} ms** "
                 f"({arming['failed']} command(s) failed).")
    return "\n".join(lines)


def targets_table(targets: List[dict]) -> str:
    rows = ["| target | measured (same run) | met? (wall) | met? (CPU) |",
            "| --- | --- | --- | --- |"]
    for t in targets:
        verdict = {True: "**yes**", False: "**no**", None: "n/a"}
        rows.append(f"| {t['text']} | {t['measured']} | {verdict[t.get('met_wall')]} "
                    f"| {verdict[t.get('met_cpu')]} |")
    return "\n".join(rows)


PROFILE_TEXT = (
    "A kernel-tier hit costs the floor (the debug exception and the perf breakpoint's own "
    "handling, measured with no BPF program and no signal), plus hbreak-if's BPF predicate "
    "(its run time from the kernel's own BPF statistics, `BPF_ENABLE_STATS`, over every hit of a "
    "separate run; the accounting itself adds a little), plus the rest (whatever else the "
    "attached program changes in the exception path, and noise). No filter in the kernel can "
    "cost less than the floor, so a ratio against GDB cannot exceed GDB's per-hit cost ÷ the "
    "floor: the ceiling columns. A ratio target above its ceiling cannot be met on this machine.")


def _ceiling(entry) -> str:
    """A ceiling's ratio, and which gdbserver configuration it is against where not the first."""
    if not entry:
        return "—"
    name, value = entry
    return ratio(value) + (" (GDB evaluates)" if name == "gdbserver host-cond" else "")


def profile_table(workloads: List[dict]) -> str:
    rows = ["| workload | floor µs | BPF predicate µs (runs) | rest µs | hbreak-if kernel µs "
            "| ceiling vs GDB `hbreak if` | ceiling vs gdbserver |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for w in workloads:
        p = w.get("profile")
        if not p:
            continue
        pred = p["predicate"]
        predicate = (f"{us(pred['per_run_s'])} ({pred['run_cnt']:,})" if pred.get("ok")
                     else f"n/a ({_cell(pred.get('reason', ''))})")
        ceilings = p.get("ceilings", {})
        rows.append(f"| {w['name']} | {us(p['floor'])} | {predicate} | {us(p.get('rest'))} "
                    f"| {us(p['kernel'])} | {_ceiling(ceilings.get('gdb hbreak'))} "
                    f"| {_ceiling(ceilings.get('gdbserver'))} |")
    return "\n".join(rows)


def _duration(results: dict) -> str:
    text = f"The run took {results.get('elapsed_s', 0) / 60:.0f} min"
    if (results.get("quiet_load") or 0) > 0:
        text += (f", {results.get('waited_for_quiet_s', 0) / 60:.0f} min of which waiting "
                 f"before runs for the 1-minute load average to fall below "
                 f"{results['quiet_load']:g} (other work on the machine)")
    return text + "."


def markdown(results: dict) -> str:
    m = results["machine"]
    out = ["# hbreak-if benchmark results", "",
           f"Generated {results['generated']} by `{results['command']}`"
           f"{' (quick run)' if results['quick'] else ''}; every point is the minimum of "
           f"{results['repeats']} runs. " + _duration(results), "",
           "## Machine", "", "```"]
    out += [f"{k}: {v}" for k, v in m.items()]
    out += ["```", "", "## Method", "", METHOD.strip(), "",
            f"Slow configurations (GDB evaluating the condition at every hit) are run up to "
            f"{hits_text(results['max_hits_slow'])} hits, the others up to "
            f"{hits_text(results['max_hits_fast'])}.", "",
            "## Targets", "", targets_table(results["targets"]), "",
            "## Where a kernel-tier hit's time goes", "", PROFILE_TEXT, "",
            profile_table(results["workloads"]), ""]
    for w in results["workloads"]:
        where = (f"Watchpoint on writes to `{w['location']}` ({w['address']}): GDB's "
                 f"`watch -location`, hbreak-if's `hwatch-if` (rows `hbreak-if ...`), the floor "
                 "a perf write breakpoint counting; a hit is one write" if w.get("watch")
                 else f"Breakpoint at `{w['location']}` ({w['address']})")
        out += [f"## Workload {w['title']}", "",
                f"{where}; condition in GDB `{w['gdb_condition']}`, in hbreak-if "
                f"`{w['hbreak_if_condition']}` (for N hits, true once).", "",
                workload_table(w), ""]
        for c in w["configs"]:
            if c.get("evidence"):
                out += [f"{c['name']}: {c['evidence']}.", ""]
            for note in c.get("anomalies", []):
                out += [f"{c['name']}: {note}.", ""]
    if results.get("pinned"):
        p = results["pinned"]
        out += [f"## Workload {p['title']}", "", PINNED_TEXT, "", workload_table(p), ""]
    out += ["## Per-hit cost at each N (flat in N?)", "",
            "µs per hit at each N, start-up (the tiny run) and the program's own time "
            "subtracted.", ""]
    for w in results["workloads"] + ([results["pinned"]] if results.get("pinned") else []):
        out += [f"### {w['title']}", "", flatness_table(w), ""]
    if results.get("thread_scaling"):
        s = results["thread_scaling"]
        out += ["## Scaling in thread count", "",
                f"Workload (c) with T threads, T×n hits in all (hits "
                f"{', '.join(hits_text(h) for h in s['hits'])}); per-hit = slope over hits minus "
                "the program's own slope. Wall time per hit: with 2 cores, two threads take their "
                "debug exceptions in parallel; CPU time per hit adds up both.", "",
                threads_table(s), ""]
    out += ["## Arming cost", "", ARMING_METHOD, "", arming_section(results.get("arming")), ""]
    if results.get("gdbserver_evidence"):
        out += ["## gdbserver evaluates the condition itself", "",
                "A traced run at 8 hits (`set debug remote 1`): the Z0 packet carries the "
                "condition as agent-expression bytecode (`;X<len>,<bytes>`), GDB shows it as "
                "`(target evals)`, and GDB itself saw only the one matching hit.", "", "```",
                results["gdbserver_evidence"], "```", ""]
    out += ["## Plot", "", "![per-hit cost against N](per_hit.png)", ""]
    if results.get("notes"):
        out += ["## Notes", ""] + [f"- {n}" for n in results["notes"]] + [""]
    return "\n".join(out)


PINNED_TEXT = (
    "The same run of workload (a) with the benchmark process, and so GDB, gdbserver and the "
    "program, restricted to one CPU (`sched_setaffinity`), at the quick run's N. Configurations "
    "in which GDB or gdbserver handles every hit ping-pong between two processes; on two CPUs of "
    "this VM each hand-over waits for the other CPU to wake up from idle, which costs more than "
    "the work itself, and how much depends on what else the machine is doing. On one CPU that "
    "cost is gone: this is GDB's best case. The floor and hbreak-if's kernel tier do not involve "
    "GDB per hit.")

ARMING_METHOD = (
    "In GDB, with the `mem` workload live at `main`: `time.perf_counter()` around "
    "`gdb.execute(\"hbreak-if target COND\")` (front end, compile, load, attach: the whole "
    "command), for conditions of 1 to 32 terms over arguments, struct fields through a pointer, "
    "globals and an array; after each command GDB's open perf events are counted (the "
    "breakpoint is armed when the command returns) and the breakpoint is deleted.")


def write(results: dict, directory: str) -> List[str]:
    os.makedirs(directory, exist_ok=True)
    paths = []
    text = markdown(results)
    for name, data in (("results.md", text),
                       ("results.json", json.dumps(results, indent=1, sort_keys=False)),
                       ("machine.txt", "\n".join(f"{k}: {v}" for k, v in
                                                 results["machine"].items()) + "\n")):
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(data if data.endswith("\n") else data + "\n")
        paths.append(path)
    png = os.path.join(directory, "per_hit.png")
    panels = []
    names = []
    for w in results["workloads"] + ([results["pinned"]] if results.get("pinned") else []):
        series = {}
        for c in w["configs"]:
            if c["ok"] and c.get("per_hit_at") and c["name"] != "alone":
                series[c["name"]] = [(int(h), v * 1e6) for h, v in c["per_hit_at"].items()]
                if c["name"] not in names:
                    names.append(c["name"])
        panels.append((w.get("short") or w["title"], series))
    if panels:
        plot.per_hit_figure(panels, names, png, COLORS)
        paths.append(png)
    return paths


# One color per configuration, the same in every plot: GDB warm, hbreak-if cool, floor black.
COLORS = {
    "floor": (0, 0, 0),
    "gdb break": (214, 39, 40),
    "gdb hbreak": (255, 127, 14),
    "gdb python stop()": (188, 189, 34),
    "gdbserver target-cond": (140, 86, 75),
    "gdbserver host-cond": (196, 156, 135),
    "gdb watch": (227, 119, 194),
    "hbreak-if kernel": (44, 160, 44),
    "hbreak-if kernel-signal": (31, 119, 180),
    "hbreak-if ptrace": (148, 103, 189),
}
