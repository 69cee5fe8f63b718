"""The agent's side of the protocol: one process attached at a time, its breakpoints armed
by the keys GDB gives them.

The exit watches call back on threads of their own: `_lock` guards the attachment and what is
armed in it, and is never held while a watch is stopped (stopping one awaits its callback).
"""
import ctypes
import errno
import os
import select
import socket
import sys
import threading
from typing import BinaryIO, Dict, List, Optional, Tuple

from ..kernel import procfs
from ..kernel.bpf import BpfProgram
from ..kernel.errors import KernelError
from ..kernel.exitwatch import ExitWatch
from ..kernel.maps import BpfMap, thread_mailbox
from ..kernel.perf import PerfBreakpoint
from ..kernel.probe import TIER_KERNEL, TIER_KERNEL_SIGNAL, probe
from ..kernel.procfs import TargetError
from . import keeper, protocol
from .protocol import Message, ProtocolError

MAX_PID = 1 << 22           # PID_MAX_LIMIT of 64-bit Linux
MAX_KEY = (1 << 31) - 1
MAX_SIG_DATA = (1 << 63) - 1
# Listings of the process's threads while arming it, until one shows no thread the previous
# missed (a thread created by one already armed has a copy of its event).
LISTINGS = 8
PROGRAM_NAME = "hbreak_if_agent"


class Refusal(Exception):
    """A request the agent does not carry out; `stage` says what the kernel refused in `arm`."""

    def __init__(self, message: str, stage: Optional[str] = None):
        super().__init__(message)
        self.stage = stage


class Armed:
    """The events of one key: one per thread the process had when armed (the threads they
    create get copies, counted in them), and the predicate they run, if any."""

    def __init__(self, program: Optional[BpfProgram]):
        self.program = program
        self.events: Dict[int, PerfBreakpoint] = {}

    def hits(self) -> int:
        return sum(event.count() for event in self.events.values())

    def disable(self) -> None:
        for event in self.events.values():
            try:
                event.disable()
            except KernelError:
                pass  # disabling the others matters more

    def close(self) -> None:
        for event in self.events.values():
            event.close()
        self.events.clear()
        if self.program is not None:
            self.program.close()


class Attachment:
    """The process GDB debugs, proven by its AT_RANDOM bytes, and what is armed in it.  Its
    pidfd tells, at any moment, whether the pid still names that process.  Its keeper holds
    copies of what is armed (keeper.py)."""

    def __init__(self, pid: int):
        self.pid = pid
        try:
            self._pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            raise TargetError(f"no process {pid} in the agent's pid namespace") from None
        except OSError as error:  # EINVAL: a thread's id, not a process's
            raise TargetError(f"{pid} names no process: {error.strerror}") from None
        self.armed: Dict[int, Armed] = {}
        # What a predecessor that died armed, by key: (events, address, sig_data), until GDB
        # arms those keys again.
        self.adopted: Dict[int, Tuple[Armed, int, int]] = {}
        self.tracer_gone = False
        self._watches: List[ExitWatch] = []
        self._keeper: Optional[socket.socket] = None

    def start_keeper(self, random: bytes, tracer: Optional[int],
                     mailbox: Optional[BpfMap]) -> None:
        self._keeper = keeper.start(self.pid, random, tracer)
        if mailbox is not None:
            self._tell_keeper({"op": "hold", "key": keeper.MAILBOX_KEY}, [mailbox.fd])

    def keep(self, key: int, armed: Armed, address: int, sig_data: int) -> None:
        """The keeper holds copies of `armed` under `key`."""
        program = [armed.program.fd] if armed.program is not None else []
        for packet in keeper.hold_packets(key, sorted(armed.events), bool(program), address,
                                          sig_data):
            fds = [armed.events[tid].fd for tid in packet["tids"]]
            self._tell_keeper(packet, fds + (program if packet["program"] else []))

    def unkeep(self, key: int) -> None:
        self._tell_keeper({"op": "drop", "key": key})

    def _tell_keeper(self, message: dict, fds=()) -> None:
        """A keeper that has ended (the process exited, or it was killed) keeps nothing more:
        the agent serves on without one."""
        if self._keeper is None:
            return
        try:
            keeper.send(self._keeper, message, fds)
        except OSError:
            self._keeper.close()
            self._keeper = None

    def drop_adopted(self) -> None:
        """GDB has armed again what it wants: the rest of what was adopted goes."""
        for armed, _, _ in self.adopted.values():
            armed.close()
        self.adopted.clear()

    def alive(self) -> bool:
        exits = select.poll()
        exits.register(self._pidfd, select.POLLIN)
        return not exits.poll(0)

    def watch(self, tracer: Optional[int], on_exit, on_tracer_exit) -> None:
        self._watches.append(ExitWatch(self.pid, on_exit))
        if tracer is not None:
            self._watches.append(ExitWatch(tracer, on_tracer_exit))

    def disable_all(self) -> None:
        for armed in self.armed.values():
            armed.disable()

    def close_armed(self) -> None:
        for armed in self.armed.values():
            armed.close()
        self.armed.clear()

    def release(self) -> None:
        """Stop the watches, then close everything, the keeper's copies too; never with the
        agent's lock held."""
        for watch in self._watches:
            watch.stop()
        self.close_armed()
        self.drop_adopted()
        if self._keeper is not None:
            keeper.close(self._keeper)
        os.close(self._pidfd)


class Agent:
    """Answers GDB's requests; `handle` never raises, `serve` runs the whole conversation."""

    def __init__(self):
        self._lock = threading.Lock()
        self.attachment: Optional[Attachment] = None
        self._detached: List[Attachment] = []  # by an exit watch, to release from this thread
        self._final_hits: Dict[int, int] = {}  # by key, of the process that exited last
        self.finished = False
        self._free_requests = {"hello": self._hello, "attach": self._attach, "bye": self._bye}
        self._attached_requests = {"mappings": self._mappings, "arm": self._arm,
                                   "count": self._count, "disarm": self._disarm,
                                   "parent": self._parent, "note": self._note}
        self.mailbox: Optional[BpfMap] = None  # notes of the predicates that signal a match

    def serve(self, instream: BinaryIO, outstream: BinaryIO) -> None:
        """Answer each message until "bye" or the end of `instream`, then close everything."""
        try:
            while not self.finished:
                try:
                    answer = self.handle(protocol.read_message(instream))
                except protocol.Closed:
                    return
                except ProtocolError as error:
                    answer = _failure(error)
                outstream.write(_encoded(answer))
                outstream.flush()
        except OSError as error:  # GDB's end of the pipe is gone: so is everything it armed
            print(f"hbreak-if agent: {error}", file=sys.stderr)
        finally:
            self.close()

    def handle(self, message: Message) -> Message:
        try:
            self._release_detached()
            op = message.get("op")
            if not isinstance(op, str):
                raise ProtocolError("a request names its 'op'")
            if op in self._free_requests:
                return self._free_requests[op](message)
            if op not in self._attached_requests:
                raise ProtocolError(f"unknown request {op!r:.80}")
            with self._lock:
                if self.attachment is None and op in ("count", "disarm"):
                    return self._final_count(op, message)
                if self.attachment is None:
                    raise Refusal("no process attached")
                if op != "arm":
                    self.attachment.drop_adopted()
                return self._attached_requests[op](self.attachment, message)
        except (ProtocolError, Refusal, TargetError, KernelError) as error:
            return _failure(error)
        except Exception as error:  # a defect: GDB hears of it, the agent goes on
            return _failure(f"internal error: {type(error).__name__}: {error}")

    def close(self) -> None:
        with self._lock:
            attached, self.attachment = self.attachment, None
        self._release_detached()
        if attached is not None:
            attached.release()
        if self.mailbox is not None:
            self.mailbox.close()
            self.mailbox = None

    def _release_detached(self) -> None:
        with self._lock:
            detached, self._detached = self._detached, []
        for attachment in detached:
            attachment.release()

    # Requests that need no process.

    def _hello(self, message: Message) -> Message:
        version = protocol.integer(message, "version")
        if version != protocol.VERSION:
            raise Refusal(f"protocol version {version}; this agent speaks {protocol.VERSION}")
        result = probe()
        return {"ok": True, "version": protocol.VERSION, "tier": result.tier,
                "reason": result.reasons[0] if result.reasons else "",
                "kernel": os.uname().release, "host": os.uname().nodename,
                "signal": self._signal_namespace(result.tier)}

    def _signal_namespace(self, tier: str) -> Optional[List[int]]:
        """[device, inode] of the agent's pid namespace, whose thread ids are gdbserver's,
        once it holds a mailbox for predicates that signal; None where it cannot."""
        if tier not in (TIER_KERNEL, TIER_KERNEL_SIGNAL):
            return None
        try:
            if self.mailbox is None:
                self.mailbox = thread_mailbox()
            procfs.check_proc_is_ours()
            found = os.stat("/proc/self/ns/pid")
        except (KernelError, TargetError, OSError):
            return None
        return [found.st_dev, found.st_ino]

    def _attach(self, message: Message) -> Message:
        pid = protocol.integer(message, "pid", 1, MAX_PID)
        random_address = protocol.integer(message, "random_address")
        random = protocol.random_bytes(message)
        with self._lock:
            if self.attachment is not None:
                raise Refusal(f"already attached to process {self.attachment.pid}")
        procfs.check_proc_is_ours()
        # The pidfd first: evidence read while it names a live process is that process's.
        attachment = Attachment(pid)
        try:
            procfs.check_evidence(pid, random_address, random)
            tracer = procfs.tracer_of(pid)
            self._adopt(attachment, random)
            attachment.start_keeper(random, tracer, self.mailbox)
            attachment.watch(tracer, lambda: self._process_exited(attachment),
                             lambda: self._tracer_exited(attachment))
            with self._lock:
                if not attachment.alive():
                    raise TargetError(f"process {pid} has exited")
                self.attachment = attachment
                self._final_hits = {}
        except BaseException:
            attachment.release()
            raise
        return {"ok": True, "tracer": tracer}

    def _adopt(self, attachment: Attachment, random: bytes) -> None:
        """Take over what the keeper of a predecessor that died holds for the process: its
        events go on until GDB arms their keys again, its mailbox keeps their notes."""
        for message, fds in keeper.adopt(attachment.pid, random):
            key = message["key"]
            if key == keeper.MAILBOX_KEY:
                if self.mailbox is not None:
                    self.mailbox.close()
                self.mailbox = BpfMap(fds[0], ctypes.c_uint64, ctypes.c_uint64)
                continue
            tids = message["tids"]
            armed, _, _ = attachment.adopted.setdefault(
                key, (Armed(None), message["address"], message["sig_data"]))
            armed.events.update((tid, PerfBreakpoint(fd, tid, None))
                                for tid, fd in zip(tids, fds))
            if message["program"]:
                armed.program = BpfProgram(fds[len(tids)])

    def _bye(self, message: Message) -> Message:
        self.finished = True
        return {"ok": True}

    # The exit watches' callbacks.

    def _process_exited(self, attachment: Attachment) -> None:
        """Close what was armed; a later `attach` may name a new process."""
        with self._lock:
            if self.attachment is attachment:
                self.attachment = None
                # GDB asks for the counts as it learns of the exit, later
                self._final_hits = {key: armed.hits() for key, armed in attachment.armed.items()}
                attachment.close_armed()
                self._detached.append(attachment)

    def _final_count(self, op: str, message: Message) -> Message:
        key = protocol.integer(message, "key", 0, MAX_KEY)
        if key not in self._final_hits:
            raise Refusal("no process attached")
        hits = self._final_hits.pop(key) if op == "disarm" else self._final_hits[key]
        return {"ok": True, "hits": hits}

    def _tracer_exited(self, attachment: Attachment) -> None:
        """The process now runs untraced: a hit that should stop it would kill it."""
        with self._lock:
            attachment.tracer_gone = True
            attachment.disable_all()

    # Requests on the attached process, with the lock held.

    def _mappings(self, attachment: Attachment, message: Message) -> Message:
        return {"ok": True, "ranges": procfs.mappings(attachment.pid)}

    def _parent(self, attachment: Attachment, message: Message) -> Message:
        return {"ok": True,
                "parent": procfs.parent_of(protocol.integer(message, "pid", 1, MAX_PID))}

    def _arm(self, attachment: Attachment, message: Message) -> Message:
        key = protocol.integer(message, "key", 0, MAX_KEY)
        address = protocol.integer(message, "address")
        sig_data = protocol.integer(message, "sig_data", 0, MAX_SIG_DATA)
        sigtrap = protocol.boolean(message, "sigtrap", True)
        code = protocol.program(message, self.mailbox.fd if self.mailbox is not None else None)
        pid = attachment.pid
        if key in attachment.armed:
            raise Refusal(f"key {key} is armed already")
        if len(attachment.armed) >= protocol.MAX_KEYS:
            raise Refusal(f"{protocol.MAX_KEYS} keys are armed, the most the agent holds")
        if attachment.tracer_gone:
            raise Refusal(f"process {pid} runs untraced (its tracer has exited)")
        if not any(start <= address < end and executable
                   for start, end, executable in procfs.mappings(pid)):
            raise Refusal(f"{address:#x} is in no executable mapping of process {pid}: "
                          "not loaded yet")
        armed, adopted_address, adopted_sig_data = attachment.adopted.pop(key, (None, 0, 0))
        if armed is not None and (adopted_address, adopted_sig_data) != (address, sig_data):
            armed.close()
            armed = None
        if armed is None:
            armed = Armed(_loaded(code))
            try:
                _open_events(armed, pid, address, sig_data, sigtrap)
                if not armed.events or not attachment.alive():
                    raise Refusal(f"process {pid} has exited", "event")
            except BaseException:
                armed.close()  # never half-armed
                raise
        attachment.armed[key] = armed
        attachment.keep(key, armed, address, sig_data)
        return {"ok": True, "threads": len(armed.events)}

    def _note(self, attachment: Attachment, message: Message) -> Message:
        key = protocol.integer(message, "key")
        if self.mailbox is None:
            raise Refusal("the agent holds no mailbox")
        noted = self.mailbox.get(key) is not None
        if noted:
            self.mailbox.delete(key)
        return {"ok": True, "noted": noted}

    def _count(self, attachment: Attachment, message: Message) -> Message:
        return {"ok": True, "hits": attachment.armed[_armed_key(attachment, message)].hits()}

    def _disarm(self, attachment: Attachment, message: Message) -> Message:
        key = _armed_key(attachment, message)
        armed = attachment.armed.pop(key)
        # The keeper closes its copies of the same events later: silenced now, they can send
        # no SIGTRAP to a process GDB lets go once this answers.
        armed.disable()
        attachment.unkeep(key)
        try:
            return {"ok": True, "hits": armed.hits()}
        finally:
            armed.close()


def _armed_key(attachment: Attachment, message: Message) -> int:
    key = protocol.integer(message, "key", 0, MAX_KEY)
    if key not in attachment.armed:
        raise Refusal(f"key {key} is not armed")
    return key


def _loaded(code: Optional[bytes]) -> Optional[BpfProgram]:
    if code is None:
        return None  # GDB decides every hit
    try:
        return BpfProgram.load(code, name=PROGRAM_NAME)
    except KernelError as error:
        raise Refusal(str(error), "program") from None


def _open_events(armed: Armed, pid: int, address: int, sig_data: int, sigtrap: bool) -> None:
    """An enabled event on every thread of process `pid`.  A thread created meanwhile copies
    its creator's event, or none if its creator is not armed yet: each listing arms the threads
    the previous one missed (a thread armed twice still stops once)."""
    listed = procfs.tasks(pid)
    for _ in range(LISTINGS):
        for tid in sorted(listed - armed.events.keys()):
            event = _opened(pid, tid, address, sig_data, sigtrap, armed.program)
            if event is not None:
                armed.events[tid] = event
        listed_again = procfs.tasks(pid)
        if listed_again <= listed:
            return
        listed = listed_again


def _opened(pid: int, tid: int, address: int, sig_data: int, sigtrap: bool,
            program: Optional[BpfProgram]) -> Optional[PerfBreakpoint]:
    """The enabled event on thread `tid` of process `pid`, or None if that thread is gone."""
    try:
        event = PerfBreakpoint.open(tid, address, sig_data=sig_data, sigtrap=sigtrap,
                                    inherit=True, inherit_thread=True)
    except KernelError as error:
        if error.errno == errno.ESRCH:
            return None
        raise Refusal(str(error), "event") from None
    try:
        if not procfs.is_thread_of(pid, tid):
            event.close()  # the tid was reused by another process's thread
            return None
        if program is not None:
            try:
                event.attach_bpf(program)
            except KernelError as error:
                raise Refusal(str(error), "program") from None
        try:
            event.enable()
        except KernelError as error:
            raise Refusal(str(error), "event") from None
    except BaseException:
        event.close()
        raise
    return event


def _failure(error) -> Message:
    answer = {"ok": False, "error": str(error)}
    stage = getattr(error, "stage", None)
    if stage is not None:
        answer["stage"] = stage
    return answer


def _encoded(answer: Message) -> bytes:
    try:
        return protocol.encode(answer)
    except ProtocolError as error:  # an answer too long for one line
        return protocol.encode(_failure(error))
