"""Compile tests/programs/*.c and *.cpp once per (source, flags), shared by all pytest-xdist
workers."""

import hashlib
import os
import platform
import subprocess
import tempfile
from pathlib import Path

from harness.paths import BUILD, PROGRAMS

CC = "gcc"
CXX = "g++"

# Flags a program always needs, so tests need not repeat them. The differential programs are
# C17: GCC 15 compiles C23 by default, where DWARF names the boolean type `bool`, and GDB 16 and
# 18 know `_Bool` (which their conditions cast to) only from the program.
_NEEDS = {
    "cond_diff": ("-std=gnu17",),
    "rel_diff": ("-std=gnu17",),
    "threads": ("-pthread",),
    "traps": ("-pthread",),
    "many_threads": ("-pthread",),
    "kernel_threads": ("-pthread",),
    "leader_exits": ("-pthread",),
    "shlib": ("-ldl",),
}


def _source(name: str) -> Path:
    """tests/programs/<name>.c, or <name>.cpp for C++."""
    c = PROGRAMS / f"{name}.c"
    return c if c.exists() else PROGRAMS / f"{name}.cpp"


def _compile(name: str, flags: list, filename: str) -> Path:
    src = _source(name)
    # The headers a program includes are part of what it is built from.
    source = b"".join(path.read_bytes() for path in [src, *sorted(PROGRAMS.glob("*.h"))])
    # The machine too: a guest of another architecture may see the same tests/.build.
    built_for = "\0".join([platform.machine(), *flags]).encode()
    key = hashlib.sha256(source + b"\0" + built_for).hexdigest()[:16]
    out_dir = BUILD / f"{name}-{key}"
    out = out_dir / filename
    if out.exists():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    # Workers race on the same key: each compiles to its own name, and the first to link it to
    # `out` wins. Never replace a published file: a test may already run it, and its
    # /proc/PID/exe would then name a deleted file (GDB's `attach` finds no executable).
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out_dir)
    os.close(fd)
    try:
        # Flags after the source, so that -l libraries are linked.
        cmd = [CXX if src.suffix == ".cpp" else CC, "-g", "-o", tmp, str(src), *flags]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
        os.chmod(tmp, 0o755)
        try:
            os.link(tmp, out)
        except FileExistsError:
            pass
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def build(name: str, opt: str = "-O0", extra=()) -> Path:
    """Executable built from tests/programs/<name>.c (or .cpp) with -g, `opt` and `extra`
    compiler flags."""
    return _compile(name, [opt, *extra, *_NEEDS.get(name, ())], name)


def build_shared(name: str, opt: str = "-O0", extra=()) -> Path:
    """Shared library (lib<name>.so) built from tests/programs/<name>.c."""
    return _compile(name, [opt, "-shared", "-fPIC", *extra], f"lib{name}.so")


def symbol_address(exe: Path, symbol: str) -> int:
    """The address `nm` gives for `symbol` in `exe` (final in a program built -no-pie)."""
    out = subprocess.run(["nm", str(exe)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == symbol:
            return int(parts[0], 16)
    raise LookupError(symbol)
