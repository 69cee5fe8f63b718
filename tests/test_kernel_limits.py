"""The open-file limit: raised for GDB, given back to the programs it starts (no kernel tier)."""
import subprocess
import sys

from harness.paths import REPO

CHILD = """
import resource, subprocess
from gdb_plugin.kernel.limits import raise_open_files_limit, restore_open_files_limit
started_with = raise_open_files_limit()
print(started_with, *resource.getrlimit(resource.RLIMIT_NOFILE))
child = subprocess.Popen(['sleep', '60'])
print(*resource.prlimit(child.pid, resource.RLIMIT_NOFILE))
restore_open_files_limit(child.pid, started_with)
print(*resource.prlimit(child.pid, resource.RLIMIT_NOFILE))
child.kill()
"""


def test_the_soft_limit_is_raised_to_the_hard_one_and_a_child_gets_the_original_back():
    out = subprocess.run(["prlimit", "--nofile=1024:4096", sys.executable, "-c", CHILD],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["1024 4096 4096", "4096 4096", "1024 4096"]
