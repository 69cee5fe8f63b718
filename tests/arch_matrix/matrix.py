"""Arch matrix: boots Debian's arm64 kernels (bookworm 6.1, trixie 6.12) in qemu-system-aarch64
(TCG) on an arm64 Debian root file system, with the repo visible at its host path, and runs one
command in each: by default the hardware breakpoint probe (bp_probe.c, compiled in the guest).

Usage: tests/arch_matrix/run.sh [--help for the options]
"""
import argparse
import base64
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import initramfs  # noqa: E402
import packages  # noqa: E402
import qemu  # noqa: E402
from guests import console  # noqa: E402
import report  # noqa: E402
import rootfs  # noqa: E402

PROBE_COMMAND = ("gcc -O2 -Wall -o /tmp/bp_probe tests/arch_matrix/bp_probe.c"
                 " && /tmp/bp_probe {n} {timeout}")
GDB_COMMAND = "python3 tests/arch_matrix/row.py --expect {expect}"
# The tier each kernel's probe must report: 6.12's BPF verdict suppresses a hit's SIGTRAP, 6.1's
# does not (RESULTS.md, case e).
EXPECTED_TIER = {"bookworm": "kernel-signal", "trixie": "kernel"}


def log(text=""):
    print(text, flush=True)


def boot(suite, args, command, transcript):
    """Boot `suite`'s kernel, run `command` in the repo, return (output lines, info)."""
    t = time.monotonic()
    k = packages.kernel(suite, args.kernel_package if len(args.kernels) == 1 else None)
    info = {"suite": suite, "package": k["package"], "fetch_s": round(time.monotonic() - t, 1)}
    root = rootfs.build(log)
    req = {"cwd": str(REPO), "command": command}
    cmdline = ("console=ttyAMA0 panic=-1 quiet archm="
               + base64.b64encode(json.dumps(req).encode()).decode())
    output, rc = [], None
    with tempfile.TemporaryDirectory(prefix="hbreak-if-arch-") as tmp:
        initrd = initramfs.build(Path(tmp, "initrd.img"), packages.busybox(), k["modules"],
                                 str(REPO), ["/usr/bin/python3", str(HERE / "guest_init.py")])
        argv = qemu.argv(k["image"], initrd, cmdline, root, REPO, args.cpus, args.memory,
                         args.cpu)
        info["qemu"] = " ".join(argv[:argv.index("-append") + 1]) + " '…' " + " ".join(
            argv[argv.index("-append") + 2:])
        transcript("$ " + " ".join(argv))
        t = time.monotonic()
        proc = console.start(argv)
        try:
            for line in console.lines(proc, args.timeout):
                if line is None:
                    info["error"] = f"the guest did not finish within {args.timeout}s"
                    break
                transcript(line)
                tag, _, rest = line.partition(" ")
                if tag == "ARCHM-BOOTED":
                    info["boot_s"] = round(time.monotonic() - t, 1)
                    info["guest"] = json.loads(rest)
                    log(f"{suite}: booted {info['guest']['release']} in {info['boot_s']}s")
                elif tag == "ARCHM-EXIT":
                    rc = int(rest)
                    info["command_s"] = round(time.monotonic() - t - info.get("boot_s", 0), 1)
                elif tag in ("ARCHM-ERROR", "ARCHM-STAGE1-FAIL"):
                    info["error"] = line
                    log(f"{suite}: guest error: {line}")
                elif tag == "ARCHM-DMESG":
                    info.setdefault("dmesg", []).append(rest)
                elif tag == "ARCHM-DONE":
                    break
                elif "boot_s" in info:
                    output.append(line)
                    if args.verbose or not line.startswith("BPPROBE"):
                        log(f"  {suite}| {line}")
                    else:
                        log(f"  {suite}| {line[:150]}")
        finally:
            console.stop(proc)
    info["exit"] = rc
    info["total_s"] = round(time.monotonic() - t, 1)
    return output, info


def main():
    ap = argparse.ArgumentParser(
        description="Boot Debian's arm64 kernels in qemu (TCG) and run the hardware breakpoint "
                    "probe (default) or --command in each.")
    ap.add_argument("--kernels", default="bookworm,trixie",
                    help="Debian suites whose arm64 kernel to boot (default: %(default)s)")
    ap.add_argument("--kernel-package", help="a specific linux-image package (one suite only)")
    ap.add_argument("--gdb", action="store_true",
                    help="GDB and the plugin in the guest (row.py): the tier, the GDB tests with "
                         "the differential subset, the per-hit cost, as one table")
    ap.add_argument("--command", help="shell command to run in the guest, in the repo, "
                                      "instead of the probe")
    ap.add_argument("-n", type=int, default=1000, help="probe: calls per case (%(default)s)")
    ap.add_argument("--case-timeout", type=float, default=30,
                    help="probe: seconds before a case counts as hanging (%(default)s)")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--memory", default="3G")
    ap.add_argument("--cpu", default=qemu.DEFAULT_CPU, help="qemu -cpu (%(default)s)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per guest")
    ap.add_argument("--rebuild-rootfs", action="store_true")
    ap.add_argument("--json", type=Path, help="write the parsed results here")
    ap.add_argument("-v", "--verbose", action="store_true", help="the whole console too")
    args = ap.parse_args()
    args.kernels = [s for s in args.kernels.split(",") if s]

    t = time.monotonic()
    rootfs.build(log, rebuild=args.rebuild_rootfs)
    log(f"root file system ready ({time.monotonic() - t:.0f}s): {rootfs.build()}")
    command = (GDB_COMMAND if args.gdb else args.command
               or PROBE_COMMAND.format(n=args.n, timeout=args.case_timeout))
    logdir = packages.cache_dir() / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    results, failed = [], False
    for suite in args.kernels:
        path = logdir / f"{suite}.log"
        run = command.format(expect=EXPECTED_TIER[suite]) if args.gdb else command
        with open(path, "w") as f:
            def transcript(line, f=f):
                f.write(line + "\n")
                f.flush()
                if args.verbose:
                    print(f"  console| {line}", flush=True)
            output, info = boot(suite, args, run, transcript)
        log(f"{suite}: {json.dumps({k: v for k, v in info.items() if k != 'qemu'})} "
            f"(console: {path})")
        failed |= info.get("exit") != 0 or "error" in info
        results.append((info, report.parse_gdb_row(output) if args.gdb else report.parse(output)))
    if args.gdb:
        log("\n" + report.gdb_table([row for _, row in results]))
        failed |= any(not report.gdb_row_passed(row) for _, row in results)
    elif not args.command:
        cols = [(f"{i['guest']['release'] if 'guest' in i else i['package']}", r)
                for i, r in results]
        log("\n" + report.table(cols))
    if args.json:
        args.json.write_text(json.dumps([{"info": i, "probe": r} for i, r in results], indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
