"""Whether `maint agent-eval ARGUMENTS` compiles, asked of a separate GDB given only the object
file that holds the location.

While GDB handles a library load or an exec, a command that fails leaves `run` returning with
the program still running (agent.py), so only commands known to succeed may run there.  A
separate GDB can fail without disturbing this session: where it compiles the same arguments
on the same file, they compile here too, and the kernel filters from the first hit instead of
the next stop.  It costs one short-lived GDB per new compilation; verdicts are remembered by
agent.py.  That GDB is given an empty data directory: it needs none of it to compile, and
without its Python modules it starts in half the time (0.02 s instead of 0.05 s; it warns on
its stderr, which is not read).
"""
import atexit
import os
import shutil
import subprocess
import tempfile

import gdb

_TIMEOUT_S = 10
# (object file, its mtime, arguments) a separate GDB did not compile: not asked again.
_refused = set()
_data_directory = None


def _gdb_executable():
    try:
        return os.readlink("/proc/self/exe")
    except OSError:
        return None


def _empty_data_directory():
    global _data_directory
    if _data_directory is None:
        _data_directory = tempfile.mkdtemp(prefix="hbreak-if-preflight-")
        atexit.register(shutil.rmtree, _data_directory, True)
    return _data_directory


def object_file_of(address):
    """The local file holding `address`: a shared library, or the program."""
    name = gdb.solib_name(address) or gdb.current_progspace().filename
    return name if name and os.path.isfile(name) else None


def compiles_in_a_separate_gdb(object_file, arguments):
    """Whether a GDB with only `object_file` loaded compiles `maint agent-eval ARGUMENTS`."""
    executable = _gdb_executable()
    if executable is None or object_file is None:
        return False
    asked = (object_file, os.stat(object_file).st_mtime_ns, arguments)
    if asked in _refused:
        return False
    settings = [f"set debug-file-directory {gdb.parameter('debug-file-directory')}",
                "set debuginfod enabled off", "set auto-load safe-path /nonexistent"]
    argv = [executable, "-nx", "-batch", "--data-directory", _empty_data_directory()]
    for setting in settings:
        argv += ["-iex", setting]
    argv += ["-ex", f"maint agent-eval {arguments}", object_file]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=_TIMEOUT_S, env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        done = None
    if done is None or done.returncode != 0 or "Scope:" not in done.stdout:
        _refused.add(asked)
        return False
    return True
