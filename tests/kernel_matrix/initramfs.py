"""A tiny initramfs: busybox, the 9p/virtio/overlay modules, and an /init that mounts the host's
root (9p, read-only) under a tmpfs overlay and hands over to guest.py on it.

The archive is written here (cpio "newc", gzip), so no cpio tool and no root-owned files are
needed on the host.
"""
import gzip
import shlex
from pathlib import Path

STAGE1 = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "KMATRIX-STAGE1-FAIL $*"; poweroff -f; sleep 5; }
for m in /modules/*.ko; do
    insmod "$m" || fail "insmod $m"
done
mkdir -p /lower /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower \
    || fail "mount 9p"
mount -t tmpfs -o mode=0755,size=@RW_SIZE@ rw /rw || fail "mount tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot \
    || fail "mount overlay"
umount /proc /sys /dev
exec switch_root /newroot @STAGE2@
"""


def _newc(entries) -> bytes:
    """cpio newc archive of (name, mode, data, rdev_major, rdev_minor) entries."""
    out = bytearray()
    for ino, (name, mode, data, rmaj, rmin) in enumerate(entries + [("TRAILER!!!", 0, b"", 0, 0)], 1):
        nameb = name.encode() + b"\0"
        header = "070701" + "".join(f"{v:08x}" for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, rmaj, rmin, len(nameb), 0))
        out += header.encode() + nameb
        out += b"\0" * (-len(out) % 4)
        out += data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def build(path: Path, busybox: Path, modules, stage2_argv, rw_size="3G") -> Path:
    """Write the initramfs to `path`; `stage2_argv` runs as PID 1 on the overlay root."""
    DIR, FILE, EXE, CHR = 0o040755, 0o100644, 0o100755, 0o020600
    init = (STAGE1.replace("@RW_SIZE@", rw_size)
            .replace("@STAGE2@", " ".join(shlex.quote(str(a)) for a in stage2_argv)))
    entries = [(d, DIR, b"", 0, 0) for d in ("bin", "dev", "proc", "sys", "modules")]
    entries += [("dev/console", CHR, b"", 5, 1), ("dev/null", 0o020666, b"", 1, 3),
                ("bin/busybox", EXE, Path(busybox).read_bytes(), 0, 0),
                ("init", EXE, init.encode(), 0, 0)]
    # The names carry the load order (dependencies first), and the glob in /init sorts them.
    entries += [(f"modules/{Path(m).name}", FILE, Path(m).read_bytes(), 0, 0) for m in modules]
    path.write_bytes(gzip.compress(_newc(entries), compresslevel=1))
    return path
