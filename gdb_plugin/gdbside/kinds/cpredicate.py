"""`hbreak-if -c LOCATION C-PREDICATE`: a code breakpoint whose predicate is C built by BCC
(gdb_plugin.cpred), the same program at every address, instead of a GDB condition."""
from typing import Dict, List, Optional

import gdb

from .. import passing
from .code import CodeBreakpoint


class CPredicateBreakpoint(CodeBreakpoint):
    needs_local_kernel = True
    kernel_counts_ignores = False  # GDB re-decides its hits: it keeps the count

    def options(self, bp) -> List[str]:
        return ["-c"]

    def condition_text(self, bp) -> Optional[str]:
        return bp.c_predicate.text

    def info_lines(self, bp) -> List[str]:
        pred = bp.c_predicate
        return [f"C predicate ({pred.kind}): {pred.text}",
                f"compiled by BCC in {pred.build_seconds:.3f} s"
                f"{' (cached)' if pred.cached else ''}, {pred.insn_count} instructions"]

    def mi_extra(self, bp) -> Dict[str, object]:
        return {"c-predicate": bp.c_predicate.text}

    def program(self, bp):
        return bp.c_predicate  # the breakpoint owns it

    def settled(self, bp, address: int) -> bool:
        return True  # nothing of it is compiled at the address

    def retried(self, bp, thread) -> bool:
        """The C predicate stopped because the kernel could not read memory (a page the
        program has not touched yet).  GDB reads it, which brings the page in, and clears RF so
        that resuming runs into the same breakpoint again and the predicate decides on the real
        value."""
        address = bp.c_predicate.take_unreadable(thread.ptid[1])
        if address is None:
            return False
        try:
            gdb.selected_inferior().read_memory(address, 1)
        except gdb.MemoryError as error:
            gdb.write(f"hbreak-if {bp.number}: the C predicate read unreadable memory: "
                      f"{error}\n", gdb.STDERR)
            return False
        passing.run_into_again(thread)
        return True

    def take_condition(self, bp, condition: Optional[str]) -> bool:
        gdb.write(f"hbreak-if {bp.number} has a C predicate, which `condition` does not "
                  "change; delete it and set a new one with hbreak-if -c.\n", gdb.STDERR)
        return False

    def release(self, bp) -> None:
        bp.c_predicate.close()


C_PREDICATE = CPredicateBreakpoint()
