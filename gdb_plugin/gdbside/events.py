"""Lifecycle: keep perf events in step with GDB's inferiors, threads and breakpoints.

Measured GDB behaviour behind this (DESIGN §3.3): the events are armed at the
first new_objfile after run (the new_thread at run has no lwp yet), on every
new thread, on library loads and PIE relocation (the tracker's locations
change), and again after exec (remove_on_exec dropped them).  They are
disarmed before detach (hook-detach) and at GDB's exit, or the program would
die of SIGTRAP at its next hit.
"""
import gdb

from ..compiler.callers import mentions_callers
from . import (agentlink, arming, callerfacts, carriers, hits, ignore, passing, remote, saved,
               signals, stops, uprobes, whereabouts)
from .agent import forget_listings
from .create import assess, in_making
from .leftovers import delete_leftovers
from .model import registry

HOOK_DETACH = "define hook-detach\npython __import__('gdb_plugin.gdbside.events').gdbside.events.on_detach()\nend"


def _quietly(handler):
    """Event handlers report problems as warnings; an exception here would abort GDB's own work."""
    def run(*args):
        try:
            handler(*args)
        except Exception as error:
            gdb.write(f"warning: hbreak-if: {type(error).__name__}: {error}\n", gdb.STDERR)
    return run


def _serve_and_arm():
    """Move the breakpoints to the tiers where the inferiors now are (remote.py), then arm
    what is missing."""
    remote.follow()
    arming.sync_all()


def on_new_objfile(event):
    if callerfacts.unloaded_since():
        for bp in registry:
            if mentions_callers(bp.condition):
                arming.forget(bp)  # its test of the return address took that code as known
    _serve_and_arm()


def on_clear_objfiles(event):
    forget_listings()
    callerfacts.forget()
    for inferior in gdb.inferiors():
        if inferior.progspace == event.progspace:
            arming.disarm(inferior)
            # An exec: the kernel put a uprobe's own int3 in the new image where its file is
            # the old one's; released now, before GDB reads the new image's code.
            uprobes.disarm(inferior)


def on_new_thread(event):
    signals.note_new_thread(event.inferior_thread)
    inferior = event.inferior_thread.inferior
    if whereabouts.unproven_remote(inferior):
        # `run` and `attach` on extended-remote report the first thread before GDB can read
        # anything through the connection (its auxiliary vector, its memory): the proof waits
        # for the next event (the first library's load, or the stop).
        return
    arming.sync(inferior)


def on_exited(event):
    inferior = getattr(event, "inferior", None)
    if inferior is not None:
        arming.disarm(inferior)
        uprobes.disarm(inferior)
        whereabouts.forget(inferior)


def on_connection_removed(event):
    # A dropped connection leaves a local process that gdbserver debugged running on, and
    # untraced: none of its events may stay armed.
    arming.sync_all()
    agentlink.close_stale()


def on_agents_ended(event=None):
    """Agents that ended unasked: each link started another and armed it anew, or could not
    (GDB's own breakpoints then serve the program from its next stop)."""
    for link, why, failure in agentlink.replace_ended():
        if not agentlink.serves(link):
            continue
        if failure is None:
            gdb.write(f"warning: hbreak-if: {why}; started it again and armed it anew.\n",
                      gdb.STDERR)
            continue
        gdb.write(f"warning: hbreak-if: {why}; another could not serve: {failure}\nGDB's own "
                  "breakpoints serve the remote program from its next stop, the condition "
                  "evaluated by the target.\n", gdb.STDERR)
        # Asking the target where the program is needs it stopped: at the next stop.
        whereabouts.drop_agent(link)


def on_stop_follow_remote(event):
    """Where an agent was lost, the remote program is served anew at its first stop."""
    if whereabouts.agent_dropped():
        _serve_and_arm()


def on_remote_agent_set():
    """A new agent command serves the remote inferiors from now on."""
    _serve_and_arm()


def on_breakpoint_modified(gdb_bp):
    if carriers.changing():
        return  # a carrier let in or kept out for a hit
    bp = registry.for_gdb_breakpoint(gdb_bp)
    if bp is None:
        if not in_making(gdb_bp):
            saved.adopt(gdb_bp)
        return
    if carriers.condition_held(bp):
        carriers.set_condition(bp)  # a library defined its location
    elif gdb_bp is bp.catchpoint and gdb_bp.condition != bp.kind.own_condition(bp):
        _take_new_condition(bp, gdb_bp.condition)
    if gdb_bp is bp.catchpoint and gdb_bp.ignore_count > 0 and ignore.take_from_gdb(bp):
        arming.forget(bp)  # its predicates now count
    if bp.remote is not None:
        bp.remote.mirror()
    if gdb_bp is bp.tracker:
        # Its locations changed (relocation, a library, another inferior): new ones are kept
        # out of the program, and what stays put keeps its events and program.
        carriers.keep_out_all(gdb_bp, bp)
        arming.forget(bp, keep=set(bp.addresses()))
    # The first event that can read a remote program may be this one (`run` on
    # extended-remote): it is served where it is before anything is armed.
    _serve_and_arm()


def _take_new_condition(bp, condition):
    """`condition N EXPR`: EXPR becomes the hbreak-if condition."""
    changed = bp.kind.take_condition(bp, condition)
    bp.kind.write_own_condition(bp)
    if changed:
        arming.forget(bp)
        if bp.kind.reassessed:
            assess(bp)
            carriers.keep_out_all(bp.catchpoint, bp)  # in or out of the ptrace tier


def on_breakpoint_deleted(gdb_bp):
    if carriers.is_shared_catchpoint(gdb_bp):
        carriers.lose_catchpoint()  # made again at the prompt, while hbreak-ifs need it
        return
    bp = registry.for_gdb_breakpoint(gdb_bp)
    if bp is None or gdb_bp is not bp.catchpoint:
        return
    registry.remove(bp)
    arming.forget(bp)
    carriers.forget(bp)
    remote.retire(bp)
    bp.kind.release(bp)
    ignore.release(bp)
    carriers.drop_catchpoint(deleting=gdb_bp.number)


def on_detach():
    arming.disarm(gdb.selected_inferior())
    uprobes.release_all()


def on_exiting(event):
    on_agents_ended()
    arming.disarm_all()
    uprobes.disarm_all()
    agentlink.close_all()


def connect():
    agentlink.install_setting(_quietly(on_remote_agent_set))
    gdb.events.new_objfile.connect(_quietly(on_new_objfile))
    gdb.events.clear_objfiles.connect(_quietly(on_clear_objfiles))
    gdb.events.new_thread.connect(_quietly(on_new_thread))
    gdb.events.exited.connect(_quietly(on_exited))
    gdb.events.connection_removed.connect(_quietly(on_connection_removed))
    gdb.events.exited.connect(_quietly(signals.done_with_signal))
    gdb.events.exited.connect(_quietly(passing.forget_process))
    gdb.events.breakpoint_modified.connect(_quietly(on_breakpoint_modified))
    gdb.events.breakpoint_deleted.connect(_quietly(on_breakpoint_deleted))
    gdb.events.breakpoint_created.connect(_quietly(uprobes.on_breakpoint_change))
    gdb.events.breakpoint_created.connect(_quietly(passing.on_breakpoint_created))
    gdb.events.breakpoint_modified.connect(_quietly(uprobes.on_breakpoint_change))
    gdb.events.breakpoint_deleted.connect(_quietly(uprobes.on_breakpoint_deleted))
    gdb.events.stop.connect(_quietly(uprobes.on_stop))  # before the report counts the hits
    gdb.events.stop.connect(_quietly(on_agents_ended))
    gdb.events.stop.connect(_quietly(on_stop_follow_remote))
    gdb.events.stop.connect(_quietly(signals.on_stop))
    gdb.events.stop.connect(_quietly(stops.report_stop))
    gdb.events.stop.connect(_quietly(carriers.forget_gone_threads))
    gdb.events.stop.connect(_quietly(passing.on_stop))
    gdb.events.stop.connect(_quietly(hits.drop_stale_notes))
    gdb.events.stop.connect(_quietly(stops.compile_what_was_put_off))
    gdb.events.stop.connect(_quietly(ignore.note_all_in_commands))
    gdb.events.cont.connect(_quietly(signals.done_with_signal))
    gdb.events.cont.connect(_quietly(uprobes.on_resume))
    gdb.events.inferior_call.connect(_quietly(uprobes.on_call))
    gdb.events.gdb_exiting.connect(_quietly(on_exiting))
    gdb.events.before_prompt.connect(_quietly(on_agents_ended))
    gdb.events.before_prompt.connect(_quietly(delete_leftovers))
    gdb.events.before_prompt.connect(_quietly(carriers.need_catchpoint))
    gdb.events.before_prompt.connect(_quietly(signals.done_with_signal))
    gdb.events.before_prompt.connect(_quietly(signals.forget_handlings))
    gdb.events.before_prompt.connect(_quietly(uprobes.on_prompt))
    gdb.execute(HOOK_DETACH, to_string=True)
    uprobes.install_hooks()
