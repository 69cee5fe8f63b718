"""A tiny initramfs: busybox, the 9p/virtio/overlay modules, and an /init that mounts the host's
root (9p, read-only) under a tmpfs overlay and hands over to guest.py on it.

The archive is written by guests/cpio.py.
"""
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guests.cpio import init_start, initramfs  # noqa: E402

STAGE1 = init_start("KMATRIX") + r"""mkdir -p /lower /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower \
    || fail "mount 9p"
mount -t tmpfs -o mode=0755,size=@RW_SIZE@ rw /rw || fail "mount tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot \
    || fail "mount overlay"
umount /proc /sys /dev
exec switch_root /newroot @STAGE2@
"""


def build(path: Path, busybox: Path, modules, stage2_argv, rw_size="3G") -> Path:
    """Write the initramfs to `path`; `stage2_argv` runs as PID 1 on the overlay root."""
    init = (STAGE1.replace("@RW_SIZE@", rw_size)
            .replace("@STAGE2@", " ".join(shlex.quote(str(a)) for a in stage2_argv)))
    return initramfs(path, busybox, modules, init)
