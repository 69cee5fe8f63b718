"""Acting the moment another process exits, without waiting for the caller to look.

A process gdbserver attached to runs on untraced when gdbserver dies, while the
debugger still holds its perf events: one matching hit would then kill it with
SIGTRAP before GDB notices the connection is gone.  A thread waiting on the
tracer's pidfd disables the events at once instead.
"""
import os
import select
import threading


class ExitWatch:
    """Calls `on_exit()` from a background thread when process `pid` exits (at once if it is
    gone already).  `on_exit` must not call into GDB: it runs outside GDB's own thread."""

    def __init__(self, pid: int, on_exit):
        self._on_exit = on_exit
        self._wake_read, self._wake_write = os.pipe()
        try:
            self._pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._pidfd = None
        self._thread = threading.Thread(target=self._wait, name=f"exit-watch-{pid}", daemon=True)
        self._thread.start()

    def _wait(self):
        if self._pidfd is not None:
            ready, _, _ = select.select([self._pidfd, self._wake_read], [], [])
            if self._wake_read in ready:
                return  # stopped: the caller no longer cares
        self._on_exit()

    def stop(self):
        """No call once this returns (one under way is awaited)."""
        if self._wake_write is None:
            return
        os.write(self._wake_write, b"x")
        self._thread.join()
        for fd in (self._wake_read, self._wake_write, self._pidfd):
            if fd is not None:
                os.close(fd)
        self._wake_write = None
