"""GDB's soft limit of open files, raised for arming (kernel/limits.py); the programs GDB starts
get the limit GDB was started with."""
import gdb

from ..kernel.limits import raise_open_files_limit, restore_open_files_limit

_started_with = None
_given_back = {}  # inferior number: the process given its limit back


def give_back(event=None) -> None:
    """At the first new objfile of a process GDB started (its dynamic loader, before any of
    its own code runs), the process gets GDB's original soft limit of open files back."""
    for inferior in gdb.inferiors():
        connection = inferior.connection
        if (inferior.pid <= 0 or inferior.was_attached or connection is None
                or connection.type != "native" or _given_back.get(inferior.num) == inferior.pid):
            continue
        _given_back[inferior.num] = inferior.pid
        try:
            restore_open_files_limit(inferior.pid, _started_with)
        except OSError as error:
            gdb.write(f"warning: hbreak-if: the program keeps GDB's raised limit of open files: "
                      f"{error}\n", gdb.STDERR)


def install() -> None:
    global _started_with
    _started_with = raise_open_files_limit()
    gdb.events.new_objfile.connect(give_back)
