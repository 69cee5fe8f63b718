"""Run BCC on a predicate's C file in a forked child; bring back code and map fds.

Why a child: LLVM ends the whole process with exit(1) on some errors it
finds in a program (e.g. "Looks like the BPF stack limit of 512 bytes is
exceeded"), and a compiler may crash outright.  In GDB that would end GDB
and the program being debugged; in a child it is a message.  The child also gets
its own stderr (where clang writes diagnostics) and its own
BCC_KERNEL_SOURCE, so GDB's are never touched.

Protocol: before fork() the parent makes a socketpair and two temporary
files.  The child compiles with bcc.BPF(text=..., cflags=...), writes the
instructions of FUNCTION (map fds already in them, as BCC resolves them)
and the fd of every map to the result file as JSON, sends the map fds over
the socket (SCM_RIGHTS) and leaves through os._exit().  Its fd 1 and 2 go to
the output file.  The parent waits for the socket (with a timeout), reaps
the child, and renumbers the map fds in the code to its own copies.

The parent imports bcc before forking (bcc loads libbcc, with LLVM and
clang, through ctypes), so the child starts compiling at once.
"""

import ctypes
import errno
import json
import os
import resource
import select
import signal
import socket
import tempfile
import time
import warnings

from ..kernel.errors import PermissionDenied
from . import source as _source
from .errors import CompileError, CPredicateError, LoadError

FUNCTION = "hbreak_if_predicate"
STATE_MAPS = ("hbreak_if_state", "hbreak_if_state_by", "hbreak_if_unreadable")
TIMEOUT = 120.0
MAX_FDS = 64

# struct bpf_insn: opcode u8, dst:4 src:4, off s16, imm s32.  BPF_LD|BPF_IMM|BPF_DW with
# src_reg BPF_PSEUDO_MAP_FD carries a map fd in imm and takes two slots.
_LD_IMM64 = 0x18
_PSEUDO_MAP_FD = 1


class BuildResult:
    def __init__(self, code, maps, output, seconds):
        self.code = code          # bytes, map fds renumbered to `maps`' fds
        self.maps = maps          # {map name: fd in this process}
        self.output = output      # clang's warnings, if any
        self.seconds = seconds


def map_fd_slots(code):
    """[(byte offset of imm, fd)] of every map-fd load in `code`."""
    out = []
    i = 0
    while i + 16 <= len(code):
        if code[i] == _LD_IMM64:
            if code[i + 1] >> 4 == _PSEUDO_MAP_FD:
                out.append((i + 4, int.from_bytes(code[i + 4:i + 8], "little", signed=True)))
            i += 16
        else:
            i += 8
    return out


def renumber_map_fds(code, mapping):
    """`code` with each map fd f replaced by mapping[f]."""
    code = bytearray(code)
    for at, fd in map_fd_slots(code):
        code[at:at + 4] = mapping[fd].to_bytes(4, "little", signed=True)
    return bytes(code)


def _child(bcc, c_source, cflags, env_source, sock, result, output):
    """In the forked child: never returns."""
    status = 70
    try:
        # LLVM leaves through exit() on some errors, whose handlers (GDB's own, inherited)
        # abort: no core file of this child in the user's directory.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.dup2(output.fileno(), 1)
        os.dup2(output.fileno(), 2)
        if env_source is not None:
            os.environ["BCC_KERNEL_SOURCE"] = env_source
        try:
            module = bcc.BPF(text=c_source, cflags=cflags)
        except Exception as e:  # noqa: BLE001 - BCC raises plain Exception
            result.write(json.dumps({"ok": False, "error": str(e)}).encode())
            result.flush()
            status = 0
            return
        fn = FUNCTION.encode()
        start = bcc.lib.bpf_function_start(module.module, fn)
        size = bcc.lib.bpf_function_size(module.module, fn)
        code = ctypes.string_at(start, size) if start and size else b""
        maps = {}
        for name in STATE_MAPS:
            try:
                maps[name] = module[name].map_fd
            except KeyError:
                pass
        fds = sorted(set(maps.values()) | {fd for _, fd in map_fd_slots(code)})
        result.write(json.dumps({"ok": True, "code": code.hex(), "fds": fds,
                                 "maps": maps}).encode())
        result.flush()
        if fds:
            socket.send_fds(sock, [b"fds"], fds)
        status = 0
    except BaseException as e:  # noqa: BLE001 - report, then leave
        try:
            os.write(2, ("internal error in the compiling process: %s: %s\n"
                         % (type(e).__name__, e)).encode())
        except Exception:  # noqa: BLE001
            pass
    finally:
        os._exit(status)


def _wait(pid, sock, timeout):
    """Wait for the child's message or its end; -> (fds, wait status)."""
    fds = []
    ready, _, _ = select.select([sock], [], [], timeout)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise CPredicateError("the C compiler did not finish within %d s" % timeout)
    try:
        _, fds, _, _ = socket.recv_fds(sock, 16, MAX_FDS)
    except OSError:
        fds = []
    _, status = os.waitpid(pid, 0)
    for fd in fds:
        os.set_inheritable(fd, False)
    return fds, status


def _close_all(fds):
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def compile_in_child(bcc, c_source, cflags, env_source, timeout=TIMEOUT):
    """Compile `c_source` with BCC in a child -> BuildResult.

    Raises CompileError (clang's or LLVM's messages) or CPredicateError."""
    started = time.perf_counter()
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with parent_sock, tempfile.TemporaryFile() as result, \
            tempfile.TemporaryFile() as output:
        with child_sock:
            with warnings.catch_warnings():
                # Python 3.12+ warns about fork() in a threaded process (GDB has
                # worker threads); the child runs no thread and leaves through
                # os._exit().
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:
                parent_sock.close()
                _child(bcc, c_source, cflags, env_source, child_sock, result, output)
        fds, status = _wait(pid, parent_sock, timeout)
        result.seek(0)
        output.seek(0)
        raw = result.read()
        text = output.read().decode("utf-8", "replace").strip()
    seconds = time.perf_counter() - started
    try:
        reply = json.loads(raw.decode()) if raw else None
    except ValueError:
        reply = None
    if reply is None or not reply.get("ok"):
        _close_all(fds)
        if "could not open bpf map" in text:
            if "not permitted" in text or "Permission denied" in text:
                raise LoadError(PermissionDenied(
                    errno.EPERM, "creating the C predicate's BPF maps",
                    needed="CAP_BPF and CAP_PERFMON"))
            raise CPredicateError("BCC could not create the C predicate's maps:\n" + text)
        if _source.has_errors(text) or "error: " in text:
            line, column = _source.first_error(text)
            raise CompileError(text, line, column, c_source)
        if reply is None:
            how = ("killed by signal %d" % os.WTERMSIG(status)
                   if os.WIFSIGNALED(status) else
                   "exit status %d" % os.WEXITSTATUS(status))
            raise CPredicateError("the C compiler failed (%s)%s"
                                  % (how, ":\n" + text if text else ""))
        raise CPredicateError("BCC could not build the C predicate (%s)%s"
                              % (reply.get("error"), ":\n" + text if text else ""))
    child_fds = reply["fds"]
    if len(fds) != len(child_fds):
        _close_all(fds)
        raise CPredicateError("the compiling process sent %d map fds, expected %d"
                              % (len(fds), len(child_fds)))
    mapping = dict(zip(child_fds, fds))
    code = bytes.fromhex(reply["code"])
    if not code:
        _close_all(fds)
        raise CPredicateError("BCC produced no code for %s" % FUNCTION)
    code = renumber_map_fds(code, mapping)
    maps = {name: mapping[fd] for name, fd in reply["maps"].items()}
    # Map fds only the code refers to (none today) stay open with the maps.
    for fd in set(fds) - set(maps.values()):
        maps["#%d" % fd] = fd
    return BuildResult(code, maps, text, seconds)
