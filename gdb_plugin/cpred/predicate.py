"""compile_c_predicate(): raw C text -> a loaded BPF_PROG_TYPE_PERF_EVENT program.

BCC is imported on first use only.  It compiles bpfprogs/predicate.c with
the user's text in it and creates the predicate's maps, in a forked child
(build.py says why); the instructions it produced come back with the map
fds and are loaded by this project's own kernel layer, so a refusal carries
the verifier's log and the same typed errors as every other program
hbreak-if loads.

Compiled programs are cached for the life of the process, keyed by a hash
of the generated C file, the headers and the compiler flags: compiling the
same text again costs a dictionary lookup.  A predicate that keeps state
(STATE, STATE_INC, STATE_BY) is compiled per breakpoint, since each
breakpoint has its own maps; a stateless one is shared by every breakpoint
with the same text.  The state of a cached program is zeroed when it is
handed out again after all its handles were closed.
"""

import collections
import ctypes
import functools
import hashlib
import os
import sys
import threading
import time

from ..ebpf import decode_program, disassemble
from ..kernel.bpf import BpfProgram
from ..kernel.errors import KernelError
from . import headers as _headers
from . import source as _source
from .build import STATE_MAPS, compile_in_child
from .errors import BccUnavailable, CompileError, CPredicateError, LoadError
from ..kernel.maps import BpfMap
from ..kernel.owned import Closing

STATE_MAP, STATE_BY_MAP, UNREADABLE_MAP = STATE_MAPS
STATE_SLOTS = 64    # HBREAK_IF_STATE_SLOTS in hbreak_if.h

# Compiled programs kept after their last handle is closed, oldest dropped first.
MAX_CACHED = 32

_bcc = None
_lock = threading.RLock()
_cache = collections.OrderedDict()


def import_bcc():
    """The bcc module, or BccUnavailable saying what to install."""
    global _bcc
    if _bcc is not None:
        return _bcc
    try:
        import bcc
        bcc.BPF, bcc.lib.bpf_function_start, bcc.lib.bpf_function_size
    except ImportError as e:
        raise BccUnavailable("%s; Python %s at %s" % (
            e, sys.version.split()[0], sys.executable or "?")) from None
    except OSError as e:
        # The python3-bpfcc module is there, its libbcc.so.0 is not.
        raise BccUnavailable("its library failed to load: %s" % e) from None
    except Exception as e:  # noqa: BLE001 - a broken install is "unavailable" too
        raise BccUnavailable("%s: %s" % (type(e).__name__, e)) from None
    _bcc = bcc
    return bcc


def bcc_status():
    """(True, description) if raw C predicates can be compiled here, else
    (False, the BccUnavailable/HeadersUnavailable message)."""
    try:
        bcc = import_bcc()
        hs = _headers.choose()
    except CPredicateError as e:
        return False, str(e)
    try:
        from bcc.version import __version__ as version
    except Exception:  # noqa: BLE001
        version = "?"
    return True, "BCC %s (%s), headers: %s" % (
        version, os.path.dirname(bcc.__file__), hs.description)


@functools.lru_cache(maxsize=None)
def _files_digest():
    """Hash of the header and the stand-in tree: part of every cache key."""
    h = hashlib.sha256()
    paths = [_source.HEADER] + sorted(p for p in _headers.STUB_TREE.rglob("*")
                                      if p.is_file())
    for p in paths:
        h.update(str(p).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


class _Entry:
    """One compiled and loaded predicate in the cache."""

    def __init__(self, key, program, code, maps, stateful, build_seconds, warnings,
                 headers):
        self.key = key
        self.program = program
        self.code = code
        self.state = BpfMap(maps.pop(STATE_MAP), ctypes.c_uint32)
        self.state_by = BpfMap(maps.pop(STATE_BY_MAP), ctypes.c_uint64)
        self.unreadable = BpfMap(maps.pop(UNREADABLE_MAP), ctypes.c_uint32)
        self.other_maps = list(maps.values())
        self.stateful = stateful
        self.build_seconds = build_seconds
        self.warnings = warnings
        self.headers = headers
        self.handles = 0
        self.dropped = False

    def reset_state(self):
        for i in range(STATE_SLOTS):
            self.state.set(i, 0)
        for key in self.state_by.keys():
            self.state_by.delete(key)

    def destroy(self):
        self.program.close()
        self.state.close()
        self.state_by.close()
        self.unreadable.close()
        for fd in self.other_maps:
            os.close(fd)
        self.other_maps = []


def _build(c_source, hs, key, stateful, name):
    bcc = import_bcc()
    cflags = ["-I%s" % _source.BPFPROGS] + hs.cflags
    result = compile_in_child(bcc, c_source, cflags, hs.env_source)
    started = time.perf_counter()
    missing = [m for m in STATE_MAPS if m not in result.maps]
    if missing:
        for fd in result.maps.values():
            os.close(fd)
        raise CPredicateError("BCC did not create the map(s) %s" % ", ".join(missing))
    try:
        program = BpfProgram.load(result.code, name=name)
    except KernelError as e:
        for fd in result.maps.values():
            os.close(fd)
        raise LoadError(e) from None
    return _Entry(key, program, result.code, result.maps, stateful,
                  result.seconds + time.perf_counter() - started, result.output,
                  hs.description)


def _evict():
    idle = [k for k, e in _cache.items() if e.handles == 0]
    while len(_cache) > MAX_CACHED and idle:
        _cache.pop(idle.pop(0)).destroy()


def clear_cache():
    """Forget every compiled predicate; those still open are freed when
    their last handle is closed."""
    with _lock:
        while _cache:
            _, entry = _cache.popitem()
            entry.dropped = True
            if entry.handles == 0:
                entry.destroy()


def cache_size():
    return len(_cache)


class CPredicate(Closing):
    """A handle on a compiled, loaded predicate.

    Pass it (or its `fd`) to PerfBreakpoint.attach_bpf(); keep it open as
    long as new perf events may need the program, then close() it.
      fd, prog_fd      the BPF program's fd (owned by the cache)
      text, c_source   the predicate as given (normalized) and the C file compiled
      kind             "expression" or "body"
      stateful         uses STATE/STATE_INC/STATE_BY (maps of its own)
      compile_seconds  time this call took (tiny when `cached`)
      build_seconds    time the compilation and load took when it happened
      cached           True if the program came from the cache
      warnings         clang's warnings ('' if none)
      headers          which kernel headers it was compiled against
    """

    def __init__(self, entry, text, kind, breakpoint_number, compile_seconds, cached,
                 c_source):
        self._entry = entry
        self.text = text
        self.c_source = c_source
        self.kind = kind
        self.breakpoint_number = breakpoint_number
        self.compile_seconds = compile_seconds
        self.cached = cached

    def _live(self):
        if self._entry is None:
            raise ValueError("C predicate is closed")
        return self._entry

    @property
    def fd(self):
        return self._live().program.fd

    prog_fd = fd

    @property
    def closed(self):
        return self._entry is None

    @property
    def stateful(self):
        return self._live().stateful

    @property
    def build_seconds(self):
        return self._live().build_seconds

    @property
    def warnings(self):
        return self._live().warnings

    @property
    def headers(self):
        return self._live().headers

    @property
    def insn_count(self):
        return len(self._live().code) // 8

    def disassemble(self):
        """The program as eBPF assembly lines (gdb_plugin.ebpf)."""
        return disassemble(decode_program(self._live().code))

    def state(self, index):
        """STATE(index) as the program left it."""
        if not 0 <= index < STATE_SLOTS:
            raise IndexError("STATE index %d is not in 0..%d" % (index, STATE_SLOTS - 1))
        return self._live().state.get(index)

    def state_by(self, key):
        """STATE_BY(key) as the program left it (0 if never used)."""
        return self._live().state_by.get(key & 0xFFFFFFFFFFFFFFFF) or 0

    def take_unreadable(self, thread_id):
        """The address thread `thread_id` last failed to read at its latest hit, if any
        (forgotten once taken)."""
        unreadable = self._live().unreadable
        address = unreadable.get(thread_id)
        if address is not None:
            unreadable.delete(thread_id)
        return address

    def state_keys(self):
        """The keys STATE_BY has seen, sorted."""
        return sorted(self._live().state_by.keys())

    def reset_state(self):
        """Zero STATE and forget STATE_BY keys, e.g. when the program is run again."""
        with _lock:
            self._live().reset_state()

    def close(self):
        with _lock:
            entry, self._entry = self._entry, None
            if entry is None:
                return
            entry.handles -= 1
            if entry.handles == 0:
                if entry.dropped:
                    entry.destroy()
                else:
                    _evict()

    def __repr__(self):
        if self._entry is None:
            return "<CPredicate closed>"
        return "<CPredicate bp %s %s fd=%d%s>" % (
            self.breakpoint_number, self.kind, self._entry.program.fd,
            " cached" if self.cached else "")


def compile_c_predicate(source_text, breakpoint_number):
    """Compile and load the raw C predicate `source_text` for breakpoint
    `breakpoint_number` -> CPredicate.

    Raises BccUnavailable (what to install), HeadersUnavailable,
    CompileError (clang's diagnostics, lines counted in `source_text`),
    LoadError (verifier or permissions) -- all CPredicateError."""
    started = time.perf_counter()
    text = _source.normalize(source_text)
    if not text:
        raise CPredicateError("the C predicate is empty")
    c_source, kind = _source.render(text)
    stateful = _source.uses_state(text)
    import_bcc()
    hs = _headers.choose()
    h = hashlib.sha256()
    for part in (c_source, hs.key(), _files_digest(),
                 "bp %s" % (breakpoint_number,) if stateful else "shared"):
        h.update(part.encode() + b"\0")
    key = h.hexdigest()
    with _lock:
        entry = _cache.get(key)
        cached = entry is not None
        if cached:
            _cache.move_to_end(key)
            if entry.stateful and entry.handles == 0:
                entry.reset_state()
        else:
            try:
                entry = _build(c_source, hs, key, stateful,
                               "hbreak_if_c%s" % (breakpoint_number,))
            except CompileError as e:
                if kind == _source.EXPRESSION and ";" in _source.code_only(text):
                    raise e.with_hint(
                        "note: the text has no `return`, so it was compiled as an "
                        "expression; a body with statements must return its verdict") from None
                raise
            _cache[key] = entry
        entry.handles += 1
        _evict()
    return CPredicate(entry, text, kind, breakpoint_number,
                      time.perf_counter() - started, cached, c_source)
