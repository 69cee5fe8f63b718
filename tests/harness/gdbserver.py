"""gdbserver for the remote-target tests: over a pipe (same machine, same pids), or on TCP
inside its own pid and mount namespace (what a container, a VM or another machine looks like
from GDB's side: the pids it reports name other processes here, or none)."""
import os
import re
import shutil
import signal
import subprocess
import threading
from contextlib import contextmanager

from harness.processes import end

GDBSERVER = shutil.which("gdbserver") or "/usr/bin/gdbserver"
IN_OWN_NAMESPACE = ("unshare", "--pid", "--fork", "--mount-proc")
_LISTENING = re.compile(r"Listening on port (\d+)")
_CREATED = re.compile(r"Process .* created; pid = (\d+)")


def pipe(binary, args=()):
    """The `target remote` argument that starts gdbserver on this machine over a pipe."""
    return f"| {GDBSERVER} - {binary} {' '.join(map(str, args))}"


class Server:
    """gdbserver's output is read all along: it warns at every register write it cannot
    complete, and a full pipe would stop it mid-session."""

    def __init__(self, proc):
        self.proc = proc
        self.port = None
        self.inferior_pid = None  # the pid gdbserver reported, in its namespace
        self._text = ""
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for chunk in iter(lambda: os.read(self.proc.stdout.fileno(), 4096), b""):
            with self._changed:
                self._text += chunk.decode(errors="replace")
                self._changed.notify_all()
        with self._changed:
            self._text += "\n[gdbserver ended]"
            self._changed.notify_all()

    def wait_for(self, pattern, timeout=30):
        """Wait until gdbserver has printed `pattern`; its first group."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: pattern.search(self._text) or "[gdbserver ended]" in self._text, timeout)
            match = pattern.search(self._text)
            assert found and match, f"gdbserver did not print {pattern.pattern!r}:\n{self._text}"
        return match.group(1)

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"


@contextmanager
def gdbserver(*program, options=("--once",), namespace=True, prefix=()):
    """gdbserver with `options` listening on a free localhost port, debugging `program` (a
    binary and its arguments; none with --multi); in its own pid+mount namespace unless
    `namespace` is false.  `prefix` runs first inside the namespace (e.g. a shell that starts
    a program to attach to)."""
    argv = [*(IN_OWN_NAMESPACE if namespace else ()), *prefix, GDBSERVER, *options,
            "127.0.0.1:0", *map(str, program)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(proc)
    try:
        server.port = int(server.wait_for(_LISTENING))
        if _CREATED.search(server._text):
            server.inferior_pid = int(_CREATED.search(server._text).group(1))
        yield server
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        end(proc)
