"""qemu's serial console on its stdout, read line by line."""
import os
import selectors
import subprocess
import time


def start(argv):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def lines(proc, timeout):
    """Lines of proc's stdout until it ends, or None once `timeout` seconds have passed."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            yield None
            return
        if not sel.select(min(left, 1.0)):
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            if buf:
                yield buf.decode(errors="replace")
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode(errors="replace").rstrip("\r")


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()
