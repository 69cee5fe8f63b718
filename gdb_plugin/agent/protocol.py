"""The messages between GDB and the agent: one JSON object per line, checked on arrival.

GDB sends requests, the agent answers each with one line, in order:

    {"op": "hello", "version": 1}
        -> {"ok": true, "version": 1, "tier": T, "reason": R, "kernel": RELEASE, "host": NAME,
            "signal": [DEV, INO] or null}
        T is the best tier the target's kernel gives; "signal", where the agent holds a
        mailbox map for predicates that signal a match (the kernel-signal tier, on kernels
        without the suppression of 6.10, and on those with it), is its pid namespace
    {"op": "attach", "pid": P, "random_address": A, "random": HEX}
        the process GDB debugs, named by the pid gdbserver reported and the 16 bytes at the
        auxiliary vector's AT_RANDOM as GDB read them through the connection; the agent
        arms nothing until both match a process of its own pid namespace
        -> {"ok": true, "tracer": PID or null}
    {"op": "mappings"}
        -> {"ok": true, "ranges": [[START, END, EXECUTABLE], ...]}
    {"op": "arm", "key": K, "address": A, "sig_data": D, "program": BASE64 or null,
     "sigtrap": true or false}
        a perf breakpoint at A on every thread of the process (and the threads they create),
        with the encoded eBPF predicate, or none where GDB decides every hit; it raises
        SIGTRAP at a hit unless "sigtrap" is false (the predicate signals a match itself,
        noting it in the mailbox map, which the program names as map fd MAILBOX)
        -> {"ok": true, "threads": N}; a refusal says which part the kernel refused:
           {"ok": false, "error": TEXT, "stage": "program" or "event"}
    {"op": "parent", "pid": P}  -> {"ok": true, "parent": PID or null}
        the parent of a process of the agent's namespace (a fork child GDB now follows)
    {"op": "note", "key": K}    -> {"ok": true, "noted": true or false}
        whether the mailbox holds K (thread id << 32 | sig_data); it is taken out
    {"op": "count", "key": K}   -> {"ok": true, "hits": N}
    {"op": "disarm", "key": K}  -> {"ok": true, "hits": N}
        once the process has exited, both still answer with its final counts
    {"op": "bye"}               -> {"ok": true}, then the agent closes everything and ends

Anything else, or a request that fails, is answered {"ok": false, "error": TEXT} and leaves
what is armed as it was.  The bounds below are what a predicate GDB compiles needs, with room.
"""
import base64
import json
from typing import Any, BinaryIO, Dict, Optional

from ..kernel.procfs import RANDOM_BYTES

VERSION = 1
MAX_LINE = 1 << 20             # bytes in one message, newline included
MAX_PROGRAM_INSNS = 1 << 16    # 8-byte eBPF instructions in one predicate
MAX_KEYS = 4096                # armed (breakpoint, address) pairs at once
U64 = (1 << 64) - 1
LD_IMM64 = 0x18
PSEUDO_MAP_FD = 1
MAILBOX = (1 << 31) - 2  # the map fd naming the agent's mailbox (above any real fd: nr_open)

Message = Dict[str, Any]


class ProtocolError(Exception):
    """A message that is not what the protocol allows; the text says what is wrong."""


class Closed(Exception):
    """The other side closed the stream."""


def encode(message: Message) -> bytes:
    line = json.dumps(message, separators=(",", ":")).encode() + b"\n"
    if len(line) > MAX_LINE:
        raise ProtocolError(f"message of {len(line)} bytes (at most {MAX_LINE})")
    return line


def read_message(stream: BinaryIO) -> Message:
    """The next message; ProtocolError for a malformed one (the stream stays usable: the
    rest of an over-long line is skipped), Closed at the end of the stream."""
    line = stream.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        while line and not line.endswith(b"\n"):
            line = stream.readline(MAX_LINE)
        raise ProtocolError(f"message longer than {MAX_LINE} bytes")
    if not line.endswith(b"\n"):
        raise Closed()  # the end of the stream, maybe after a last line cut short
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as error:  # RecursionError: nested too deep
        raise ProtocolError(f"not JSON: {error}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message is a JSON object")
    return message


def integer(message: Message, name: str, low: int = 0, high: int = U64) -> int:
    value = message.get(name)
    if type(value) is not int or not low <= value <= high:
        raise ProtocolError(f"{name!r} must be an integer in [{low}, {high}]")
    return value


def text(message: Message, name: str, limit: int = 4096) -> str:
    value = message.get(name)
    if not isinstance(value, str) or len(value) > limit:
        raise ProtocolError(f"{name!r} must be a string of at most {limit} characters")
    return value


def random_bytes(message: Message) -> bytes:
    try:
        value = bytes.fromhex(text(message, "random", 2 * RANDOM_BYTES))
    except ValueError:
        value = b""
    if len(value) != RANDOM_BYTES:
        raise ProtocolError(f"'random' must be {RANDOM_BYTES} bytes in hexadecimal")
    return value


def boolean(message: Message, name: str, default: bool) -> bool:
    value = message.get(name, default)
    if type(value) is not bool:
        raise ProtocolError(f"{name!r} must be true or false")
    return value


def program(message: Message, mailbox_fd: Optional[int] = None) -> Optional[bytes]:
    """The encoded predicate of an `arm` request, or None; its references to the mailbox
    (map fd MAILBOX) are made to `mailbox_fd`; refused where it refers to any other map or
    kernel object by descriptor, which would be the agent's, not GDB's."""
    value = message.get("program")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > (MAX_PROGRAM_INSNS * 8 * 4) // 3 + 4:
        raise ProtocolError("'program' must be base64 text of at most "
                            f"{MAX_PROGRAM_INSNS} instructions")
    try:
        code = base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error, or a character outside ASCII
        raise ProtocolError("'program' is not base64") from None
    if not code or len(code) % 8 or len(code) // 8 > MAX_PROGRAM_INSNS:
        raise ProtocolError("'program' must hold 1 to "
                            f"{MAX_PROGRAM_INSNS} whole 8-byte instructions")
    code, index = bytearray(code), 0
    while index < len(code) // 8:
        opcode, registers = code[8 * index], code[8 * index + 1]
        if opcode == LD_IMM64:
            immediate = int.from_bytes(code[8 * index + 4:8 * index + 8], "little", signed=True)
            if (registers >> 4 == PSEUDO_MAP_FD and immediate == MAILBOX
                    and mailbox_fd is not None):
                code[8 * index + 4:8 * index + 8] = mailbox_fd.to_bytes(4, "little")
            elif registers >> 4:
                raise ProtocolError(f"instruction {index} refers to a kernel object by "
                                    "descriptor; the agent loads self-contained predicates"
                                    + ("" if mailbox_fd is not None else
                                       " (it holds no mailbox)"))
            index += 1  # the second half of the 16-byte load
        index += 1
    return bytes(code)
