"""GDB breakpoints of the plugin's own, deleted at the next command rather than now.

GDB may be walking its breakpoint list when a handler decides one is no longer
needed (`delete` of all breakpoints, a stop's condition checks): deleting it
then can crash GDB, so it is disabled at once and deleted later."""
_to_delete = []


def delete_later(gdb_breakpoint) -> None:
    if gdb_breakpoint.is_valid():
        gdb_breakpoint.enabled = False
        _to_delete.append(gdb_breakpoint)


def delete_leftovers(*_) -> None:
    while _to_delete:
        leftover = _to_delete.pop()
        if leftover.is_valid():
            leftover.delete()
