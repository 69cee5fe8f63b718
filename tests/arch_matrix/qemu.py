"""qemu-system-aarch64 (virt board, TCG) with the root file system and the repo as 9p shares,
the serial console on stdout (guests/console.py reads it)."""
from initramfs import REPO_TAG, ROOT_TAG

# -cpu max has every feature TCG emulates; its pointer authentication is emulated with the
# architected QARMA cipher by default, which is slow, hence the implementation-defined one.
DEFAULT_CPU = "max,pauth-impdef=on"


def argv(image, initrd, cmdline, rootfs, repo, cpus=2, memory="3G", cpu=DEFAULT_CPU):
    def share(path, tag):
        return ["-fsdev", f"local,id={tag},path={path},security_model=none,readonly=on,"
                          "multidevs=remap",
                "-device", f"virtio-9p-pci,fsdev={tag},mount_tag={tag}"]

    return ["qemu-system-aarch64", "-nodefaults", "-no-user-config",
            "-machine", "virt", "-cpu", cpu, "-accel", "tcg,thread=multi",
            "-smp", str(cpus), "-m", memory,
            "-kernel", str(image), "-initrd", str(initrd), "-append", cmdline,
            *share(rootfs, ROOT_TAG), *share(repo, REPO_TAG),
            "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
            "-nic", "none"]
