"""GDB matrix: the test suite with this machine's GDB, and with the GDB and Python of Debian 13
and Debian unstable, each in a chroot (cached root file systems) on this machine's kernel.

Usage: tests/gdb_matrix/run.sh [--rows host,trixie,sid] [--rebuild] [-- PYTEST-SELECTION...]
"""
import argparse
import contextlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent / "kernel_matrix"))

import root  # noqa: E402
from suite import junit_cases, stream, text_table  # noqa: E402

# name: (distribution shown in the table, Debian suite of the chroot or None for this machine)
ROWS = {
    "host": ("this machine's", None),
    "trixie": ("Debian 13", "trixie"),
    "sid": ("Debian unstable", "sid"),
}
# The tests that compare hbreak-if's stops with those of GDB's own `break LOCATION if COND`.
DIFFERENTIAL = ("test_same_stops_as_gdb", "test_hbreak_if_stops_where_gdb_break_if_stops",
                "test_kernel_agrees_with_gdb")
# Kernel and BCC tests fail rather than skip, as in CI: the chroots run on this kernel.
TEST_ENV = {"HBREAK_IF_REQUIRE_KERNEL": "1", "HBREAK_IF_REQUIRE_BCC": "1"}
GDB_PYTHON = "python import sys; print('python', sys.version.split()[0])"


class Place:
    """Where a row runs: this machine's checkout, or the copy inside a chroot."""

    def __init__(self, root_dir=None):
        self.root_dir = root_dir
        self.repo = Path(root.PROJECT) if root_dir else REPO

    def argv(self, *command, env=None):
        if self.root_dir is None:
            return ["env", *(f"{k}={v}" for k, v in (env or {}).items()), *command]
        return [*root.chroot_prefix(self.root_dir, env or {}),
                "/bin/sh", "-c", f'cd {root.PROJECT} && exec "$@"', "sh", *command]

    def host_path(self, path: str) -> Path:
        return Path(self.root_dir, path.lstrip("/")) if self.root_dir else Path(path)


def versions(place, out):
    _, text = stream(place.argv("gdb", "-nx", "-batch", "-ex", "show version", "-ex", GDB_PYTHON),
                     echo=out)
    gdb = re.search(r"^GNU gdb .*?(\d+\.\d+(?:\.\d+)?)\S*$", text, re.M)
    py = re.search(r"^python (\S+)", text, re.M)
    return (gdb.group(1) if gdb else "?"), (py.group(1) if py else "?")


def row(name, selection, workers, rebuild, out):
    distribution, suite_name = ROWS[name]
    start = time.monotonic()
    result = {"row": name, "distribution": distribution}
    if suite_name:
        root_dir = root.build(suite_name, rebuild, out)
        root.copy_project(REPO, root_dir)
        context = root.mounted(root_dir)
    else:
        root_dir, context = None, contextlib.nullcontext()
    place = Place(root_dir)
    with context:
        out(f"== {name}: ./install.sh --dev")
        rc, text = stream(place.argv("./install.sh", "--dev"), echo=out)
        if rc != 0:
            result["error"] = "install.sh --dev failed:\n" + "\n".join(text.splitlines()[-20:])
            return _finish(result, start)
        result["distribution"] = _os_name(root_dir or "/") or distribution
        result["gdb"], result["python"] = versions(place, out)
        _, text = stream(place.argv(".venv/bin/python", "-m", "gdb_plugin.kernel.probe"), echo=out)
        tier = re.search(r"^tier: (\S+)", text, re.M)
        result["tier"] = tier.group(1) if tier else "?"
        out(f"== {name}: tests")
        with tempfile.TemporaryDirectory(dir=place.host_path("/tmp")) as tmp:
            junit = f"/tmp/{Path(tmp).name}/junit.xml"
            argv = place.argv(".venv/bin/python", "-m", "pytest", "-p", "no:cacheprovider", "-q",
                              "-rfEs", "-n", str(workers), "--junitxml", junit, *selection,
                              env=TEST_ENV)
            result["returncode"], _ = stream(argv, echo=out)
            cases = junit_cases(place.host_path(junit))
    count = lambda outcomes, names=None: sum(  # noqa: E731
        1 for n, o, _ in cases if o in outcomes and (names is None or n.startswith(names)))
    result.update(passed=count({"passed"}), failed=count({"failure", "error"}),
                  skipped=count({"skipped"}),
                  diff_failed=count({"failure", "error"}, DIFFERENTIAL),
                  diff_run=count({"passed", "failure", "error"}, DIFFERENTIAL),
                  not_passed=[f"{n} [{o}] {m}".strip()[:300] for n, o, m in cases
                              if o in ("failure", "error")])
    return _finish(result, start)


def _os_name(root_dir):
    text = Path(root_dir, "etc/os-release").read_text()
    m = re.search(r'^PRETTY_NAME="(.*)"', text, re.M)
    return m.group(1) if m else None


def _finish(result, start):
    result["seconds"] = round(time.monotonic() - start)
    return result


def row_ok(r):
    return "error" not in r and r["returncode"] == 0 and r["failed"] == 0 and r["passed"] > 0


def table(rows):
    head = ["distribution", "GDB", "Python", "tier", "tests pass/fail/skip",
            "differential tests mismatching", "time", "result"]
    body = [[r["distribution"], r.get("gdb", "?"), r.get("python", "?"), r.get("tier", "?"),
             f"{r.get('passed', 0)}/{r.get('failed', 0)}/{r.get('skipped', 0)}",
             f"{r.get('diff_failed', '?')} of {r.get('diff_run', '?')}",
             f"{r['seconds'] // 60}m{r['seconds'] % 60:02d}s", "ok" if row_ok(r) else "FAIL"]
            for r in rows]
    return text_table(head, body)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="tests/gdb_matrix/run.sh", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default=",".join(ROWS),
                    help=f"comma-separated, from {', '.join(ROWS)} (default: all)")
    ap.add_argument("--rebuild", action="store_true", help="make the cached roots anew")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("-v", "--verbose", action="store_true", help="stream every line to the terminal")
    ap.add_argument("selection", nargs="*", help="pytest arguments (default: the whole suite)")
    args = ap.parse_args(argv)
    names = args.rows.split(",")
    unknown = set(names) - set(ROWS)
    if unknown:
        ap.error(f"unknown rows: {', '.join(sorted(unknown))}")
    if os.geteuid() != 0:
        raise SystemExit("gdb matrix: run as root (it builds and enters chroots)")

    log_path = root.cache_dir() / "last-run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(log_path, "w")

    def out(line):
        log_file.write(line + "\n")
        log_file.flush()
        if args.verbose:
            print(line, flush=True)

    print(f"gdb matrix: rows {', '.join(names)}; transcript: {log_path}", flush=True)
    rows = []
    for name in names:
        rows.append(row(name, args.selection, args.workers, args.rebuild, out))
        r = rows[-1]
        print(f"{name} done in {r['seconds']}s: " + (r.get("error") or
              f"GDB {r['gdb']}, {r['passed']} passed, {r['failed']} failed"), flush=True)
    print()
    print(table(rows))
    print()
    for r in rows:
        for line in r.get("not_passed", []):
            print(f"{r['row']}: {line}")
    ok = all(map(row_ok, rows))
    print("gdb matrix: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
