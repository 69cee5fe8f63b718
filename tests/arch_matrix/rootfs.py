"""The guest's arm64 Debian root file system, made once by mmdebstrap into the cache.

mmdebstrap runs the arm64 maintainer scripts through qemu-user, so binfmt_misc must know
aarch64 binaries; the guest later mounts this directory read-only over 9p.
"""
import shutil
import subprocess
import time
from pathlib import Path

import packages

SUITE = "bookworm"
# What the plugin's tests need in the guest (install.sh --dev, from Debian's archive: GDB,
# gdbserver, compilers, llvm-mc as the independent eBPF encoder, the pytest plugins), the
# probe's compiler, and the tools guest_init.py calls. pygdbmi is not packaged in Debian 12.
PACKAGES = ("gdb", "gdbserver", "python3", "python3-pytest", "python3-pytest-xdist",
            "python3-pytest-timeout", "python3-hypothesis", "python3-pexpect",
            "python3-pygments", "gcc", "g++", "libc6-dev", "make", "llvm", "libcap2-bin", "tmux",
            "busybox", "iproute2", "procps", "strace", "mount")
BINFMT = Path("/proc/sys/fs/binfmt_misc")


def _stamp_text() -> str:
    return f"{SUITE} arm64\n{' '.join(PACKAGES)}\n"


def ensure_binfmt():
    """Lets the host run arm64 binaries (qemu-user-static registers itself with binfmt)."""
    if not (BINFMT / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], check=True)
    entry = BINFMT / "qemu-aarch64"
    if not entry.exists() or not entry.read_text().startswith("enabled"):
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], check=True)


def build(log=print, rebuild=False) -> Path:
    """The root file system's directory, built if missing or made for another package list."""
    root = packages.cache_dir() / f"rootfs-{SUITE}-arm64"
    stamp = root.with_name(root.name + ".ready")
    if not rebuild and root.is_dir() and stamp.exists() and stamp.read_text() == _stamp_text():
        return root
    ensure_binfmt()
    tmp = root.with_name(root.name + ".tmp")
    for old in (tmp, root):
        if old.exists():
            shutil.rmtree(old)
    stamp.unlink(missing_ok=True)
    log(f"building the arm64 root file system with mmdebstrap into {root} (a few minutes)")
    t = time.monotonic()
    subprocess.run(["mmdebstrap", "--quiet", "--arch=arm64", "--variant=essential",
                    "--include=" + ",".join(PACKAGES), SUITE, str(tmp), packages.MIRROR],
                   check=True)
    tmp.rename(root)
    stamp.write_text(_stamp_text())
    log(f"root file system built in {time.monotonic() - t:.0f}s")
    return root
