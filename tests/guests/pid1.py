"""PID 1 of a qemu guest, started by the initramfs on its overlay root: what every guest does
before and after its own work.  The host's request comes on the kernel command line as
KEY=<base64 json>; whatever the guest says goes to the serial console, one line each, under
its TAG (KMATRIX, ARCHM)."""
import base64
import ctypes
import json
import os
import re
import subprocess
import sys
import time
import traceback

LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC
MOUNTS = [  # (fstype, target, options); /proc comes first, in begin()
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
# The development host's defaults (Debian's kernels start with perf_event_paranoid 3).
SYSCTLS = {"kernel/perf_event_paranoid": "2", "kernel/unprivileged_bpf_disabled": "2"}


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def begin(key: str) -> dict:
    """The environment of the real root (the initramfs's PATH is busybox's), /proc, and the
    host's request."""
    os.environ.clear()
    os.environ.update({"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                       "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb"})
    subprocess.run(["mount", "-t", "proc", "proc", "/proc"], check=True)
    with open("/proc/cmdline") as f:
        for word in f.read().split():
            if word.startswith(key + "="):
                return json.loads(base64.b64decode(word[len(key) + 1:]))
    raise SystemExit(f"no {key}= on the kernel command line")


def setup(tag: str, keep: str = "") -> None:
    """What a Linux system needs mounted, and the host's perf and BPF sysctls.  A tmpfs is not
    mounted over `keep` (a directory that must stay visible)."""
    for fstype, target, options in MOUNTS:
        if fstype == "tmpfs" and keep and (keep + "/").startswith(target + "/"):
            continue  # the overlay is writable there already
        os.makedirs(target, exist_ok=True)
        argv = ["mount", "-t", fstype, fstype, target] + (["-o", options] if options else [])
        if subprocess.run(argv).returncode != 0:
            say(f"{tag}-WARN mount {fstype} on {target} failed")
    for key, value in SYSCTLS.items():
        try:
            with open(f"/proc/sys/{key}", "w") as f:
                f.write(value)
        except OSError as e:
            say(f"{tag}-WARN sysctl {key}={value}: {e}")
    subprocess.run(["ip", "link", "set", "lo", "up"], stderr=subprocess.DEVNULL)


def uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def say_kernel_warnings(tag: str, since: float) -> None:
    """dmesg lines of level warn or worse logged after `since` (seconds of uptime): a WARN in
    perf or BPF code would be a finding."""
    out = subprocess.run(["dmesg", "--level=emerg,alert,crit,err,warn"],
                         capture_output=True, text=True).stdout
    keep = False
    for line in out.splitlines():
        stamp = re.match(r"\[\s*([0-9.]+)\]", line)
        if stamp:
            keep = float(stamp.group(1)) > since
        if keep:
            say(f"{tag}-DMESG {line}")


def run_as_init(tag: str, work) -> None:
    """`work()` in a child, reaping every orphan as init must until it ends; then say how it
    ended and power the guest off."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = work()
        except BaseException:  # noqa: BLE001 - whatever happens, the host must hear of it
            say(f"{tag}-ERROR " + json.dumps(traceback.format_exc()))
        finally:
            sys.stdout.flush()
            os._exit(code)
    code = 1
    while True:
        try:
            got, status = os.wait()
        except ChildProcessError:
            break
        if got == pid:
            code = os.waitstatus_to_exitcode(status)
            break
    say(f"{tag}-DONE {code}")
    os.sync()
    time.sleep(0.2)
    ctypes.CDLL(None, use_errno=True).reboot(LINUX_REBOOT_CMD_POWER_OFF)
