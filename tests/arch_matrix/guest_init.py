"""PID 1 inside the arm64 guest (started by the initramfs on the overlay root).

Mounts what the plugin needs (debugfs, tracefs, bpffs), sets the host's perf/BPF sysctls, runs
the one command the host asked for (kernel command line: archm=<base64 json>) with its output
on the serial console between markers, reports kernel warnings, and powers the guest off.
Orphans are reaped, as init must.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guests.pid1 import begin, run_as_init, say, say_kernel_warnings, setup, uptime  # noqa: E402

TAG = "ARCHM"


def work():
    req = begin("archm")
    setup(TAG)
    booted = uptime()
    say("ARCHM-BOOTED " + json.dumps({"release": os.uname().release,
                                      "machine": os.uname().machine,
                                      "cpus": os.cpu_count(), "uptime": booted}))
    os.chdir(req["cwd"])
    rc = subprocess.run(["bash", "-c", req["command"]], stdin=subprocess.DEVNULL).returncode
    say(f"ARCHM-EXIT {rc}")
    say_kernel_warnings(TAG, booted)
    return 0


if __name__ == "__main__":
    run_as_init(TAG, work)
