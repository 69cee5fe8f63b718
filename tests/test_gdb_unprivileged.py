"""A user without privileges gets the ptrace tier, and with CAP_BPF+CAP_PERFMON on a private
copy of gdb the kernel tier: the same stops either way. The system gdb is never changed."""
import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness.gdb import GDB, run_gdb
from harness.paths import REPO
from harness.programs import build
from harness.stops import gdb_stops

AS_NOBODY = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")
CONDITION = "i % 250 == 7"


@pytest.fixture(scope="module")
def sandbox():
    """A directory `nobody` can read: a copy of gdb, of the plugin and of the test program.
    (pytest's own temporary directories are private to root.)"""
    root = Path(tempfile.mkdtemp(prefix="hbreak-if-unprivileged-"))
    os.chmod(root, 0o755)
    shutil.copy2(GDB, root / "gdb")
    shutil.copytree(REPO / "gdb_plugin", root / "gdb_plugin",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(build("loop"), root / "loop")
    for path in [root, *root.rglob("*")]:
        mode = 0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644
        os.chmod(path, mode)
    yield root
    shutil.rmtree(root)


def _run_as_nobody(sandbox, gdb):
    commands = [f"hbreak-if target {CONDITION}",
                'commands\nsilent\nprintf "STOP %d\\n", i\ncontinue\nend', "run", "info hbreak-if"]
    result = run_gdb(sandbox / "loop", commands, args=["1000"], gdb=gdb, prefix=AS_NOBODY,
                     plugin=sandbox / "gdb_plugin" / "plugin.py",
                     env={"PYTHONDONTWRITEBYTECODE": "1"}).check()
    return [int(v) for v in re.findall(r"^STOP (\d+)$", result.stdout, re.M)], result


def test_without_capabilities_the_ptrace_tier_and_the_same_stops(kernel_tier, sandbox):
    stops, result = _run_as_nobody(sandbox, sandbox / "gdb")
    assert "[ptrace tier]" in result.stdout
    assert "setcap cap_bpf,cap_perfmon+ep" in result.stdout
    assert stops == gdb_stops(build("loop"), "target", CONDITION, args=["1000"]) == [7, 257, 507, 757]


def test_with_capabilities_on_a_private_gdb_the_kernel_tier_and_the_same_stops(kernel_tier, sandbox):
    private = sandbox / "gdb-with-caps"
    shutil.copy2(sandbox / "gdb", private)
    subprocess.run(["setcap", "cap_bpf,cap_perfmon+ep", private], check=True)
    stops, result = _run_as_nobody(sandbox, private)
    assert "[kernel tier]" in result.stdout
    assert stops == [7, 257, 507, 757]
    assert re.search(r"^1\s+y\s+kernel\s+1,000\s+4\s", result.stdout, re.M), result.stdout
