"""The GDB layer: the only code that imports `gdb`.  `register()` is called by plugin.py."""
from . import commands, events, hits, mi, openfiles, tiers

_registered = False


def register():
    """Add the commands, settings, convenience function and event handlers (once per GDB)."""
    global _registered
    if _registered:
        return
    openfiles.install()
    commands.HBreakIfCommand()
    commands.HWatchIfCommand()
    commands.InfoHBreakIfCommand()
    mi.install()
    hits.HitFunction()
    hits.AtFunction()
    tiers.install_setting()
    events.connect()
    _registered = True
