"""Why a condition, or a part of it, cannot run in the kernel.

Every message is a sentence a user can act on; the GDB layer shows it as is.
"""


class CompileError(ValueError):
    """A condition (or one part of it) cannot be compiled to eBPF."""


class AxUnavailable(CompileError):
    """GDB refused to compile an expression to an agent expression.

    Raised by the injected `agent_eval` callable; `gdb_error` is GDB's own
    message (e.g. "Cannot translate to agent expression").
    """

    def __init__(self, gdb_error: str):
        super().__init__(gdb_error)
        self.gdb_error = gdb_error


class AxFormatError(CompileError):
    """The text printed by `maint agent-eval` is not a listing we understand."""


class UnsupportedAx(CompileError):
    """The agent expression uses an operation or register eBPF cannot evaluate."""


class ConditionSyntaxError(CompileError):
    """The condition text could not be tokenized or parsed."""

    def __init__(self, message: str, position: int):
        super().__init__(f"{message} (at column {position + 1})")
        self.position = position
