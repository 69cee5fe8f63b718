"""arm64 Debian packages for the guest: the kernel (vmlinuz and the modules the initramfs loads)
and a static busybox, downloaded with apt into a cache outside the repo.

The host's apt configuration is left alone: each Debian suite gets a private apt root (its own
sources list, lists and state) in the cache, with arm64 as its only architecture.
"""
import gzip
import lzma
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import guests.cache  # noqa: E402
from guests.debs import install_busybox, members  # noqa: E402
from guests.modules import load_order  # noqa: E402

MIRROR = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
# Suite -> the sources it reads: the newest kernel of a stable suite is often in -security.
SUITES = {
    "bookworm": [(MIRROR, "bookworm"), (MIRROR, "bookworm-updates"),
                 (SECURITY, "bookworm-security")],
    "trixie": [(MIRROR, "trixie"), (MIRROR, "trixie-updates"), (SECURITY, "trixie-security")],
}
# Modules that mount the root file system and the repo over 9p with a writable overlay.
# Dependencies (netfs, fscache, virtio_ring, ...) come from the modules' own depends= fields.
ROOT_MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay")


def cache_dir() -> Path:
    return guests.cache.cache_dir("arch-matrix", "HBREAK_IF_ARCH_CACHE")


class Apt:
    """apt-get / apt-cache on a private arm64 root for one suite."""

    def __init__(self, suite: str):
        if suite not in SUITES:
            raise SystemExit(f"arch matrix: unknown suite {suite} (known: {', '.join(SUITES)})")
        self.root = cache_dir() / "apt" / suite
        sources = "".join(f"deb [arch=arm64] {url} {dist} main\n" for url, dist in SUITES[suite])
        for sub in ("etc/apt/apt.conf.d", "etc/apt/preferences.d", "var/lib/apt/lists/partial",
                    "var/cache/apt/archives/partial", "var/lib/dpkg"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "var/lib/dpkg/status").touch()
        listed = self.root / "etc/apt/sources.list"
        fresh = not listed.exists() or listed.read_text() != sources
        listed.write_text(sources)
        if fresh or not any((self.root / "var/lib/apt/lists").glob("*Packages*")):
            self.run("apt-get", "update", "-q")

    def options(self):
        return ["-o", f"Dir={self.root}",
                "-o", f"Dir::State::status={self.root}/var/lib/dpkg/status",
                "-o", "APT::Architecture=arm64", "-o", "APT::Architectures=arm64",
                # Debian's keys, as the host has them; apt reads no other key.
                "-o", "Dir::Etc::trusted=/dev/null",
                "-o", "Dir::Etc::TrustedParts=/usr/share/keyrings",
                # Running as root into a private directory: apt's sandbox user could not write.
                "-o", "APT::Sandbox::User=root"]

    def run(self, tool, *args, cwd=None) -> str:
        proc = subprocess.run([tool, *self.options(), *args], cwd=cwd, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise SystemExit(f"arch matrix: {tool} {' '.join(args)} failed:\n{proc.stderr}")
        return proc.stdout

    def kernel_package(self) -> str:
        """The flavour package the suite's linux-image-arm64 points at."""
        out = self.run("apt-cache", "depends", "linux-image-arm64")
        names = re.findall(r"Depends: (linux-image-\S+-arm64)\s*$", out, re.M)
        if not names:
            raise SystemExit(f"arch matrix: no kernel behind linux-image-arm64:\n{out}")
        return names[0]

    def download(self, package: str) -> Path:
        dest = cache_dir() / "debs"
        dest.mkdir(parents=True, exist_ok=True)
        for old in dest.glob(f"{package}_*_arm64.deb"):
            return old
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            self.run("apt-get", "download", "-q", package, cwd=tmp)
            debs = list(Path(tmp).glob(f"{package}_*.deb"))
            if len(debs) != 1:
                raise SystemExit(f"arch matrix: apt-get download {package} gave {debs}")
            final = dest / debs[0].name
            os.replace(debs[0], final)
        return final


MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.zst")


def _module(name: str, data: bytes):
    """(module name, plain .ko bytes); Debian 13 ships its modules xz-compressed."""
    base = Path(name).name
    if base.endswith(".xz"):
        data = lzma.decompress(data)
    elif base.endswith(".zst"):
        data = subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True).stdout
    return base.split(".ko", 1)[0], data


def bootable_image(vmlinuz: bytes) -> bytes:
    """A plain arm64 Image for qemu -kernel. Debian ships it gzip-compressed (6.1) or as an
    EFI zboot image (payload compressed inside a PE file), which qemu 7.2 cannot boot."""
    if vmlinuz[:2] == b"\x1f\x8b":
        return gzip.decompress(vmlinuz)
    if vmlinuz[:2] == b"MZ" and vmlinuz[4:8] == b"zimg":
        # zboot header: payload offset and size at 8 and 12, compression name at 24.
        offset, size = struct.unpack_from("<II", vmlinuz, 8)
        kind = vmlinuz[24:32].rstrip(b"\0").decode()
        payload = vmlinuz[offset:offset + size]
        if kind == "gzip":
            return gzip.decompress(payload)
        tool = {"zstd": ["zstd", "-dc"], "xz": ["xz", "-dc"], "lzma": ["xz", "-dc"]}.get(kind)
        if not tool or not shutil.which(tool[0]):
            raise SystemExit(f"arch matrix: cannot unpack a {kind} zboot kernel here")
        return subprocess.run(tool, input=payload, capture_output=True, check=True).stdout
    return vmlinuz


def kernel(suite: str, package: str = None) -> dict:
    """Fetch (once) and unpack a suite's kernel:
    {"suite", "package", "release", "image", "modules": [paths in load order]}."""
    apt = Apt(suite)
    package = package or apt.kernel_package()
    root = cache_dir() / "kernels" / package
    stamp = root / "ready"
    wanted = " ".join(ROOT_MODULES)  # a cache unpacked for other modules is unpacked again
    if not stamp.exists() or stamp.read_text().split("\n")[1:2] != [wanted]:
        deb = apt.download(package)
        files = members(deb, lambda n: n.startswith("boot/vmlinuz-")
                         or n.endswith("/modules.builtin") or n.endswith(MODULE_SUFFIXES))
        vmlinuz = [n for n in files if n.startswith("boot/vmlinuz-")]
        if len(vmlinuz) != 1:
            raise SystemExit(f"arch matrix: {deb} holds {len(vmlinuz)} vmlinuz files")
        builtin = {Path(line).name.split(".ko", 1)[0].replace("-", "_") for n, data in files.items()
                   if n.endswith("/modules.builtin") for line in data.decode().split()}
        modules = dict(_module(n, data) for n, data in files.items()
                       if n.endswith(MODULE_SUFFIXES))
        order = load_order(modules, ROOT_MODULES, builtin, who="arch matrix")
        if root.exists():
            shutil.rmtree(root)
        (root / "modules").mkdir(parents=True)
        (root / "Image").write_bytes(bootable_image(files[vmlinuz[0]]))
        for i, name in enumerate(order):
            (root / "modules" / f"{i:02d}-{name}.ko").write_bytes(modules[name])
        (root / "release").write_text(vmlinuz[0].split("vmlinuz-", 1)[1] + "\n")
        stamp.write_text(f"{deb.name}\n{wanted}\n")
    return {"suite": suite, "package": package, "release": (root / "release").read_text().strip(),
            "image": root / "Image", "modules": sorted((root / "modules").glob("*.ko"))}


def busybox() -> Path:
    """A static arm64 busybox (bookworm's busybox-static) for the initramfs."""
    out = cache_dir() / "busybox-arm64"
    if not out.exists():
        deb = Apt("bookworm").download("busybox-static")
        install_busybox(deb, out)
    return out
