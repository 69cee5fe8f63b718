"""Raw C predicates (`hbreak-if -c LOCATION 'C'`), compiled with BCC (optional).

For conditions GDB's expression language cannot say: a bounded loop over a
buffer, a string compare, state across hits.  The text is an expression or
a function body (bpfprogs/README.md); it may use the helpers of
bpfprogs/hbreak_if.h (REG(rdi), ARG(1), read_user, load_user, str_eq_user,
STATE, STATE_INC, STATE_BY).

    pred = compile_c_predicate('str_eq_user(ARG(1), "needle")', 3)
    perf_breakpoint.attach_bpf(pred)      # or pred.fd
    ...
    pred.close()

No gdb here, and bcc is imported on the first compile only, so the rest of
hbreak-if works without it.  Modules:
  source    the user's text -> the C file (expression/body, #line mapping)
  headers   which kernel headers BCC uses; the stand-in in bpfprogs/kernel
  predicate compile, load, cache; CPredicate (its maps: gdb_plugin.kernel.maps)
  errors    CPredicateError and its subclasses
"""
from .errors import (BccUnavailable, CompileError, CPredicateError, HeadersUnavailable,
                     LoadError)
from .predicate import (CPredicate, bcc_status, cache_size, clear_cache,
                        compile_c_predicate)
from .source import BODY, EXPRESSION, classify

__all__ = [
    "BODY", "BccUnavailable", "CPredicate", "CPredicateError", "CompileError", "EXPRESSION",
    "HeadersUnavailable", "LoadError", "bcc_status", "cache_size", "classify",
    "clear_cache", "compile_c_predicate",
]
