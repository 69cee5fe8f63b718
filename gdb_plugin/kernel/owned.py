"""One kernel object reached through a file descriptor that this process owns."""
import os


class OwnedFd:
    """Closes its fd on close(), at the end of a `with` block, or as a last resort when
    collected: a leaked perf fd keeps trapping a thread, a leaked BPF fd pins its object."""

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

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
