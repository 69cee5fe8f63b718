"""Typed errors of raw C predicates.

Every failure of compile_c_predicate() is a CPredicateError whose str() is
the whole message for the user: the compiler's own diagnostics, the
verifier's verdict, or what to install.  Never a traceback.
"""

INSTALL_HINT = ("apt-get install python3-bpfcc (or ./install.sh --bcc from "
                "the hbreak-if checkout)")


class CPredicateError(Exception):
    """Base class: a raw C predicate could not be turned into a program."""

    @property
    def message(self):
        return str(self)


class BccUnavailable(CPredicateError):
    """BCC (python3-bpfcc) cannot be imported by this Python."""

    def __init__(self, reason):
        self.reason = reason
        super().__init__(
            "raw C predicates (hbreak-if -c) need BCC, which this Python "
            "cannot import (%s). Install it: %s" % (reason, INSTALL_HINT))


class HeadersUnavailable(CPredicateError):
    """No kernel headers BCC could compile against."""


class CompileError(CPredicateError):
    """clang rejected the predicate; str() is clang's diagnostics.

    Locations in the user's text read `predicate:LINE:COLUMN`, counted from
    the start of the text.  `line`/`column` are those of the first error in
    the user's text (None if the first error is elsewhere, e.g. in a header
    macro the text used), `diagnostics` is the full compiler output and
    `c_source` the generated file.  A `hint` of ours, if any, follows the
    diagnostics on a line of its own.
    """

    def __init__(self, diagnostics, line=None, column=None, c_source="", hint=None):
        self.diagnostics = diagnostics
        self.line = line
        self.column = column
        self.c_source = c_source
        self.hint = hint
        super().__init__(diagnostics + ("\n" + hint if hint else ""))

    def with_hint(self, hint):
        return CompileError(self.diagnostics, self.line, self.column, self.c_source, hint)


class LoadError(CPredicateError):
    """The kernel refused the compiled program (verifier, permissions).

    `cause` is the kernel layer's KernelError (VerifierRejected with the
    full `log`, PermissionDenied, ...), `errno` its errno.
    """

    def __init__(self, cause):
        self.cause = cause
        self.errno = getattr(cause, "errno", None)
        self.log = getattr(cause, "log", "")
        super().__init__(str(cause))
