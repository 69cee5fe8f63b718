"""python3 -m gdb_plugin.agent: serve GDB on stdin and stdout until either ends."""
import os
import sys

from .server import Agent


def main() -> int:
    # The protocol keeps its own copy of stdout, and descriptor 1 becomes stderr: nothing
    # else written to stdout (a warning, a library's print) can break a line GDB reads.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    with answers:
        Agent().serve(sys.stdin.buffer, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
