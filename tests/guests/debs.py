"""The files of a Debian package, read from its data archive without unpacking it."""
import os
import subprocess
import tarfile
from pathlib import Path


def members(deb: Path, wanted) -> dict:
    """{path: bytes} for the members of the .deb's data archive for which wanted(path) holds."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    found = {}
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for member in tar:
            name = member.name.lstrip("./")
            if member.isfile() and wanted(name):
                found[name] = tar.extractfile(member).read()
    if proc.wait() != 0:
        raise SystemExit(f"dpkg-deb --fsys-tarfile {deb} failed")
    return found


def install_busybox(deb: Path, out: Path) -> Path:
    """The static busybox of a busybox-static package, written (atomically) to `out`."""
    files = members(deb, lambda n: n == "bin/busybox")
    if "bin/busybox" not in files:
        raise SystemExit(f"no bin/busybox in {deb}")
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(files["bin/busybox"])
    tmp.chmod(0o755)
    os.replace(tmp, out)
    return out
