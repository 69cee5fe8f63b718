"""Kernel matrix: the tier probe, the tier-sensitive integration tests and the per-hit cost on
this machine's kernel, and on a Debian 6.1 kernel booted in qemu with this machine's userland
(its root file system, read-only over 9p, under a tmpfs overlay).

Usage: tests/kernel_matrix/run.sh [--subset] [--help for the rest]
"""
import argparse
import base64
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import fetch  # noqa: E402
from guests import console  # noqa: E402
import initramfs  # noqa: E402
import served  # noqa: E402
import suite  # noqa: E402
from guest import SERVE_PORTS  # noqa: E402

# Linux 6.10 added the suppression the kernel tier needs; older kernels with BPF get kernel-signal.
SUPPRESSION_SINCE = (6, 10)
KVM_CHECK_S = 20
# GDB under TCG is 50-100 times slower than on hardware: the tests' gdb timeouts are scaled.
TCG_TIMEOUT_SCALE = 5


def log(text=""):
    print(text, flush=True)


def _release_tuple(release):
    m = re.match(r"(\d+)\.(\d+)", release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def expected_tier(release):
    return "kernel" if _release_tuple(release) >= SUPPRESSION_SINCE else "kernel-signal"


class Log:
    """Everything goes to the log file; with --verbose, to the terminal too."""

    def __init__(self, path, verbose):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "w")
        self.verbose = verbose

    def __call__(self, line):
        self.file.write(line + "\n")
        self.file.flush()
        if self.verbose:
            print(line, flush=True)


# ---------------------------------------------------------------- qemu

def qemu_argv(accel, k, initrd, cmdline, cpus, memory, forwards=None):
    """`forwards` (host port: guest port) gives the guest a network card reached only through
    those ports of the host's 127.0.0.1; else it has none."""
    if forwards:
        nic = ",".join(["user,model=virtio-net-pci,restrict=on"] + [
            f"hostfwd=tcp:127.0.0.1:{host}-:{guest}" for host, guest in forwards.items()])
    else:
        nic = "none"
    if accel == "kvm":
        machine = ["-accel", "kvm", "-cpu", "host"]
    else:
        machine = ["-accel", "tcg,thread=multi", "-cpu", "max"]
    return ["qemu-system-x86_64", "-nodefaults", "-no-user-config", *machine,
            "-smp", str(cpus), "-m", memory, "-kernel", str(k["vmlinuz"]), "-initrd", str(initrd),
            "-append", cmdline,
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,"
                       "multidevs=remap",
            "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
            "-nic", nic]


def kvm_works(k, initrd, out):
    """Does a guest get as far as the kernel's first message under KVM? (Nested KVM may exist
    as /dev/kvm yet hang at the switch to long mode.)"""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        out("kvm: /dev/kvm is not usable")
        return False
    argv = qemu_argv("kvm", k, initrd, "console=ttyS0 earlyprintk=serial,ttyS0 kmatrix.check",
                     1, "512M")
    proc = console.start(argv)
    try:
        for line in console.lines(proc, KVM_CHECK_S):
            if line is None:
                out(f"kvm: no kernel message within {KVM_CHECK_S}s")
                return False
            out("kvm-check| " + line)
            if "Linux version" in line:
                return True
        out("kvm: qemu ended before the kernel printed anything")
        return False
    finally:
        console.stop(proc)


def run_guest(args, rows, out, serve=False):
    """Boot the 6.1 kernel, run `rows` in it, then, with `serve`, the served row from here;
    returns (rows, info)."""
    info = {}
    t = time.monotonic()
    k = fetch.kernel(args.kernel_series, args.kernel_package)
    bb = fetch.busybox()
    info["fetch_s"] = round(time.monotonic() - t, 1)
    info["package"] = k["package"]
    log(f"guest kernel: {k['package']} ({k['release']}), fetched/unpacked in {info['fetch_s']}s "
        f"(cache: {fetch.cache_dir()})")
    if serve:
        served.build_programs(out)
    with tempfile.TemporaryDirectory(prefix="hbreak-if-matrix-") as tmp:
        initrd = initramfs.build(Path(tmp, "initrd.img"), bb, k["modules"],
                                 [suite.PYTHON, str(HERE / "guest.py")])
        accel = args.accel
        if accel == "auto":
            t = time.monotonic()
            accel = "kvm" if kvm_works(k, initrd, out) else "tcg"
            log(f"accelerator: {accel} (KVM check {time.monotonic() - t:.1f}s)")
        info["accel"] = accel
        req = {"repo": str(suite.REPO), "rows": rows, "subset": args.subset,
               "command": args.guest_command,
               "workers": args.cpus, "cost": not args.no_cost,
               # Under TCG each gdb run starts slowly: one run per size.
               "cost_repeats": 1 if accel == "tcg" or args.subset else 2,
               "timeout_scale": TCG_TIMEOUT_SCALE if accel == "tcg" else 1,
               "cost_target_s": args.cost_target,
               "serve": args.timeout if serve else None}
        cmdline = ("console=ttyS0 quiet panic=-1 kmatrix="
                   + base64.b64encode(json.dumps(req).encode()).decode())
        ports = dict(zip(SERVE_PORTS, served.free_ports(len(SERVE_PORTS)))) if serve else {}
        argv = qemu_argv(accel, k, initrd, cmdline, args.cpus, args.memory,
                         {ports[name]: SERVE_PORTS[name] for name in ports})
        out("$ " + " ".join(argv))
        t = time.monotonic()
        proc = console.start(argv)
        results, done = [], None
        try:
            for line in console.lines(proc, args.timeout):
                if line is None:
                    info["error"] = f"the guest did not finish within {args.timeout}s"
                    break
                out("guest| " + line)
                tag, _, rest = line.partition(" ")
                if tag == "KMATRIX-BOOTED":
                    info["boot_s"] = round(time.monotonic() - t, 1)
                    log(f"guest booted in {info['boot_s']}s: {rest}")
                elif tag == "KMATRIX-ROW":
                    row = json.loads(rest)
                    results.append(row)
                    log(f"guest row done ({time.monotonic() - t:.0f}s): {_summary(row)}")
                elif tag in ("KMATRIX-ERROR", "KMATRIX-STAGE1-FAIL"):
                    info["error"] = json.loads(rest) if tag == "KMATRIX-ERROR" else line
                    log(f"guest error:\n{info['error']}")
                elif tag == "KMATRIX-SERVING":
                    t_row = time.monotonic()
                    row = served.row(k["release"], ports["gdbserver"], ports["agent"],
                                     expected_tier(k["release"]), lambda line: out("host| " + line),
                                     None if args.no_cost else args.cost_target)
                    results.append(row)
                    log(f"served row done ({time.monotonic() - t_row:.0f}s): {_summary(row)}")
                    served.end(ports["gdbserver"], lambda line: out("host| " + line))
                elif tag == "KMATRIX-COMMAND-EXIT":
                    info["command_exit"] = int(rest)
                elif tag == "KMATRIX-DONE":
                    done = int(rest)
                elif tag in ("KMATRIX-DMESG",):
                    info.setdefault("dmesg", []).append(rest)
        finally:
            console.stop(proc)
        info["guest_s"] = round(time.monotonic() - t, 1)
        if done is None and "error" not in info:
            info["error"] = "the guest ended without reporting"
    return results, info


# ---------------------------------------------------------------- the matrix

def _summary(row):
    probe = row["probe"]["tier"]
    tests = row["tests"]
    return (f"{row['kernel']} {row['privileges']}: tier {probe} (expected {row['expect']}), "
            f"{tests['passed']} passed, {tests['failed']} failed, {tests['skipped']} skipped")


def row_ok(row):
    t = row["tests"]
    return (row["probe"]["tier"] == row["expect"] and t["returncode"] == 0 and t["failed"] == 0
            and t["passed"] > 0 and "cost_error" not in row)


def _us(row, config):
    c = row.get("cost", {}).get(config)
    if not c:
        return "error" if "cost_error" in row else "-"
    v = c["per_hit_us"]
    return (f"{v:,.1f} µs" if v < 100 else f"{v:,.0f} µs") + f" (N={c['n']:,})"


def table(rows):
    head = ["kernel", "where", "privileges", "tier chosen", "tests pass/fail/skip",
            "exact vs GDB", "hbreak-if per hit", "GDB break-if per hit", "time", "result"]
    body = []
    for r in rows:
        t = r["tests"]
        cost_tier = r.get("cost", {}).get("hbreak-if", {}).get("tier")
        tier = r["probe"]["tier"] or "?"
        if cost_tier and cost_tier not in (tier, f"remote-{tier}"):  # served: through the agent
            tier += f" (cost ran on {cost_tier})"
        body.append([r["kernel"], r["where"], r["privileges"], tier,
                     f"{t['passed']}/{t['failed']}/{t['skipped']}",
                     f"{t['diff_passed']}/{t['diff_run']}", _us(r, "hbreak-if"), _us(r, "gdb"),
                     f"{r.get('seconds', 0):.0f}s", "ok" if row_ok(r) else "FAIL"])
    return suite.text_table(head, body)


def guest_command(args):
    """Boot the guest, run one command in it with its output on the terminal; its exit status."""
    out = Log(args.log or fetch.cache_dir() / "last-command.log", True)
    _, info = run_guest(args, [], out)
    if "error" in info:
        log(f"guest: {info['error']}")
    return info.get("command_exit", 1)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="tests/kernel_matrix/run.sh", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subset", action="store_true",
                    help="the CI subset: fewer tests, root rows only, quicker cost runs")
    ap.add_argument("--no-host", action="store_true", help="skip the rows on this machine")
    ap.add_argument("--no-guest", action="store_true", help="skip the qemu guest")
    ap.add_argument("--no-cost", action="store_true", help="skip the per-hit cost")
    ap.add_argument("--cost-target", type=float, default=None, metavar="S",
                    help="seconds of hits per cost run (default 2, subset 1)")
    ap.add_argument("--kernel-series", default="6.1")
    ap.add_argument("--kernel-package", default=None,
                    help="exact Debian package (default: the newest linux-image-<series>.*-amd64)")
    ap.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--memory", default="3G")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds for the whole guest run")
    ap.add_argument("--log", type=Path, default=None,
                    help="full transcript (default: <cache>/last-run.log)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    ap.add_argument("-v", "--verbose", action="store_true", help="stream every test's output")
    ap.add_argument("--guest-command", metavar="CMD", default=None,
                    help="only boot the guest and run CMD (bash, in the repo, as root) in it")
    args = ap.parse_args(argv)
    if args.guest_command:
        return guest_command(args)
    if args.cost_target is None:
        args.cost_target = 1.0 if args.subset else 2.0

    for tool in ("qemu-system-x86_64", "apt-get", "dpkg-deb", "setpriv"):
        if not args.no_guest and shutil.which(tool) is None:
            raise SystemExit(f"kernel matrix: {tool} is missing (tests/kernel_matrix/run.sh "
                             "installs qemu-system-x86)")
    if not suite.VENV_PYTHON.exists():
        raise SystemExit("kernel matrix: no .venv; run ./install.sh --dev first")
    if os.geteuid() != 0:
        raise SystemExit("kernel matrix: run as root (the rows compare root with a process "
                         "that lost its BPF capabilities)")

    out = Log(args.log or fetch.cache_dir() / "last-run.log", args.verbose)
    log(f"kernel matrix ({'subset' if args.subset else 'full'}); transcript: {out.path}")
    start = time.monotonic()
    kinds = ["root"] if args.subset else ["root", "nobpf"]
    rows, info = [], {}

    if not args.no_host:
        release = os.uname().release
        for kind in kinds:
            expect = expected_tier(release) if kind == "root" else "ptrace"
            t = time.monotonic()
            r = suite.row(kind, expect, subset=args.subset, workers=args.cpus,
                          cost=not args.no_cost, cost_target_s=args.cost_target, echo=out)
            r["where"] = "host"
            rows.append(r)
            log(f"host row done ({time.monotonic() - t:.0f}s): {_summary(r)}")

    if not args.no_guest:
        guest_rows = [[kind, "kernel-signal" if kind == "root" else "ptrace"] for kind in kinds]
        got, info = run_guest(args, guest_rows, out, serve=True)
        rows += got

    elapsed = time.monotonic() - start
    log()
    log(table(rows))
    log()
    for r in rows:
        for line in r["tests"]["not_passed"]:
            if "[skipped]" not in line:
                log(f"{r['kernel']} {r['privileges']}: {line}")
        if r["probe"]["tier"] != r["expect"]:
            log(f"{r['kernel']} {r['privileges']}: the probe said {r['probe']['tier']}, "
                f"expected {r['expect']}:\n{r['probe']['output']}")
        if "cost_error" in r:
            log(f"{r['kernel']} {r['privileges']}: cost: {r['cost_error']}")
    if not args.no_guest:
        log(f"guest: {info.get('package')} under qemu/{info.get('accel')}, boot "
            f"{info.get('boot_s', '?')}s, guest total {info.get('guest_s', '?')}s"
            + (" (per-hit costs under TCG are emulation costs, not the hardware's)"
               if info.get("accel") == "tcg" else ""))
        for line in info.get("dmesg", []):
            log(f"guest kernel warning after boot: {line}")
    log(f"total: {elapsed / 60:.1f} min")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "guest": info,
                                         "seconds": round(elapsed, 1)}, indent=1))
    expected_rows = (0 if args.no_host else len(kinds)) + (0 if args.no_guest else len(kinds) + 1)
    ok = (len(rows) == expected_rows and all(map(row_ok, rows)) and "error" not in info)
    if "error" in info:
        log(f"guest: {info['error']}")
    log("kernel matrix: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
