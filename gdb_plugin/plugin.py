"""What users `source` in GDB: makes this package importable and registers hbreak-if."""
import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from gdb_plugin.gdbside import register  # noqa: E402  (needs the path above)

register()
