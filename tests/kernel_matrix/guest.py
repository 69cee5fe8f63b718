"""PID 1 inside the qemu guest (started by the initramfs on the overlay of the host's root).

Mounts what a Linux system needs, runs the rows the host asked for (suite.py), prints each
row as one `KMATRIX-ROW <json>` line on the serial console, serves GDB on the host if asked
(gdbserver and the agent on the ports qemu forwards, `KMATRIX-SERVING <json>`, until the host
ends gdbserver), and powers the guest off. Orphans are reaped, as init must. The request comes
on the kernel command line: kmatrix=<base64 json>.
"""
import base64
import ctypes
import json
import os
import re
import subprocess
import sys
import threading
import time
import traceback

LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC
MOUNTS = [
    # (fstype, target, options); /proc comes first, in work()
    ("sysfs", "/sys", ""),
    ("devtmpfs", "/dev", ""),
    ("devpts", "/dev/pts", "gid=5,mode=620,ptmxmode=666"),
    ("tmpfs", "/dev/shm", "mode=1777"),
    ("tmpfs", "/run", "mode=755"),
    ("tmpfs", "/tmp", "mode=1777"),
    ("tmpfs", "/var/tmp", "mode=1777"),
    ("debugfs", "/sys/kernel/debug", ""),
    ("tracefs", "/sys/kernel/tracing", ""),
    ("bpf", "/sys/fs/bpf", "mode=700"),
]
# The host's defaults (Debian's kernel starts with perf_event_paranoid 3 instead).
SYSCTLS = {"kernel/perf_event_paranoid": "2", "kernel/unprivileged_bpf_disabled": "2"}


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def setup(repo):
    for fstype, target, options in MOUNTS:
        if fstype == "tmpfs" and (repo + "/").startswith(target + "/"):
            continue  # the overlay is writable there already, and the repo must stay visible
        os.makedirs(target, exist_ok=True)
        argv = ["mount", "-t", fstype, fstype, target] + (["-o", options] if options else [])
        if subprocess.run(argv).returncode != 0:
            say(f"KMATRIX-WARN mount {fstype} on {target} failed")
    for key, value in SYSCTLS.items():
        try:
            with open(f"/proc/sys/{key}", "w") as f:
                f.write(value)
        except OSError as e:
            say(f"KMATRIX-WARN sysctl {key}={value}: {e}")
    subprocess.run(["ip", "link", "set", "lo", "up"], stderr=subprocess.DEVNULL)
    os.environ.clear()
    os.environ.update({"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                       "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb"})


def request():
    with open("/proc/cmdline") as f:
        for word in f.read().split():
            if word.startswith("kmatrix="):
                return json.loads(base64.b64decode(word[len("kmatrix="):]))
    raise SystemExit("no kmatrix= on the kernel command line")


def work():
    subprocess.run(["mount", "-t", "proc", "proc", "/proc"], check=True)
    req = request()
    setup(req["repo"])
    os.environ["HBREAK_IF_TIMEOUT_SCALE"] = str(req.get("timeout_scale", 1))
    os.environ["PYTEST_TIMEOUT"] = str(600 * req.get("timeout_scale", 1))
    os.chdir(req["repo"])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import suite
    booted = float(open("/proc/uptime").read().split()[0])
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
    # Kernel warnings after boot (a WARN in perf or BPF code would be a finding).
    dmesg = subprocess.run(["dmesg", "--level=emerg,alert,crit,err,warn"],
                           capture_output=True, text=True).stdout
    keep = False
    for line in dmesg.splitlines():
        stamp = re.match(r"\[\s*([0-9.]+)\]", line)
        if stamp:
            keep = float(stamp.group(1)) > booted
        if keep:
            say("KMATRIX-DMESG " + line)
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


def main():
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = work()
        except BaseException:  # noqa: BLE001 - whatever happens, the host must hear of it
            say("KMATRIX-ERROR " + json.dumps(traceback.format_exc()))
        finally:
            sys.stdout.flush()
            os._exit(code)
    # init: reap everything until the worker is done.
    code = 1
    while True:
        try:
            got, status = os.wait()
        except ChildProcessError:
            break
        if got == pid:
            code = os.waitstatus_to_exitcode(status)
            break
    say(f"KMATRIX-DONE {code}")
    os.sync()
    time.sleep(0.2)
    ctypes.CDLL(None, use_errno=True).reboot(LINUX_REBOOT_CMD_POWER_OFF)


if __name__ == "__main__":
    main()
