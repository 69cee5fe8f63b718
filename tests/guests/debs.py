"""The files of a Debian package, read from its data archive without unpacking it."""
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
