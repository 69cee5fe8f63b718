import os
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent
PROGRAMS = TESTS / "programs"
# Where test programs are compiled; elsewhere where the repository is read-only (a guest).
BUILD = Path(os.environ.get("HBREAK_IF_BUILD", TESTS / ".build"))
PLUGIN = REPO / "gdb_plugin" / "plugin.py"
GDB = "/usr/bin/gdb"
