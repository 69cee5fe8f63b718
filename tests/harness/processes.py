"""Looking at processes from a test: waiting for one that is not our child, and counting the
perf events a GDB holds."""
import os
import select

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
