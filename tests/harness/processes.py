"""Looking at processes from a test: waiting for one that is not our child, ending one that is,
and counting the perf events a GDB holds."""
import os
import select
import subprocess

# A GDB script unit that defines perf_events_held() in GDB's Python: the perf events this GDB
# has open.
PERF_EVENTS_HELD = """python
import os
def perf_events_held():
    held = 0
    for fd in os.listdir('/proc/self/fd'):
        try:
            held += os.readlink(f'/proc/self/fd/{fd}') == 'anon_inode:[perf_event]'
        except OSError:  # the listing's own descriptor
            pass
    return held
end"""


def wait_for_exit(pid, timeout=60):
    """Wait for a process that is not our child to end (its pidfd becomes readable)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        assert select.select([pidfd], [], [], timeout)[0], f"process {pid} still runs"
    finally:
        os.close(pidfd)


def describe(pid) -> str:
    """What holds a process: its state, what it waits on in the kernel, and its tracer."""
    def read(name, of=pid):
        try:
            with open(f"/proc/{of}/{name}", errors="replace") as f:
                return f.read().strip().replace("\0", " ").strip()
        except OSError as error:
            return f"({error.strerror})"
    status = dict(line.split(":\t", 1) for line in read("status").splitlines() if ":\t" in line)
    text = (f"pid {pid} {read('cmdline')!r} state {status.get('State')}, "
            f"waits in {read('wchan')!r}, kernel stack:\n{read('stack')}")
    tracer = status.get("TracerPid", "0")
    if tracer != "0":
        text += f"\ntraced by {describe(tracer)}"
    return text


def end(proc: subprocess.Popen, timeout=30):
    """SIGKILL a child and reap it. One that outlives SIGKILL (a zombie its tracer never reaps,
    a task stuck in the kernel) fails the test, naming what holds it, instead of hanging it."""
    proc.kill()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"a process outlives SIGKILL: {describe(proc.pid)}") from None
