"""python3 -m gdb_plugin.agent [--listen [HOST:]PORT | --connect HOST:PORT]

With no option, serve GDB on stdin and stdout until either ends: the command for
`set hbreak-if remote-agent` (through ssh, nsenter, ...).
--listen   serve GDB over TCP instead, each connection a conversation of its own, on
           127.0.0.1 unless HOST says otherwise (for a VM or a board whose port a host
           forwards; anyone who can connect can ask the agent what GDB can: guard it as
           gdbserver's own port).
--connect  relay stdin and stdout to an agent listening there: the command for
           `set hbreak-if remote-agent` on GDB's side.
"""
import argparse
import os
import selectors
import socket
import sys
import threading

from .server import Agent

LOCALHOST = "127.0.0.1"


def _address(text: str, default_host=None):
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not (host or default_host):
        raise argparse.ArgumentTypeError(f"{text!r} is not [HOST:]PORT")
    return host or default_host, int(port)


def _serve_stdio() -> None:
    # The protocol keeps its own copy of stdout, and descriptor 1 becomes stderr: nothing
    # else written to stdout (a warning, a library's print) can break a line GDB reads.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    with answers:
        Agent().serve(sys.stdin.buffer, answers)


def _serve_connection(connection: socket.socket) -> None:
    with connection, connection.makefile("rb") as requests, connection.makefile("wb") as answers:
        Agent().serve(requests, answers)


def _listen(host: str, port: int) -> None:
    with socket.create_server((host, port), reuse_port=False) as server:
        bound = server.getsockname()
        print(f"hbreak-if agent: listening on {bound[0]}:{bound[1]}", file=sys.stderr,
              flush=True)
        while True:
            connection, _ = server.accept()
            threading.Thread(target=_serve_connection, args=(connection,), daemon=True).start()


def _relay(host: str, port: int) -> None:
    """Bytes both ways until either side ends; then the other is told (half close)."""
    with socket.create_connection((host, port)) as connection:
        selector = selectors.DefaultSelector()
        selector.register(sys.stdin.buffer, selectors.EVENT_READ, "stdin")
        selector.register(connection, selectors.EVENT_READ, "agent")
        while True:
            for key, _ in selector.select():
                if key.data == "stdin":
                    data = os.read(sys.stdin.fileno(), 65536)
                    if not data:
                        connection.shutdown(socket.SHUT_WR)
                        selector.unregister(sys.stdin.buffer)
                        continue
                    connection.sendall(data)
                else:
                    data = connection.recv(65536)
                    if not data:
                        return
                    os.write(sys.stdout.fileno(), data)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m gdb_plugin.agent",
                                     description=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--listen", type=lambda text: _address(text, LOCALHOST),
                     metavar="[HOST:]PORT")
    how.add_argument("--connect", type=_address, metavar="HOST:PORT")
    args = parser.parse_args(argv)
    try:
        if args.listen:
            _listen(*args.listen)
        elif args.connect:
            _relay(*args.connect)
        else:
            _serve_stdio()
    except OSError as error:
        print(f"hbreak-if agent: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
