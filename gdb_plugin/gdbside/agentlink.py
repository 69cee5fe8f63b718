"""The agent beside a remote target's gdbserver: started by GDB, spoken to over a pipe.

`set hbreak-if remote-agent COMMAND` names the command that runs it on the target,
as `target remote | ssh HOST gdbserver - PROG` names gdbserver's (for example
`ssh HOST python3 -m gdb_plugin.agent`, or `nsenter --target PID --pid --mount
python3 -m gdb_plugin.agent` for a container).  No port is opened: the agent's
stdin and stdout are the channel (gdb_plugin/agent/protocol.py).  One agent
serves one remote inferior; it learns which process by evidence it checks in
its own namespace, the pid gdbserver reported and the AT_RANDOM bytes GDB reads
through the connection, and closes everything when GDB closes the pipe.
"""
import base64
import os
import re
import select
import shlex
import signal
import subprocess
import threading
from typing import Dict, List, Optional, Tuple

import gdb

from ..agent import protocol
from ..kernel.procfs import AT_RANDOM, RANDOM_BYTES
from ..kernel.probe import TIER_KERNEL, TIER_KERNEL_SIGNAL

ANSWER_TIMEOUT = 30     # seconds by default; an agent behind ssh answers in well under one
STDERR_KEPT = 2000      # characters of the agent's stderr quoted when it fails
HOST_KEPT = 64          # characters of the agent's host name shown
_AT_RANDOM_LINE = re.compile(rf"^{AT_RANDOM}\s+AT_RANDOM\s.*\s(0x[0-9a-f]+)\s*$", re.M)


class AgentError(Exception):
    """The agent could not be started or refused a request; the text says why."""


class Refused(AgentError):
    """A request the agent answered with an error; `stage` says what the kernel refused."""

    def __init__(self, message: str, stage: Optional[str]):
        super().__init__(message)
        self.stage = stage


class AgentLink:
    """One running agent and its pipe; requests are answered in order.  The evidence naming the
    process and what is armed are kept: should the agent end, the link starts another for the
    same process and arms it anew at once, without GDB or the target: from the thread that sees
    the end while the program runs (a script's `continue` runs no GDB event until the program
    stops), or from GDB's before its prompt and at a stop (replace_ended)."""

    def __init__(self, command: str, evidence: Tuple[int, int, bytes]):
        self.command = command
        self.evidence = evidence  # (pid, AT_RANDOM address, its 16 bytes)
        self.host = "?"  # the target machine's name, as its agent says
        self.tier = TIER_KERNEL  # the best the target's kernel gives
        # The pid namespace whose thread ids signalling predicates note, if the agent holds a
        # mailbox for them (predicate.SendSignal).
        self.signal_namespace: Optional[Tuple[int, int]] = None
        self._proc = None
        self._lock = threading.RLock()  # requests, and the replacement of an agent that ended
        self._armed: Dict[int, tuple] = {}  # key: arm's arguments
        self._replacing = False
        self.start()

    def start(self) -> None:
        """Start the agent and attach it to the process; AgentError if it cannot serve it."""
        with self._lock:
            self.close()
            try:
                self._proc = subprocess.Popen(shlex.split(self.command), stdin=subprocess.PIPE,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                              start_new_session=True)
            except (OSError, ValueError) as error:
                raise AgentError(f"cannot start `{self.command}`: {error}") from None
            self._stderr = ""
            self._pending = b""
            self._serving = False  # attached: from now on an end is replaced
            threading.Thread(target=self._keep_stderr, args=(self._proc,), daemon=True).start()
            try:
                hello = self.request({"op": "hello", "version": protocol.VERSION})
                host = hello.get("host")
                self.host = (host[:HOST_KEPT] if isinstance(host, str) and host.isprintable()
                             else "?")
                self.signal_namespace = _namespace(hello.get("signal"))
                self.tier = hello.get("tier")
                if self.tier != TIER_KERNEL and (self.tier != TIER_KERNEL_SIGNAL
                                                 or self.signal_namespace is None):
                    raise AgentError(f"the target's kernel ({hello.get('kernel')}) cannot "
                                     f"filter hits: {hello.get('reason')}")
                pid, address, random = self.evidence
                self.request({"op": "attach", "pid": pid, "random_address": address,
                              "random": random.hex()})
            except AgentError:
                self.close()
                raise
            self._serving = True

    def _keep_stderr(self, proc):
        for chunk in iter(lambda: proc.stderr.read1(4096), b""):
            self._stderr = (self._stderr + chunk.decode(errors="replace"))[-STDERR_KEPT:]
        # Its stderr closes before the kernel reports its status: wait, so the report has it.
        proc.wait()
        self.replace_if_ended()

    def replace_if_ended(self) -> None:
        with self._lock:
            if self._serving and self._proc.poll() is not None:
                self._replace(self._told(f"has ended (status {self._proc.returncode})"))

    def _told(self, what: str) -> str:
        """`the agent ... WHAT`, with what it said on stderr."""
        said = self._stderr.strip()
        return f"the agent `{self.command}` {what}" + (f"; it said: {said}" if said else "")

    def _replace(self, why: str) -> None:
        """The agent ended unasked, and its events with it: another takes its place and arms
        what it had armed; GDB hears of it at its next prompt or stop (and, if that failed,
        serves the program itself from then on)."""
        armed, self._armed = self._armed, {}
        self._replacing = True
        try:
            self.start()
            for key, arguments in armed.items():
                self.arm(key, *arguments)
            outcome = None
        except AgentError as error:
            self.close(force=True)
            self._armed = armed
            outcome = error
        finally:
            self._replacing = False
        with _reports_lock:
            _reports.append((self, why, outcome))

    def _ended(self, what: str) -> AgentError:
        """The agent cannot go on (ended, silent, or speaking something else): it is stopped,
        and one that served is replaced."""
        serving = self._serving and not self._replacing
        self.close(force=True)
        error = AgentError(self._told(what))
        if serving:
            self._replace(str(error))
        return error

    def _how_it_ended(self) -> str:
        """Its output has closed: it has ended, and its status is the kernel's a moment later."""
        try:
            self._proc.wait(timeout=1)
        except (OSError, subprocess.TimeoutExpired):
            return "has ended"
        return f"has ended (status {self._proc.returncode})"

    def request(self, message: protocol.Message) -> protocol.Message:
        with self._lock:
            if self._proc.poll() is not None:
                raise self._ended(f"has ended (status {self._proc.returncode})")
            try:
                self._proc.stdin.write(protocol.encode(message))
                self._proc.stdin.flush()
            except OSError:
                raise self._ended("stopped reading") from None
            answer = self._read_answer()
        if answer.get("ok") is not True:
            error = answer.get("error")
            stage = answer.get("stage")
            raise Refused(error if isinstance(error, str) else f"malformed answer {answer!r}",
                          stage if isinstance(stage, str) else None)
        return answer

    def _read_answer(self) -> protocol.Message:
        out = self._proc.stdout.fileno()
        while b"\n" not in self._pending:
            timeout = answer_timeout()
            ready, _, _ = select.select([out], [], [], timeout)
            chunk = os.read(out, 65536) if ready else None
            if chunk is None:
                raise self._ended(f"did not answer within {timeout} s")
            if not chunk:
                raise self._ended(self._how_it_ended())
            self._pending += chunk
            if len(self._pending) > protocol.MAX_LINE:
                raise self._ended("answered more than the protocol allows")
        line, self._pending = self._pending.split(b"\n", 1)
        try:
            answer = protocol.read_message(_OneLine(line + b"\n"))
        except (protocol.ProtocolError, protocol.Closed) as error:
            raise self._ended(f"answered something else than the protocol ({error})") from None
        return answer

    def close(self, force: bool = False):
        """Let the agent go: it closes everything at the end of its input; one that does not
        end (or `force`), and whatever it started, is killed."""
        with self._lock:
            if self._proc is None:
                return
            self._serving = False
            if self._proc.poll() is None and not force:
                try:
                    self._proc.stdin.close()
                    self._proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            if self._proc.poll() is None:
                try:
                    os.killpg(self._proc.pid, signal.SIGKILL)  # its own session's group
                except ProcessLookupError:
                    pass
                self._proc.wait()

    # The requests arming uses.

    def arm(self, key: int, address: int, sig_data: int, code: Optional[bytes],
            sigtrap: bool = True) -> int:
        program = base64.b64encode(code).decode() if code is not None else None
        threads = self._number(self.request({"op": "arm", "key": key, "address": address,
                                             "sig_data": sig_data, "program": program,
                                             "sigtrap": sigtrap}),
                               "threads")
        self._armed[key] = (address, sig_data, code, sigtrap)
        return threads

    def took_note(self, key: int) -> bool:
        """Whether a signalling predicate noted `key` (thread id << 32 | sig_data); the note
        is taken away."""
        noted = self.request({"op": "note", "key": key}).get("noted")
        if not isinstance(noted, bool):
            raise self._ended("answered a malformed note")
        return noted

    def count(self, key: int) -> int:
        return self._number(self.request({"op": "count", "key": key}), "hits")

    def disarm(self, key: int) -> int:
        self._armed.pop(key, None)
        return self._number(self.request({"op": "disarm", "key": key}), "hits")

    def parent_of(self, pid: int) -> Optional[int]:
        parent = self.request({"op": "parent", "pid": pid}).get("parent")
        if parent is not None and type(parent) is not int:
            raise self._ended("answered a malformed parent")
        return parent

    def mappings(self):
        ranges = self.request({"op": "mappings"}).get("ranges")
        if not isinstance(ranges, list) or not all(
                isinstance(span, list) and len(span) == 3 and type(span[0]) is int
                and type(span[1]) is int and isinstance(span[2], bool) for span in ranges):
            raise self._ended("answered malformed mappings")
        return [tuple(span) for span in ranges]

    def _number(self, answer: protocol.Message, name: str) -> int:
        try:
            return protocol.integer(answer, name)
        except protocol.ProtocolError as error:
            raise self._ended(f"answered malformed {name}: {error}") from None


def _namespace(value) -> Optional[Tuple[int, int]]:
    if (isinstance(value, list) and len(value) == 2
            and all(type(n) is int and 0 <= n <= protocol.U64 for n in value)):
        return value[0], value[1]
    return None


class _OneLine:
    def __init__(self, line: bytes):
        self._line = line

    def readline(self, _limit):
        line, self._line = self._line, b""
        return line


_links: Dict[Tuple[int, int], AgentLink] = {}  # by (inferior, connection)


class RemoteAgentSetting(gdb.Parameter):
    """The command that starts the agent on a remote target, over its stdin and stdout.

Example: set hbreak-if remote-agent ssh HOST python3 -m gdb_plugin.agent
With none (the default), GDB's own breakpoints serve a remote program, the
condition evaluated by gdbserver where it can.  The agent needs gdb_plugin/ on the
target and the same privileges there as hbreak-if needs here."""

    set_doc = "Set the command that starts the hbreak-if agent on a remote target."
    show_doc = "Show the command that starts the hbreak-if agent on a remote target."

    def __init__(self, on_change):
        super().__init__("hbreak-if remote-agent", gdb.COMMAND_BREAKPOINTS, gdb.PARAM_STRING)
        self.value = ""
        self._on_change = on_change

    def get_set_string(self):
        self._on_change()
        return ""

    def get_show_string(self, value):
        if not value:
            return "No hbreak-if agent: GDB's own breakpoints serve remote programs."
        return f"A remote program is served by the hbreak-if agent `{value}`."


class AgentTimeoutSetting(gdb.Parameter):
    """Seconds GDB waits for an answer of the remote agent (unlimited: as long as it takes).

An agent that does not answer in time is stopped, and with it what it armed; GDB starts
another, or serves the remote program with its own breakpoints."""

    set_doc = "Set how long GDB waits for an answer of the hbreak-if agent."
    show_doc = "Show how long GDB waits for an answer of the hbreak-if agent."

    def __init__(self):
        super().__init__("hbreak-if remote-agent-timeout", gdb.COMMAND_BREAKPOINTS,
                         gdb.PARAM_UINTEGER)
        self.value = ANSWER_TIMEOUT

    def get_show_string(self, value):
        wait = "as long as it takes" if value is None else f"{value} seconds"
        return f"GDB waits {wait} for an answer of the hbreak-if agent."


_setting: Optional[RemoteAgentSetting] = None
_timeout: Optional[AgentTimeoutSetting] = None
# Agents replaced since GDB last looked: (link, why its agent ended, None or why none serves).
# Threads add to it; GDB reads it on its own thread (a posted event may never run in a script,
# and GDB frees one left at its exit after Python is gone).
_reports: List[Tuple["AgentLink", str, Optional[AgentError]]] = []
_reports_lock = threading.Lock()


def install_setting(on_change) -> None:
    global _setting, _timeout
    _setting = RemoteAgentSetting(on_change)
    _timeout = AgentTimeoutSetting()


def replace_ended() -> List[Tuple["AgentLink", str, Optional[AgentError]]]:
    """Replace now the agents that ended; every replacement since the last call."""
    for link in list(_links.values()):
        link.replace_if_ended()
    with _reports_lock:
        reports = _reports[:]
        _reports.clear()
    return reports


def answer_timeout() -> Optional[int]:
    """Seconds to wait for an answer; None: without limit."""
    return ANSWER_TIMEOUT if _timeout is None else _timeout.value


def command() -> str:
    """The agent command the user set, or "" for none."""
    return (_setting.value or "").strip() if _setting is not None else ""


def link_for(inferior, command: str) -> AgentLink:
    """The agent serving `inferior`, started and attached to its process on first use."""
    key = (inferior.num, inferior.connection.num)
    link = _links.get(key)
    if link is not None and link.command == command and link.evidence[0] == inferior.pid:
        return link
    close(inferior)
    address, random = _random_bytes(inferior)
    link = _links[key] = AgentLink(command, (inferior.pid, address, random))
    return link


def _random_bytes(inferior) -> Tuple[int, bytes]:
    """The auxiliary vector's AT_RANDOM address and its 16 bytes, read through the connection."""
    address = _random_address(inferior)
    try:
        return address, bytes(inferior.read_memory(address, RANDOM_BYTES))
    except gdb.error as error:
        raise AgentError(f"GDB cannot read the target's AT_RANDOM bytes: {error}") from None


def _random_address(inferior) -> int:
    """GDB reads the auxiliary vector of the selected inferior only.  Another one (a child
    followed at a fork, before GDB selects it) shares its parent's layout: the address an agent
    of the same connection proved is taken, and the agent checks it against the process."""
    if inferior != gdb.selected_inferior():
        for (_, connection), link in _links.items():
            if connection == inferior.connection.num:
                return link.evidence[1]
        raise AgentError("GDB reads the auxiliary vector of the selected inferior only")
    try:
        auxv = gdb.execute("info auxv", to_string=True)
    except gdb.error as error:
        raise AgentError(f"GDB cannot read the target's auxiliary vector: {error}") from None
    found = _AT_RANDOM_LINE.search(auxv)
    if found is None:
        raise AgentError("the target's auxiliary vector has no AT_RANDOM")
    return int(found.group(1), 16)


def close(inferior) -> None:
    """Let the agent of `inferior` go (it closes what it armed)."""
    for key in [k for k in _links if k[0] == inferior.num]:
        _links.pop(key).close()


def serves(link: AgentLink) -> bool:
    return any(known is link for known in _links.values())


def forget(link: AgentLink) -> None:
    """`link` serves no inferior any more; a later need starts another agent."""
    for key in [k for k, known in _links.items() if known is link]:
        _links.pop(key).close()


def close_stale() -> None:
    """Let go the agents whose inferior's connection is gone."""
    live = {(inferior.num, inferior.connection.num) for inferior in gdb.inferiors()
            if inferior.is_valid() and inferior.connection is not None}
    for key in [k for k in _links if k not in live]:
        _links.pop(key).close()


def close_all() -> None:
    for link in _links.values():
        link.close()
    _links.clear()
