"""Which iterations a breakpoint stops at: GDB's own conditional breakpoint against hbreak-if."""
import re

from harness.gdb import run_gdb

_STOP = re.compile(r"^STOP (.*)$", re.M)


def _on_each_stop(printf_args):
    return f'commands\nsilent\nprintf "STOP %d\\n", {printf_args}\ncontinue\nend'


def stops(binary, set_command, printf_args="i", args=(), setup=(), timeout=120, start="run",
          allow_errors=False):
    """Run to the end, with `set_command` creating the breakpoint; the values printed at each
    stop.  `start` sets the program going (`continue` where `setup` connected to a target)."""
    result = run_gdb(binary, [*setup, set_command, _on_each_stop(printf_args), start],
                     args=args, timeout=timeout)
    result.check(allow_errors)
    return [int(v) for v in _STOP.findall(result.stdout)], result


def gdb_stops(binary, location, condition, **kwargs):
    return stops(binary, f"break {location} if {condition}", **kwargs)[0]


def hbreak_if_stops(binary, location, condition, **kwargs):
    return stops(binary, f"hbreak-if {location} {condition}", **kwargs)
