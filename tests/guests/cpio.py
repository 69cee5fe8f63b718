"""A gzip'd cpio "newc" initramfs, written here: no cpio tool and no root-owned files needed."""
import gzip
from pathlib import Path

DIR, FILE, EXE, CHR = 0o040755, 0o100644, 0o100755, 0o020600

# How every /init starts: busybox's applets, the kernel's file systems, and the modules in the
# order of their names; fail() tells the host (under its tag) and powers the guest off.
INIT_START = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "@TAG@-STAGE1-FAIL $*"; poweroff -f; sleep 5; }
for m in /modules/*.ko; do
    insmod "$m" || fail "insmod $m"
done
"""


def init_start(tag: str) -> str:
    return INIT_START.replace("@TAG@", tag)


def newc(entries) -> bytes:
    """cpio newc archive of (name, mode, data, rdev_major, rdev_minor) entries."""
    out = bytearray()
    for ino, (name, mode, data, rmaj, rmin) in enumerate(
            entries + [("TRAILER!!!", 0, b"", 0, 0)], 1):
        nameb = name.encode() + b"\0"
        header = "070701" + "".join(f"{v:08x}" for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, rmaj, rmin, len(nameb), 0))
        out += header.encode() + nameb
        out += b"\0" * (-len(out) % 4)
        out += data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def initramfs(path: Path, busybox: Path, modules, init: str) -> Path:
    """Write to `path` an initramfs of busybox, the kernel modules (loaded in the order of their
    names) and the `init` script."""
    entries = [(d, DIR, b"", 0, 0) for d in ("bin", "dev", "proc", "sys", "modules")]
    entries += [("dev/console", CHR, b"", 5, 1), ("dev/null", 0o020666, b"", 1, 3),
                ("bin/busybox", EXE, Path(busybox).read_bytes(), 0, 0),
                ("init", EXE, init.encode(), 0, 0)]
    # The names carry the load order (dependencies first), and the glob in /init sorts them.
    entries += [(f"modules/{Path(m).name}", FILE, Path(m).read_bytes(), 0, 0) for m in modules]
    path.write_bytes(gzip.compress(newc(entries), compresslevel=1))
    return path
