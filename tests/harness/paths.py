from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent
PROGRAMS = TESTS / "programs"
BUILD = TESTS / ".build"
PLUGIN = REPO / "gdb_plugin" / "plugin.py"
GDB = "/usr/bin/gdb"
