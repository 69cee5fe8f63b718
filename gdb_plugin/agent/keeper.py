"""The agent's keeper: copies of the descriptors of everything the agent armed, so that an agent
that ends unasked (killed, its ssh connection dropped) takes nothing with it: the events go on
filtering and stopping the program until the agent GDB starts in its place adopts them.

The agent starts it once attached, in a session of its own (a signal to the agent's process
group spares it), with one end of a SOCK_SEQPACKET socket pair; each packet is a JSON object,
with descriptors (SCM_RIGHTS):

    {"op": "hold", "key": K, "tids": [...], "program": P, "address": A, "sig_data": D}
        + the events' descriptors in the order of tids, then the program's if P
    {"op": "hold", "key": MAILBOX_KEY} + the mailbox map's descriptor
    {"op": "drop", "key": K}      closes them
    {"op": "close"}               closes everything; the keeper ends

When that socket ends without "close" (the agent died), the keeper waits ADOPT_WAIT seconds on
the abstract unix socket named for the process (its pid and AT_RANDOM bytes) for an agent of
its own user: it hands that one every key ("hold" packets, then {"op": "end"}) and ends.
Nobody in that time (GDB gone too), or the process gone: everything is closed.  Its tracer
gone: the events are disabled first, as the agent does (an untraced process would die of the
next match).
"""
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
from typing import Dict, List, Optional, Tuple

from ..kernel import syscalls
from ..kernel.errors import KernelError
from ..kernel.exitwatch import ExitWatch

MAILBOX_KEY = -1
ADOPT_WAIT = 60           # seconds: GDB replaces an agent at once, or after its answer timeout
CLOSE_WAIT = 10           # seconds
MAX_PACKET = 1 << 16
MAX_FDS = 253             # SCM_MAX_FD
Held = Tuple[dict, List[int]]  # the hold packet, and its descriptors


def name_for(pid: int, random: bytes) -> bytes:
    """The abstract socket of the keeper of process `pid` (`random`: its AT_RANDOM bytes)."""
    return b"\0hbreak-if-keeper-%d-%s" % (pid, random.hex().encode())


def send(channel: socket.socket, message: dict, fds=()) -> None:
    socket.send_fds(channel, [json.dumps(message).encode()], list(fds))


def receive(channel: socket.socket) -> Optional[Tuple[dict, List[int]]]:
    """The next packet and its descriptors; None at the end."""
    data, fds, _, _ = socket.recv_fds(channel, MAX_PACKET, MAX_FDS)
    if not data:
        for fd in fds:
            os.close(fd)
        return None
    return json.loads(data), fds


def hold_packets(key: int, tids, has_program: bool, address: int, sig_data: int):
    """The "hold" packets of one key: the events in chunks of what one packet carries, the
    program's descriptor with the last."""
    tids = list(tids)
    room = MAX_FDS - 1
    chunks = [tids[i:i + room] for i in range(0, len(tids), room)] or [[]]
    for index, chunk in enumerate(chunks):
        yield {"op": "hold", "key": key, "tids": chunk,
               "program": has_program and index == len(chunks) - 1,
               "address": address, "sig_data": sig_data}


def start(pid: int, random: bytes, tracer: Optional[int]) -> socket.socket:
    """A keeper for process `pid`, and the agent's end of its channel."""
    ours, its = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with its:
        subprocess.Popen([sys.executable, "-m", "gdb_plugin.agent.keeper", str(its.fileno()),
                          str(pid), random.hex(), str(tracer) if tracer is not None else "-"],
                         pass_fds=[its.fileno()], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    return ours


def close(channel: socket.socket) -> None:
    """The keeper closes its copies; once this returns, nothing it held is armed."""
    try:
        send(channel, {"op": "close"})
        channel.settimeout(CLOSE_WAIT)
        while receive(channel) is not None:  # its end of the channel closes as it ends
            pass
    except OSError:
        pass  # it has ended already, or did not in time (then it ends at the process's end)
    channel.close()


def adopt(pid: int, random: bytes) -> List[Tuple[dict, List[int]]]:
    """What the keeper of a predecessor that died holds for process `pid`: its hold packets
    and their descriptors, now this process's; none if there is no such keeper."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as keeper:
        try:
            keeper.connect(name_for(pid, random))
        except OSError:  # no keeper waits: nothing to adopt
            return []
        packets = []
        while True:
            packet = receive(keeper)
            if packet is None or packet[0]["op"] == "end":
                return packets
            packets.append(packet)


class Keeper:
    """The keeper process: holds, hands over to a successor, or closes."""

    def __init__(self, channel: socket.socket, name: bytes, pid: int, tracer: Optional[int]):
        self.channel = channel
        self.name = name
        self.held: Dict[int, List[Held]] = {}
        self._lock = threading.Lock()  # the tracer's watch disables events from its thread
        self._watches = [ExitWatch(pid, self._process_exited)]
        if tracer is not None:
            self._watches.append(ExitWatch(tracer, self._disable_events))

    def run(self) -> None:
        while True:
            packet = receive(self.channel)
            if packet is None:
                return self._await_successor()
            message, fds = packet
            with self._lock:
                if message["op"] == "hold":
                    self.held.setdefault(message["key"], []).append((message, fds))
                elif message["op"] == "drop":
                    self._close(self.held.pop(message["key"], []))
            if message["op"] == "close":
                return self._end()

    def _await_successor(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            listener.bind(self.name)
        except OSError:  # another keeper of the process waits already: it serves
            return self._end()
        listener.listen(1)
        ready, _, _ = select.select([listener], [], [], ADOPT_WAIT)
        while ready:
            successor, _ = listener.accept()
            with successor:
                if _peer_uid(successor) == os.getuid():
                    for packets in self.held.values():
                        for message, fds in packets:
                            send(successor, message, fds)
                    send(successor, {"op": "end"})
                    break
            ready, _, _ = select.select([listener], [], [], ADOPT_WAIT)
        listener.close()
        self._end()

    def _disable_events(self) -> None:
        with self._lock:
            for packets in self.held.values():
                for message, fds in packets:
                    for fd in fds[:len(message.get("tids", []))]:
                        try:
                            syscalls.ioctl(fd, syscalls.PERF_EVENT_IOC_DISABLE, 0,
                                           operation="PERF_EVENT_IOC_DISABLE")
                        except KernelError:
                            pass

    def _process_exited(self) -> None:
        self._end()

    def _end(self) -> None:
        with self._lock:
            for packets in self.held.values():
                self._close(packets)
        os._exit(0)  # the exit watches' threads too

    @staticmethod
    def _close(packets) -> None:
        for _, fds in packets:
            for fd in fds:
                os.close(fd)


def _peer_uid(connection: socket.socket) -> int:
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                        struct.calcsize("3i"))
    return struct.unpack("3i", credentials)[1]


def main(argv) -> int:
    channel_fd, pid, random_hex, tracer = argv
    channel = socket.socket(fileno=int(channel_fd))
    Keeper(channel, name_for(int(pid), bytes.fromhex(random_hex)), int(pid),
           int(tracer) if tracer != "-" else None).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
