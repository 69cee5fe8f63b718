"""The hbreak-if agent: the target side of a remote program's kernel-filtered breakpoints.

It runs beside gdbserver on the target, started by GDB through the command set with
`set hbreak-if remote-agent`, for example

    ssh HOST python3 -m gdb_plugin.agent
    nsenter --target PID --pid --mount python3 -m gdb_plugin.agent    (a container)

and speaks with GDB over its stdin and stdout (protocol.py).  For the process gdbserver
debugs it loads the eBPF predicates GDB compiled, opens the perf breakpoints on every thread,
attaches the predicates and reads their counters (server.py).  It needs Python's standard
library only, and the same kernel privileges as hbreak-if needs beside GDB.

Security model:
  * No port is opened: whoever speaks to the agent has run a command on the target as its
    user already.  With --listen (a VM's or a board's forwarded port, where no command can
    be run) it serves whoever connects: on 127.0.0.1 unless told otherwise, and guarded as
    gdbserver's own port must be.
  * The agent arms one process, and only once it has proven that it is the one GDB debugs:
    the pid gdbserver reported names a process of the agent's own pid namespace whose 16
    AT_RANDOM bytes (random per process, chosen by the kernel) are where and what GDB read
    through gdbserver (target.py).
  * Reading /proc/PID/mem and opening perf events on another process are subject to the
    kernel's ptrace access checks: the agent can act only on processes its own user could
    ptrace, whatever GDB asks.
  * It loads self-contained predicates only: an instruction naming a map or another kernel
    object by descriptor would name one of the agent's; the one exception is its own mailbox,
    named by a number no descriptor has (protocol.MAILBOX).
  * Everything it arms is held by its own descriptors and by copies in its keeper
    (keeper.py), which outlive an agent that dies unasked until a successor of the same user
    adopts them (60 s at most): it closes all when GDB says goodbye, when its input ends, or
    when the process exits.  When the process's tracer exits, its events are disabled at
    once: the process then runs untraced, and a hit that should stop it would kill it with
    SIGTRAP.
"""
