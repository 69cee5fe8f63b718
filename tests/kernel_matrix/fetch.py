"""Debian packages the guest needs, fetched with apt at run time into a cache outside the repo.

Nothing is installed on the host: `apt-get download` fetches the .deb, and only the files the
guest boots with (vmlinuz, a handful of modules, busybox) are taken out of it.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import guests.cache  # noqa: E402
from guests.debs import install_busybox, members  # noqa: E402
from guests.modules import load_order  # noqa: E402

# The modules the initramfs loads to mount the host's root over 9p with a writable overlay,
# and the network card through which GDB on the host reaches gdbserver and the agent.
# Their dependencies (fscache, netfs, virtio_ring, ...) are found in the modules themselves.
ROOT_MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay", "virtio_net")
MODULE_DIRS = ("drivers/virtio/", "net/9p/", "fs/9p/", "fs/netfs/", "fs/fscache/",
               "fs/overlayfs/", "drivers/net/virtio_net", "drivers/net/net_failover",
               "net/core/failover")


def cache_dir() -> Path:
    return guests.cache.cache_dir("kernel-matrix", "HBREAK_IF_MATRIX_CACHE")


def _apt_names(pattern: str) -> list:
    out = subprocess.run(["apt-cache", "search", "--names-only", pattern],
                         capture_output=True, text=True, check=True).stdout
    return [line.split(" ", 1)[0] for line in out.splitlines() if line.strip()]


def _version_key(name: str):
    return [int(x) for x in re.findall(r"\d+", name)]


def kernel_package(series: str) -> str:
    """The newest generic amd64 image of a kernel series, e.g. 6.1 -> linux-image-6.1.0-50-amd64."""
    pattern = r"^linux-image-%s\.[0-9]+-[0-9]+-amd64$" % re.escape(series)
    names = _apt_names(pattern)
    if not names:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        names = _apt_names(pattern)
    if not names:
        raise SystemExit(f"kernel matrix: apt knows no package matching {pattern} "
                         "(a Debian 12 apt source has the 6.1 kernels)")
    return max(names, key=_version_key)


def _download(package: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob(f"{package}_*.deb"):
        return old
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        # Downloading as root into a private directory: apt's sandbox user could not write here.
        subprocess.run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", package],
                       cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        debs = list(Path(tmp).glob(f"{package}_*.deb"))
        if len(debs) != 1:
            raise SystemExit(f"kernel matrix: apt-get download {package} gave {debs}")
        final = dest / debs[0].name
        os.replace(debs[0], final)
    return final


def kernel(series: str, package: str = None) -> dict:
    """Fetch (once) and unpack the kernel: {"package", "release", "vmlinuz", "modules": [paths]}."""
    package = package or kernel_package(series)
    root = cache_dir() / package
    done = root / "ready"
    unpacked = " ".join(ROOT_MODULES)  # a cache unpacked for fewer modules is unpacked again
    if not done.exists() or done.read_text().split("\n")[1:2] != [unpacked]:
        deb = _download(package, cache_dir() / "debs")
        files = members(deb, lambda n: n.startswith("boot/vmlinuz-") or (
            n.endswith(".ko") and any(f"/kernel/{d}" in n for d in MODULE_DIRS)))
        vmlinuz = [n for n in files if n.startswith("boot/vmlinuz-")]
        if len(vmlinuz) != 1:
            raise SystemExit(f"kernel matrix: {deb} holds {len(vmlinuz)} vmlinuz files")
        modules = {Path(n).name[:-3]: data for n, data in files.items() if n.endswith(".ko")}
        order = load_order(modules, ROOT_MODULES, who="kernel matrix")
        if root.exists():
            shutil.rmtree(root)
        (root / "modules").mkdir(parents=True)
        (root / "vmlinuz").write_bytes(files[vmlinuz[0]])
        for i, name in enumerate(order):
            (root / "modules" / f"{i:02d}-{name}.ko").write_bytes(modules[name])
        (root / "release").write_text(vmlinuz[0].split("vmlinuz-", 1)[1] + "\n")
        done.write_text(f"{deb.name}\n{unpacked}\n")
    return {"package": package, "release": (root / "release").read_text().strip(),
            "vmlinuz": root / "vmlinuz",
            "modules": sorted((root / "modules").glob("*.ko"))}


def busybox() -> Path:
    """A static busybox from Debian's busybox-static package."""
    out = cache_dir() / "busybox"
    if not out.exists():
        deb = _download("busybox-static", cache_dir() / "debs")
        install_busybox(deb, out)
    return out
