"""A Debian root file system in the cache, the project copied into it, and commands run in it
by chroot on this machine's kernel (so the kernel tiers are real there)."""
import contextlib
import os
import shutil
import subprocess
from pathlib import Path

MIRROR = "http://deb.debian.org/debian"
PROJECT = "/work/hbreak-if"          # where the project lives inside a root
# pip in the root trusts what pip trusts here, so a TLS-inspecting proxy works as on the host.
PIP_CERT = "/etc/ssl/certs/hbreak-if-pip.crt"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MOUNTS = [
    # (fstype, target inside the root); /dev is bound from the host
    ("proc", "proc"),
    ("sysfs", "sys"),
    ("bpf", "sys/fs/bpf"),
    ("debugfs", "sys/kernel/debug"),
    ("tmpfs", "tmp"),
]


def cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg, "hbreak-if", "gdb-matrix")


def build(suite: str, rebuild: bool, out) -> Path:
    """The cached minimal root of `suite` (trixie, sid), made with mmdebstrap the first time."""
    root = cache_dir() / suite
    ready = root / ".hbreak-if-root-ready"
    if ready.exists() and not rebuild:
        return root
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    # Unstable's Release file is valid for a week only: a mirror that lags behind the clock
    # would otherwise be refused, by mmdebstrap and by install.sh's apt-get update in the root.
    argv = ["mmdebstrap", "--variant=minbase", "--include=ca-certificates",
            '--aptopt=Acquire::Check-Valid-Until "false"', suite, str(root), MIRROR]
    out("$ " + " ".join(argv))
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout.splitlines():
        out(line)
    if proc.returncode != 0:
        raise SystemExit(f"gdb matrix: mmdebstrap {suite} failed (see the log)")
    ready.touch()
    return root


def copy_project(repo: Path, root: Path):
    """The project's files (tracked and new, as git sees them) into the root, keeping its .venv."""
    dest = root / PROJECT.lstrip("/")
    dest.mkdir(parents=True, exist_ok=True)
    for entry in dest.iterdir():
        if entry.name != ".venv":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=repo, check=True, capture_output=True).stdout
    existing = b"\0".join(f for f in files.split(b"\0") if f and (repo / f.decode()).exists())
    pack = subprocess.Popen(["tar", "--null", "-T", "-", "-cf", "-"], cwd=repo,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    unpack = subprocess.Popen(["tar", "-xf", "-"], cwd=dest, stdin=pack.stdout)
    pack.stdin.write(existing)
    pack.stdin.close()
    pack.stdout.close()
    if pack.wait() or unpack.wait():
        raise SystemExit(f"gdb matrix: copying the project into {dest} failed")
    for host, name in (("/etc/resolv.conf", "etc/resolv.conf"),
                       ("/etc/ssl/certs/ca-certificates.crt", PIP_CERT.lstrip("/"))):
        if os.path.exists(host):
            shutil.copyfile(host, root / name)


@contextlib.contextmanager
def mounted(root: Path):
    """/proc, /sys (with bpf and debugfs), /tmp and the host's /dev inside the root, which is
    bound onto itself first: `unshare --mount-proc` (the gdbserver tests' pid namespaces) needs
    the chroot's / to be a mount point. Everything goes with that one mount at the end."""
    subprocess.run(["mount", "--bind", str(root), str(root)], check=True)
    try:
        subprocess.run(["mount", "--make-private", str(root)], check=True)
        for fstype, target in MOUNTS:
            _mount(["-t", fstype, fstype], root / target)
        _mount(["--rbind", "/dev"], root / "dev")
        subprocess.run(["mount", "--make-rslave", str(root / "dev")], check=True)
        yield
    finally:
        subprocess.run(["umount", "-R", "-l", str(root)], check=False)


def _mount(args, target: Path):
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", *args, str(target)], check=True)


def chroot_prefix(root: Path, env: dict) -> list:
    """argv prefix that runs a command in the root with a clean environment and `env`."""
    base = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", "PIP_CERT": PIP_CERT}
    return ["chroot", str(root), "/usr/bin/env", "-i",
            *(f"{k}={v}" for k, v in {**base, **env}.items())]
