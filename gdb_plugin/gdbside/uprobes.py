"""The uprobe tier: GDB's int3 at each location, with the kernel deciding its hits.

A breakpoint the hardware has no debug register left for (or `set hbreak-if tier uprobe`)
is GDB's own software breakpoint: its carrier is in, at every location.  While the program
continues, a uprobe sits at each location too.  The kernel's int3 handler finds the uprobe
before GDB would see the trap and runs its predicate, so a hit whose condition is false
never leaves the kernel.  On a match the predicate keeps a snapshot of the thread
(compiler/rewind.py) and signals it; the signal comes after the kernel ran the instruction,
and the shared catchpoint puts the thread back (registers, and the stack bytes the
instruction stored over), with the pc at the location, and queues a SIGTRAP.  The thread
stops there again before it runs anything, and GDB takes that SIGTRAP for its own
breakpoint's hit: the report, the condition checked, `commands`, are GDB's.

GDB's int3 and the uprobe's are one byte, so neither may see the other's:
- A uprobe goes in only where GDB's int3 already is (GDB has read and saved the instruction):
  the kernel then writes no int3 of its own, and takes the trap of GDB's.  At a stop GDB takes
  its int3 out and the program's code is its own again, the uprobe still registered: GDB never
  finds the kernel's int3 in memory, not in `x/i`, nor where it makes a breakpoint (it would
  take it for the program's own, and skip it).  When GDB puts its int3 back, the uprobe
  filters its hits again.  The uprobes are armed when GDB resumes the program (those whose
  int3 are in yet), or at the first hit GDB decides after that.
- The uprobe would take the trap of any other breakpoint GDB has there: commands that step
  (`step`, `next`, `stepi`, `nexti`, `finish`, `until`, `advance`, each with a hook) and
  inferior calls release every uprobe (with the program stopped, GDB's int3 out) and run with
  none; a breakpoint of GDB's made at the address of one releases it; none is armed where GDB
  has another breakpoint (its own internal ones included).
- Unregistering a uprobe puts the instruction back if an int3 is there: where GDB's is in as
  one is released (`breakpoint always-inserted`), it goes back in.  Non-stop mode and
  `breakpoint always-inserted` arm none.
- An exec releases them: the kernel would put their int3 in the new image (events.py).
- A uprobe is the kernel's for its file and offset, in every process: one that has uprobes of
  its own and runs the same file would lose its debugger's trap there to ours.  No uprobe goes
  in a file that another traced process runs (GDB decides there meanwhile, said once).

An instruction whose effects cannot all be put back (compiler/undo.py), or code in no file
(a JIT's), stays GDB's to decide, said once.
"""
import re
from typing import Dict, Optional, Set, Tuple

import gdb

from ..compiler.undo import NotUndoable, undo_plan
from ..kernel import procfs, uprobe
from ..kernel.errors import KernelError
from ..kernel.syscalls import tgkill
from . import whereabouts
from .callerfacts import FactsAt
from .machine import UPROBE_ARCHES, program_arch
from .model import HBreakIf, registry
from .predicates import Predicate, PredicateError, program_for, program_image
from .tiers import UPROBE, let_through, snapshots, uprobe_hits

SIGTRAP = 5
INT3 = b"\xcc"
STEPPING_COMMANDS = ("step", "next", "stepi", "nexti", "finish", "until", "advance")
_HOOK_LINE = "python __import__('gdb_plugin.gdbside.uprobes').gdbside.uprobes.stepping()"
# pt_regs words in the snapshot (compiler/rewind.py) and the registers GDB names them by.
_REGISTERS = {0: "r15", 1: "r14", 2: "r13", 3: "r12", 4: "rbp", 5: "rbx", 6: "r11", 7: "r10",
              8: "r9", 9: "r8", 10: "rax", 11: "rcx", 12: "rdx", 13: "rsi", 14: "rdi",
              18: "eflags", 19: "rsp", 16: "pc"}
_ADDRESS = re.compile(r"^\s*(-?\d+)(?:\.\d+)?\s.*?\b(0x[0-9a-f]+)\b")


Key = Tuple[int, int]  # (breakpoint number, address)
_stepping = False
_calls = 0
_armed: Dict[int, Dict[Key, uprobe.UprobeLink]] = {}  # by inferior number
_programs: Dict[Tuple[int, int, Tuple[str, float]], Predicate] = {}
_refused: Dict[Key, str] = {}  # where GDB decides, and why (said once)
_held_back: Set[Tuple[str, int]] = set()  # files shared with another debugged process
_let_through: Set[int] = set()  # the thread ids in tiers.let_through()
_looked_again = False  # since the last resume, at a hit GDB decided
_at_stop = False  # the program stopped for the user (not for an event GDB handles itself)
_ASK_AT_A_STOP = object()
_deferred: Set[Key] = set()  # locations compiled at the next stop
_filtered: Dict[int, int] = {}  # hits the uprobes filtered since each breakpoint's last stop


def serves(bp: HBreakIf) -> bool:
    return bp.tier is UPROBE


def problem(bp: HBreakIf) -> Optional[str]:
    """Why the uprobe tier cannot take `bp`, or None."""
    if not bp.kind.carried or bp.c_predicate is not None:
        return "the uprobe tier serves code breakpoints with GDB conditions only"
    if program_arch() not in UPROBE_ARCHES:
        return "the uprobe tier serves x86-64 programs only"
    return uprobe.problem()


def stepping() -> None:
    """A command that steps is about to run (its hook): GDB may put breakpoints of its own
    anywhere, so no uprobe until the next stop."""
    global _stepping
    _stepping = True
    release_all()


def on_call(event) -> None:
    """An inferior call runs with no uprobe (GDB's dummy breakpoint, and the stops it wants)."""
    global _calls
    if isinstance(event, gdb.InferiorCallPreEvent):
        _calls += 1
        release_all()
    else:
        _calls = max(0, _calls - 1)


def on_resume(event=None) -> None:
    """GDB resumes the program.  Its int3 are in, but where a thread steps over one of them
    (it continues from a breakpoint) or the program just starts: GDB inserts them then with
    no event to say so, and the first hit GDB decides arms the rest (on_decided)."""
    global _looked_again, _at_stop
    _looked_again, _at_stop = False, False
    _attempt()


def on_decided() -> None:
    """GDB decides a hit of a breakpoint of this tier (its carrier's condition runs): its
    int3 are in, the one it stopped at too (GDB takes it out to step past, and puts it back
    as it was).  Once per resume: GDB decides every hit where no uprobe may go, and the look
    costs more than its decision."""
    global _looked_again
    if not _looked_again:
        _looked_again = True
        _attempt()


def _attempt() -> None:
    if _stepping or _calls:
        return  # a command that steps runs
    if gdb.parameter("non-stop") or gdb.parameter("breakpoint always-inserted"):
        return
    for inferior in gdb.inferiors():
        arm(inferior)


def on_stop(event=None) -> None:
    """The uprobes stay: GDB has taken its int3 out, and the kernel wrote none of its own, so
    the program's code is its own again, and when GDB puts its int3 back they filter its hits
    again.  Their counts are taken, and the threads let through forgotten."""
    global _stepping, _at_stop
    _stepping, _at_stop = False, True
    for inferior in gdb.inferiors():
        _take_counts({key[0] for key in _armed.get(inferior.num, {})})
    for inferior in gdb.inferiors() if _deferred else ():
        place = whereabouts.locate(inferior)
        if place.pid is not None and place.agent is None:
            _deferred.clear()
            prepare(inferior, place.pid)
    while _let_through:
        let_through().delete(_let_through.pop())


def on_prompt() -> None:
    """A stepping command that failed before it resumed left no stop."""
    global _stepping
    _stepping = False


def on_breakpoint_change(changed: gdb.Breakpoint) -> None:
    """A breakpoint of GDB's was made or changed: a uprobe goes where its breakpoint no longer
    wants it, or where that one now has a location too (it would take that one's trap)."""
    others = set() if registry.for_gdb_breakpoint(changed) is not None else {
        location.address for location in _locations(changed) if location.enabled}
    _release_unwanted(others)


def on_breakpoint_deleted(deleted: gdb.Breakpoint) -> None:
    _release_unwanted(set())


def _release_unwanted(others: Set[int]) -> None:
    for inferior in gdb.inferiors():
        armed = _armed.get(inferior.num, {})
        unwanted = [key for key in armed if key[1] in others or not _still_wanted(*key)]
        if unwanted:
            _release(inferior, unwanted)


def _locations(bp: gdb.Breakpoint):
    try:
        return bp.locations if bp.is_valid() and bp.enabled else []
    except RuntimeError:
        return []


def _still_wanted(number: int, address: int) -> bool:
    bp = registry.get(number)
    return (bp is not None and serves(bp) and bp.enabled and bp.catchpoint.is_valid()
            and address in _in_memory(bp))


def _release(inferior, keys) -> None:
    """Release the uprobes of `keys` while the program is stopped.  Where GDB's int3 is in
    (`breakpoint always-inserted`), the kernel puts the instruction back over it as it
    unregisters: GDB's int3 goes back in."""
    armed = _armed.get(inferior.num, {})
    links = {key: armed.pop(key) for key in keys if key in armed}
    if not links:
        return
    pid = inferior.pid
    int3_in = [address for _, address in links if pid and _int3_in(pid, address)]
    uprobe.release(links.values())
    for address in int3_in:
        procfs.write_memory(pid, address, INT3)
    _take_counts({number for number, _ in links})


def release_all() -> None:
    for inferior in gdb.inferiors():
        _release(inferior, list(_armed.get(inferior.num, {})))


def disarm(inferior) -> None:
    """The process is gone, or going (exit, detach, exec): its uprobes too."""
    links = _armed.pop(inferior.num, {})
    uprobe.release(links.values())
    _take_counts({key[0] for key in links})


def _take_counts(numbers) -> None:
    for number in numbers:
        bp, hits = registry.get(number), uprobe_hits().get(number)
        if hits:
            uprobe_hits().set(number, 0)
            if bp is not None:
                bp.hits_outside_open_events += hits
                _filtered[number] = _filtered.get(number, 0) + hits


def filtered_since_stop(bp: HBreakIf) -> int:
    """The hits of `bp` its uprobes filtered since its last stop (which this one is)."""
    return _filtered.pop(bp.number, 0)


def disarm_all() -> None:
    for inferior in gdb.inferiors():
        disarm(inferior)


def forget(number: int, keep=()) -> None:
    """The programs of breakpoint `number` go, but those at the addresses in `keep`, and the
    uprobes that run them."""
    for inferior in gdb.inferiors():
        _release(inferior, [key for key in _armed.get(inferior.num, {})
                            if key[0] == number and key[1] not in keep])
    for key in [k for k in _programs if k[0] == number and k[1] not in keep]:
        _programs.pop(key).close()
    for key in [k for k in _refused if k[0] == number and k[1] not in keep]:
        del _refused[key]


def prepare(inferior, pid: int) -> None:
    """Compile, while the program is stopped, the predicates of the locations in its memory,
    then arm what may be armed (a library's locations, at its load)."""
    mappings = procfs.file_mappings(pid)
    for bp in registry:
        if serves(bp) and bp.enabled:
            for address in _in_memory(bp):
                if procfs.file_at(mappings, address) is not None:
                    _program(bp, address, inferior)
    _attempt()


def arm(inferior) -> None:
    """Arm the compiled locations where GDB's int3 is in and nothing else of GDB's is."""
    place = whereabouts.locate(inferior)
    if place.pid is None or place.agent is not None:
        return
    armed = _armed.setdefault(inferior.num, {})
    image = program_image(inferior)
    wanted = [(bp, address) for bp in registry if serves(bp) and bp.enabled
              for address in _in_memory(bp) if (bp.number, address) not in armed
              and (bp.number, address, image) in _programs]
    if not (wanted or armed):
        return
    mappings = procfs.file_mappings(place.pid)
    shared = _shared_with_debugged(place.pid, mappings)
    now_shared = [key for key in armed if _file_of(mappings, key[1]) in shared]
    if now_shared:  # a process debugged since they were armed
        _release(inferior, now_shared)
    if not wanted or not _hooks_in_place():
        return
    others = _other_breakpoints()
    for bp, address in wanted:
        if address in others:
            continue
        where = procfs.file_at(mappings, address)
        if where is not None and where.file in shared:
            _hold_back(where, shared[where.file])
            continue
        if not _int3_in(place.pid, address):
            continue
        link = _attach(bp, address, where, place.pid, _programs[(bp.number, address, image)])
        if link is not None:
            armed[(bp.number, address)] = link


def _file_of(mappings, address: int):
    where = procfs.file_at(mappings, address)
    return where.file if where is not None else None


def _int3_in(pid: int, address: int) -> bool:
    """Whether GDB's int3 is in the program at `address`, as the process reads it: GDB then
    saved the instruction there, not the uprobe's int3."""
    try:
        return procfs.read_memory(pid, address, 1) == INT3
    except procfs.TargetError:
        return False


def _in_memory(bp: HBreakIf):
    """The addresses where GDB's int3 of `bp` is in the program."""
    return [location.address for location in bp.catchpoint.locations if location.enabled]


def _other_breakpoints() -> Set[int]:
    """Addresses where GDB has a breakpoint whose trap a uprobe would take, its own internal
    ones included (a step's, `finish`'s, the dynamic linker's).  Not the carriers of
    hbreak-ifs served by a perf breakpoint: let in for a hit, they are let through (let_in)."""
    found, ours = set(), set()
    for bp in registry:
        if serves(bp) or bp.uses_perf:
            ours.add(bp.number)
            found.update(bp.int3_at)  # GDB's int3 decides there
    for line in gdb.execute("maint info breakpoints", to_string=True).splitlines():
        match = _ADDRESS.match(line)
        if match is not None and int(match[1]) not in ours:
            found.add(int(match[2], 16))
    return found


def _attach(bp: HBreakIf, address: int, where: Optional[procfs.MappedFile], pid: int,
            program: Predicate) -> Optional[uprobe.UprobeLink]:
    """A uprobe at `address`, where GDB's int3 is in: the kernel writes no int3 of its own
    (it finds one there), and takes the trap of GDB's."""
    if where is None:
        _refuse(bp, address, "its code is in no file the kernel can probe (a JIT's?)")
        return None
    if uprobe_hits().get(bp.number) is None:
        uprobe_hits().set(bp.number, 0)
    try:
        return uprobe.UprobeLink.attach(program.loaded(), pid, where.path, where.offset)
    except (KernelError, PredicateError) as error:
        _refuse(bp, address, str(error))
        return None


def _shared_with_debugged(pid: int, mappings) -> Dict[Tuple[str, int], int]:
    """The files process `pid` runs that another traced process runs too, and that process.
    A uprobe is the kernel's for every process running its file at its offset: in another
    that has uprobes of its own (of another GDB's hbreak-ifs, say), it would take the trap
    of a debugger's int3 there, and that stop would be lost."""
    ours = {mapping.file for mapping in mappings}
    shared: Dict[Tuple[str, int], int] = {}
    for other in procfs.traced_processes():
        if other != pid:
            for file in procfs.files_run(other) & ours:
                shared.setdefault(file, other)
    return shared


def _hold_back(where: procfs.MappedFile, other: int) -> None:
    """No uprobe in the file while process `other` runs it too; said once per file."""
    if where.file not in _held_back:
        _held_back.add(where.file)
        gdb.write(f"warning: hbreak-if: no uprobe in {where.path} while process {other}, "
                  "which runs it too, is being debugged (a uprobe would take its debugger's "
                  "traps there): GDB evaluates the conditions of the uprobe tier there "
                  "meanwhile.\n", gdb.STDERR)


def _program(bp: HBreakIf, address: int, inferior) -> None:
    key = (bp.number, address, program_image(inferior))
    if key not in _programs and (bp.number, address) not in _refused:
        try:
            store = _store_of(_instruction_at(address, inferior), address)
            if store is _ASK_AT_A_STOP:
                _deferred.add((bp.number, address))
                return
            program = program_for(bp, address, store=store)
            program.loaded()  # now, while no SIGCHLD interrupts the verifier
        except NotUndoable as error:
            _refuse(bp, address, f"a uprobe cannot stop exactly before it: {error}")
            return
        except (PredicateError, gdb.error) as error:
            _refuse(bp, address, str(error))
            return
        _programs[key] = program


def _store_of(instruction: str, address: int):
    """undo_plan's answer; whether %rbp is the frame pointer at `address` (for a store through
    it) is asked of the call frame information only with the program stopped for the user:
    GDB 16 fails an assertion if its `info files` runs while a library loads."""
    try:
        return undo_plan(instruction)
    except NotUndoable:
        store = undo_plan(instruction, frame_pointer=True)  # else it is refused either way
        if not _at_stop:
            return _ASK_AT_A_STOP
        if "$rbp" in (FactsAt(address).return_address() or ""):
            return store
        raise


def _instruction_at(address: int, inferior) -> str:
    """GDB's disassembly of the instruction at `address`, in AT&T syntax."""
    flavor = gdb.parameter("disassembly-flavor")
    gdb.execute("set disassembly-flavor att", to_string=True)
    try:
        return inferior.architecture().disassemble(address)[0]["asm"]
    finally:
        gdb.execute(f"set disassembly-flavor {flavor}", to_string=True)


def _refuse(bp: HBreakIf, address: int, why: str) -> None:
    _refused[(bp.number, address)] = why
    gdb.write(f"warning: hbreak-if {bp.number}: no uprobe at {address:#x}: {why}; GDB "
              "evaluates the condition there.\n", gdb.STDERR)


def refusals(bp: HBreakIf) -> Dict[int, str]:
    """The addresses of `bp` where GDB decides every hit, and why."""
    return {key[1]: why for key, why in _refused.items() if key[0] == bp.number}


def put_back(bp: HBreakIf, thread: gdb.InferiorThread) -> bool:
    """The thread matched at a location of `bp`, and the kernel has run the instruction there
    since: back to the snapshot, and a SIGTRAP queued, which stops it there before it runs
    anything.  False if the kernel kept nothing to put it back with."""
    key = thread.ptid[1] << 32 | bp.number
    words = snapshots().get(key)
    if words is None:
        gdb.write(f"warning: hbreak-if {bp.number}: the kernel kept nothing to put thread "
                  f"{thread.num} back with: it stopped after the instruction.\n", gdb.STDERR)
        return False
    snapshots().delete(key)
    store, old, unread = words[20:23]
    if store and not unread:
        thread.inferior.write_memory(store, old.to_bytes(8, "little"))
    elif store:
        gdb.write(f"warning: hbreak-if {bp.number}: the kernel could not read the stack at "
                  f"{store:#x} before the instruction stored there.\n", gdb.STDERR)
    for word, name in _REGISTERS.items():
        gdb.execute(f"set ${name} = {words[word]:#x}", to_string=True)
    tgkill(thread.inferior.pid, thread.ptid[1], SIGTRAP)
    return True


def let_in(thread: gdb.InferiorThread, address: int) -> None:
    """GDB let another breakpoint's int3 in for the thread's hit at `address`: a uprobe there
    would take its trap, so it signals that hit whatever its condition (compiler/rewind.py)."""
    if any(address in armed_here for armed_here in
           ({key[1] for key in armed} for armed in _armed.values())):
        let_through().set(thread.ptid[1], address)
        _let_through.add(thread.ptid[1])


def carried(thread: gdb.InferiorThread) -> None:
    """The thread's let-in hit reached GDB."""
    if thread.ptid[1] in _let_through:
        _let_through.discard(thread.ptid[1])
        let_through().delete(thread.ptid[1])


def _hooks_in_place() -> bool:
    """Whether each stepping command has our hook (a user's `define hook-next` replaces it);
    put back, the user's own lines after ours, if not, and False: the command now running may
    be one that steps."""
    intact = True
    for command in STEPPING_COMMANDS:
        body = _hook_body(command)
        if body is not None and _HOOK_LINE in body:
            continue
        intact = False
        lines = [_HOOK_LINE] + ([] if body is None else body)
        gdb.execute("define hook-{}\n{}\nend".format(command, "\n".join(lines)),
                    to_string=True)
    return intact


def _hook_body(command: str):
    """The lines of hook-COMMAND, or None if there is none."""
    try:
        shown = gdb.execute(f"show user hook-{command}", to_string=True)
    except gdb.error:
        return None
    return [line[2:] for line in shown.splitlines()[1:]]


def install_hooks() -> None:
    _hooks_in_place()

