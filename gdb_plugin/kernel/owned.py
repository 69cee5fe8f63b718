"""Kernel objects this process owns, released deterministically."""
import os


class Closing:
    """close() at the end of a `with` block, or as a last resort when collected: a leaked perf
    fd keeps trapping a thread, a leaked BPF fd pins its object in the kernel."""

    def close(self):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class OwnedFd(Closing):
    """One kernel object reached through a file descriptor."""

    _what = "kernel object"

    def __init__(self, fd):
        self._fd = fd

    @property
    def fd(self):
        if self._fd is None:
            raise ValueError(f"{self._what} is closed")
        return self._fd

    @property
    def closed(self):
        return self._fd is None

    def close(self):
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
