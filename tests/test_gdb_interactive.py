"""An interactive session, typed at GDB's prompt as a user would: set, hit, info, continue,
disable, enable, delete."""
import re

import pexpect

from harness.paths import GDB, PLUGIN
from harness.programs import build

PROMPT = r"\(gdb\) "
_TERMINAL_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def test_interactive_session(kernel_tier):
    loop = build("loop")
    gdb = pexpect.spawn(GDB, ["-nx", "-q", "-iex", "set style enabled off", "-x", str(PLUGIN),
                              "--args", str(loop), "1000"],
                        encoding="utf-8", timeout=30, dimensions=(50, 200))
    transcript = []

    def type_(command, *expected):
        gdb.sendline(command)
        gdb.expect(PROMPT)
        screen = _TERMINAL_CONTROL.sub("", gdb.before)
        transcript.append(f"(gdb) {screen}")
        for pattern in expected:
            assert re.search(pattern, screen, re.M), "".join(transcript)
        return screen

    try:
        gdb.expect(PROMPT)
        type_("hbreak-if target i % 400 == 0", r"^hbreak-if 2 at 0x[0-9a-f]+: file .*loop\.c, line \d+ \[kernel tier\]")
        type_("run", r"^hbreak-if 2, target \(i=0\) at .*loop\.c:\d+")
        type_("info hbreak-if", r"^2\s+y\s+kernel\s+1\s+1\s+1\s+target at",
              r"^\s+condition: i % 400 == 0")
        type_("continue", r"^hbreak-if 2, target \(i=400\)",
              r"^\(399 hits filtered in the kernel\)")
        type_("disable 2")
        type_("info hbreak-if", r"^2\s+n\s+kernel\s+401\s+2")
        type_("continue", r"\[Inferior 1 \(process \d+\) exited normally\]")
        type_("enable 2")
        type_("run", r"^hbreak-if 2, target \(i=0\)")
        type_("delete 2")
        type_("continue", r"exited normally")
        type_("info hbreak-if", r"^No hbreak-if breakpoints\.")
        gdb.sendline("quit")
        gdb.expect(pexpect.EOF)
    finally:
        gdb.close(force=True)
    assert "Traceback" not in "".join(transcript)
