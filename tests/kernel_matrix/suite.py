"""One row of the matrix, on whatever kernel this runs on: the tier probe, the tier-sensitive
integration tests (hbreak-if against GDB's own conditional breakpoints) and the per-hit cost.

Used by matrix.py on the host and by guest.py inside qemu, so both run exactly the same thing.
"""
import json
import os
import re
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

PYTHON = "/usr/bin/python3"  # GDB's own Python, which the plugin runs on
VENV_PYTHON = REPO / ".venv" / "bin" / "python"

DIFF = "tests/test_gdb_breakpoint.py::test_same_stops_as_gdb_conditional_breakpoint"
LIFE = "tests/test_gdb_lifecycle.py::"
SCALE = "tests/test_gdb_scale.py::"
# Tests that hold on every tier (the `kernel_tier` fixture then requires HBREAK_IF_EXPECT_TIER).
FULL_TESTS = [
    DIFF,
    LIFE + "test_pending_location_in_a_library_loaded_later",
    LIFE + "test_exec_rearms_on_the_new_image",
    LIFE + "test_fork_follows_the_right_process_and_the_other_survives",
    LIFE + "test_detach_while_armed_lets_the_program_finish",
    LIFE + "test_attach_and_quit_while_armed_lets_the_program_finish",
    LIFE + "test_kill_then_run_again",
    "tests/test_kernel_perf.py::test_threads_created_later_get_a_copy_of_an_inherited_event",
    SCALE + "test_a_breakpoint_after_one_that_ran_out_of_descriptors_still_stops",
    SCALE + "test_threads_created_after_arming_take_no_descriptor_and_stop_at_their_first_call",
]
# The CI subset: one differential test per forced tier, one lifecycle test.
SUBSET_TESTS = [
    DIFF + "[i % 97 == 3-kernel]",
    DIFF + "[i % 97 == 3-kernel-signal]",
    DIFF + "[i % 97 == 3-ptrace]",
    DIFF + "[g_cur->s < -1000 && i > 900-kernel-signal]",
    LIFE + "test_kill_then_run_again",
]

# Root without the capabilities that allow loading BPF programs (and with unprivileged BPF
# disabled by the kernel.unprivileged_bpf_disabled sysctl): what a plain user's gdb gets.
NO_BPF_PREFIX = ["setpriv", "--inh-caps=-all", "--bounding-set=-bpf,-perfmon,-sys_admin", "--"]

ROWS = {
    # name: (privileges shown in the matrix, command prefix)
    "root": ("root", []),
    "nobpf": ("no CAP_BPF/PERFMON", NO_BPF_PREFIX),
}


def stream(argv, env=None, cwd=REPO, echo=None, timeout=None):
    """Run argv, echo each output line through `echo`, return (returncode, output)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", cwd=cwd, env=env, stdin=subprocess.DEVNULL)
    lines = []
    deadline = time.monotonic() + timeout if timeout else None
    for line in proc.stdout:
        lines.append(line)
        if echo:
            echo(line.rstrip("\n"))
        if deadline and time.monotonic() > deadline:
            proc.kill()
            lines.append(f"[killed after {timeout}s]\n")
            break
    return proc.wait(), "".join(lines)


def text_table(head, body):
    """Rows of cells as aligned columns under a header and a rule."""
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    fmt = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa
    return "\n".join([fmt(head), fmt(["-" * w for w in widths]), *map(fmt, body)])


def probe(prefix, echo=None):
    start = time.perf_counter()
    rc, out = stream([*prefix, PYTHON, "-m", "gdb_plugin.kernel.probe"], echo=echo)
    m = re.search(r"^tier: (\S+)", out, re.M)
    return {"tier": m.group(1) if m else None, "output": out, "returncode": rc,
            "seconds": round(time.perf_counter() - start, 2)}


def junit_cases(path):
    """[(test name, outcome, message)] from pytest's junit XML."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return []
    cases = []
    for case in root.iter("testcase"):
        name = case.get("name", "")
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome, message = tag, node.get("message", "")
                break
        cases.append((name, outcome, message))
    return cases


def tests(prefix, expect, selection, workers, echo=None, timeout=3600, env=None):
    env = dict(os.environ, HBREAK_IF_EXPECT_TIER=expect, **(env or {}))
    env.pop("HBREAK_IF_REQUIRE_KERNEL", None)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hbreak-if-matrix-") as tmp:
        os.chmod(tmp, 0o755)
        xml = Path(tmp, "junit.xml")
        argv = [*prefix, str(VENV_PYTHON), "-m", "pytest", "-p", "no:cacheprovider",
                "-q", "-rfEs", "--junitxml", str(xml)]
        if workers > 1:
            argv += ["-n", str(workers)]
        rc, _ = stream(argv + list(selection), env=env, echo=echo, timeout=timeout)
        cases = junit_cases(xml)
    count = lambda outcomes, which=None: sum(  # noqa: E731
        1 for name, o, _ in cases if o in outcomes and (which is None or name.startswith(which)))
    diff = "test_same_stops_as_gdb_conditional_breakpoint"
    return {"returncode": rc,
            "passed": count({"passed"}), "failed": count({"failure", "error"}),
            "skipped": count({"skipped"}),
            "diff_passed": count({"passed"}, diff),
            "diff_run": count({"passed", "failure", "error"}, diff),
            "not_passed": [f"{n} [{o}] {m}".strip() for n, o, m in cases if o != "passed"],
            "seconds": round(time.perf_counter() - start, 1)}


def per_hit_cost(prefix, target_s, repeats, echo=None, extra=()):
    """cost.py in the test virtualenv, under `prefix` (so gdb has the row's privileges)."""
    start = time.perf_counter()
    rc, out = stream([*prefix, str(VENV_PYTHON), str(HERE / "cost.py"), "--target",
                       str(target_s), "--repeats", str(repeats), *extra], echo=echo)
    m = re.search(r"^COST-JSON (.*)$", out, re.M)
    if rc != 0 or not m:
        tail = "\n".join(out.splitlines()[-15:])
        return {"cost_error": f"cost.py exited {rc}:\n{tail}"}
    return {"cost": json.loads(m.group(1)),
            "cost_seconds": round(time.perf_counter() - start, 1)}


def row(kind, expect, subset=False, workers=2, cost=True, cost_target_s=2.0, cost_repeats=None,
        echo=None, selection=None):
    """Run one matrix row; `kind` is a ROWS key, `expect` the tier the probe must report;
    `selection`: the tests, if not the full or the subset list."""
    privileges, prefix = ROWS[kind]
    start = time.perf_counter()
    result = {"kernel": os.uname().release, "privileges": privileges, "expect": expect}
    say = echo or (lambda line: None)
    say(f"== {kind}: probe")
    result["probe"] = probe(prefix, echo=echo)
    say(f"== {kind}: tests (HBREAK_IF_EXPECT_TIER={expect})")
    selection = selection or (SUBSET_TESTS if subset else FULL_TESTS)
    result["tests"] = tests(prefix, expect, selection, workers, echo=echo)
    if cost:
        say(f"== {kind}: per-hit cost")
        repeats = cost_repeats or (1 if subset else 2)
        result.update(per_hit_cost(prefix, cost_target_s, repeats, echo))
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result
