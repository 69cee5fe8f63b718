"""The probe's `BPPROBE` lines → one markdown table, a case per row and a kernel per column."""
import json

CASES = {  # case name in bp_probe.c -> what the row says
    "a-count": "a. counting, no BPF",
    "b-bpf0": "b. BPF returns 0",
    "c-bpf1": "c. BPF returns 1",
    "d-sigtrap": "d. sigtrap, handler",
    "e-sigtrap-bpf0": "e. sigtrap + BPF 0, handler",
    "f-sigtrap-bpf1": "f. sigtrap + BPF 1, handler",
    "h-rtsig": "h. BPF sends signal 40 (send_signal_thread), handler",
    "g-ptrace-sigtrap": "g1. ptrace, sigtrap; CONT",
    "g-ptrace-sigtrap-bpf0": "g2. ptrace, sigtrap + BPF 0; CONT",
    "g-ptrace-sigtrap-bpf1": "g3. ptrace, sigtrap + BPF 1; CONT",
    "h-ptrace-rtsig": "h2. ptrace, BPF sends signal 40; CONT",
    "g-ptrace-step-sigtrap": "g4. ptrace, sigtrap; SINGLESTEP, then CONT",
    "g-ptrace-step-sigtrap-bpf1": "g5. ptrace, sigtrap + BPF 1; SINGLESTEP, then CONT",
    "g-ptrace-disable-step-sigtrap-bpf1":
        "g6. ptrace, sigtrap + BPF 1; IOC_DISABLE, SINGLESTEP, IOC_ENABLE, CONT",
    "g-ptrace-steponly-sigtrap-bpf1": "g7. ptrace, sigtrap + BPF 1; resume hits with SINGLESTEP",
    "g-ptrace-settle-sigtrap-bpf1":
        "g8. ptrace, sigtrap + BPF 1; IOC_DISABLE, settle (`NOP; BRK` at PC, SINGLESTEP, "
        "restore code and PC), SINGLESTEP, IOC_ENABLE, CONT",
    "h-ptrace-steponly-rtsig": "h3. ptrace, BPF sends signal 40; resume hits with SINGLESTEP",
}


def parse(lines):
    """{"cases": {name: row}, "slots": {...}, "target": {...}} from the guest's output."""
    out = {"cases": {}, "slots": None, "target": None}
    for line in lines:
        tag, _, rest = line.strip().partition(" ")
        if tag == "BPPROBE":
            row = json.loads(rest)
            out["cases"][row["case"]] = row
        elif tag == "BPPROBE-SLOTS":
            out["slots"] = json.loads(rest)
        elif tag == "BPPROBE-TARGET":
            out["target"] = json.loads(rest)
    return out


def _where(at_bp, after_bp, elsewhere):
    parts = [f"{n} @{name}" for n, name in ((at_bp, "bp"), (after_bp, "bp+4"),
                                              (elsewhere, "other")) if n]
    return ", ".join(parts) or "none"


def cell(row) -> str:
    if row is None:
        return "—"
    n = row["n"]
    text = f"**{row['outcome']}** ({row['calls_done']}/{n} calls, {row['seconds']:.1f}s); count {row['count']}"
    if row["ptrace"]:
        text += f"; stops {row['stops']}: {_where(row['stops_at_bp'], row['stops_after_bp'], row['stops_elsewhere'])}"
        if row["stops"]:
            text += f", si_code {row['si_code']}"
        if row["repeats"]:
            text += f", repeats {row['repeats']}"
        if row.get("first_step_si_code", -1) != -1:
            code = row["first_step_si_code"]
            text += (f"; step stop: si_code {code}" if code >= 0 else
                     f"; step stop: signal {-code}") + f" at bp+{row['first_step_pc_minus_bp']}"
            if row["steps_ran_on"]:
                text += f", {row['steps_ran_on']}× the step ran on to the next hit"
        if row.get("settled"):
            text += f"; settled {row['settled']}×"
        if row.get("step_reports"):
            text += f"; step reports {row['step_reports']}"
        text += f"; bystander bp count {row.get('bystander_count', '?')}"
    elif row["sigtrap"]:
        text += f"; signals {row['signals']}"
        if row["signals"]:
            text += (f": PC {_where(row['signals_at_bp'], row['signals_after_bp'], row['signals_elsewhere'])}"
                     f", si_code {row['si_code']}, si_addr{'=' if row['si_addr_is_bp'] == 1 else '≠'}bp")
        if row["repeats"]:
            text += f", repeats {row['repeats']}"
    return text


def table(results) -> str:
    """`results`: [(column title, parsed output)]."""
    head = "| case | " + " | ".join(title for title, _ in results) + " |"
    rule = "|---|" + "---|" * len(results)
    rows = [head, rule]
    for name, label in CASES.items():
        rows.append(f"| {label} | " + " | ".join(cell(r["cases"].get(name))
                                                  for _, r in results) + " |")
    rows.append("| debug slots (perf ENOSPC; NT_ARM_HW_BREAK/WATCH) | " + " | ".join(
        "—" if not r["slots"] else
        f"{r['slots']['perf_breakpoints']} bp, {r['slots']['perf_watchpoints']} wp; "
        f"{r['slots']['regset_breakpoints']} bp, {r['slots']['regset_watchpoints']} wp, "
        f"debug arch {r['slots']['debug_arch']:#x}" for _, r in results) + " |")
    return "\n".join(rows)


def parse_gdb_row(lines):
    """row.py's `ARCH-ROW` result, or None."""
    for line in lines:
        if line.startswith("ARCH-ROW "):
            return json.loads(line[len("ARCH-ROW "):])
    return None


def gdb_row_passed(row) -> bool:
    return (row is not None and row["probe"]["tier"] == row["expect"]
            and row["tests"]["failed"] == 0 and row["tests"]["diff_run"] > 0
            and "cost" in row)


def _per_hit(row, name) -> str:
    cost = (row or {}).get("cost", {}).get(name)
    if not cost:
        return "—"
    us = cost["per_hit_us"]
    return f"{us / 1000:.1f} ms" if us >= 1000 else f"{us:.1f} µs"


def gdb_table(rows) -> str:
    """One line per guest: architecture, kernel, tier, tests, the differential subset (hbreak-if
    against GDB's own `break ... if`), and the per-hit costs of both (under TCG: the emulator's)."""
    out = ["| arch | kernel | tier | tests pass/fail/skip | differential: exact vs GDB "
           "| per hit: hbreak-if | per hit: GDB `break ... if` |",
           "|---|---|---|---|---|---|---|"]
    for row in rows:
        if row is None:
            out.append("| ? | ? | (no result) | | | | |")
            continue
        t = row["tests"]
        tier = row["probe"]["tier"] or "?"
        if "cost" in row and row["cost"]["hbreak-if"].get("tier"):
            tier = row["cost"]["hbreak-if"]["tier"]
        out.append(f"| {row.get('arch', '?')} | {row['kernel']} | {tier} "
                   f"| {t['passed']}/{t['failed']}/{t['skipped']} "
                   f"| {t['diff_passed']} of {t['diff_run']} | {_per_hit(row, 'hbreak-if')} "
                   f"| {_per_hit(row, 'gdb')} |")
    return "\n".join(out)
