"""PID 1 inside the qemu guest (started by the initramfs on the overlay of the host's root).

Mounts what a Linux system needs, runs the rows the host asked for (suite.py), prints each
row as one `KMATRIX-ROW <json>` line on the serial console, serves GDB on the host if asked
(gdbserver and the agent on the ports qemu forwards, `KMATRIX-SERVING <json>`, until the host
ends gdbserver), and powers the guest off. Orphans are reaped, as init must. The request comes
on the kernel command line: kmatrix=<base64 json>.
"""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guests.pid1 import begin, run_as_init, say, say_kernel_warnings, setup, uptime  # noqa: E402

TAG = "KMATRIX"


def work():
    req = begin("kmatrix")
    setup(TAG, keep=req["repo"])
    os.environ["HBREAK_IF_TIMEOUT_SCALE"] = str(req.get("timeout_scale", 1))
    os.environ["PYTEST_TIMEOUT"] = str(600 * req.get("timeout_scale", 1))
    os.chdir(req["repo"])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import suite
    booted = uptime()
    say("KMATRIX-BOOTED " + json.dumps({"release": os.uname().release,
                                        "cpus": os.cpu_count(), "uptime": booted}))
    if req.get("command"):
        rc = subprocess.run(["bash", "-c", req["command"]], stdin=subprocess.DEVNULL).returncode
        say(f"KMATRIX-COMMAND-EXIT {rc}")
    for kind, expect in req["rows"]:
        result = suite.row(kind, expect, subset=req["subset"], workers=req["workers"],
                           cost=req["cost"], cost_target_s=req["cost_target_s"],
                           cost_repeats=req["cost_repeats"],
                           echo=lambda line: say("  " + line))
        result["where"] = "qemu"
        say("KMATRIX-ROW " + json.dumps(result))
    if req.get("serve"):
        serve(req["repo"], req["serve"])
    say_kernel_warnings(TAG, booted)
    return 0


GUEST_ADDRESS = "10.0.2.15/24"  # qemu's user network gives the guest this address
SERVE_PORTS = {"gdbserver": 2345, "agent": 2346}  # in the guest; qemu forwards host ports here


def serve(repo, timeout):
    """gdbserver --multi and a listening agent for GDB on the host, until the host ends
    gdbserver (`monitor exit`) or `timeout` seconds pass."""
    for argv in (["ip", "link", "set", "eth0", "up"],
                 ["ip", "addr", "add", GUEST_ADDRESS, "dev", "eth0"]):
        subprocess.run(argv, check=True)
    env = dict(os.environ, PYTHONPATH=repo)
    agent = subprocess.Popen([sys.executable, "-m", "gdb_plugin.agent", "--listen",
                              f"0.0.0.0:{SERVE_PORTS['agent']}"], cwd=repo, env=env,
                             stderr=subprocess.PIPE, text=True)
    said = agent.stderr.readline().strip()
    gdbserver = subprocess.Popen(["gdbserver", "--multi", f"0.0.0.0:{SERVE_PORTS['gdbserver']}"],
                                 stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    listening = gdbserver.stderr.readline().strip()
    for name, proc in (("agent", agent), ("gdbserver", gdbserver)):
        # Read all along (a full pipe would stop it), and on the console for the transcript.
        threading.Thread(target=_echo, args=(name, proc.stderr), daemon=True).start()
    say("KMATRIX-SERVING " + json.dumps({"agent": said, "gdbserver": listening}))
    try:
        gdbserver.wait(timeout)
    except subprocess.TimeoutExpired:
        say("KMATRIX-WARN the host did not end gdbserver")
        gdbserver.kill()
    agent.kill()
    agent.wait()
    say(f"KMATRIX-SERVED {gdbserver.wait()}")


def _echo(name, stream):
    for line in stream:
        say(f"  {name}| {line.rstrip()}")


if __name__ == "__main__":
    run_as_init(TAG, work)
