"""The guest's first stage: busybox and the kernel's 9p/overlay modules in an initramfs whose
/init mounts the arm64 root file system (9p, read-only) under a tmpfs overlay, mounts the repo
(9p, read-only) at the host's path, and hands over to guest_init.py.

The archive is written by guests/cpio.py.
"""
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guests.cpio import init_start, initramfs  # noqa: E402

# 9p mount tags, shared with qemu.py.
ROOT_TAG, REPO_TAG = "rootfs", "repo"

STAGE1 = init_start("ARCHM") + r"""P9=trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose
mkdir -p /lower /rw /newroot
mount -t 9p -o $P9 @ROOT_TAG@ /lower || fail "mount the root file system"
mount -t tmpfs -o mode=0755,size=@RW_SIZE@ rw /rw || fail "mount tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot \
    || fail "mount overlay"
mkdir -p /newroot@REPO@
mount -t 9p -o $P9 @REPO_TAG@ /newroot@REPO@ || fail "mount the repo"
umount /proc /sys /dev
exec switch_root /newroot @STAGE2@
"""


def build(path: Path, busybox: Path, modules, repo: str, stage2_argv, rw_size="1G") -> Path:
    """Write the initramfs to `path`; `stage2_argv` runs as PID 1 on the overlay root."""
    init = (STAGE1.replace("@RW_SIZE@", rw_size).replace("@ROOT_TAG@", ROOT_TAG)
            .replace("@REPO_TAG@", REPO_TAG).replace("@REPO@", shlex.quote(repo))
            .replace("@STAGE2@", " ".join(shlex.quote(str(a)) for a in stage2_argv)))
    return initramfs(path, busybox, modules, init)
