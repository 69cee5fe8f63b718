"""What kind of breakpoint an hbreak-if is, as one object each breakpoint holds (`bp.kind`).

The rest of the GDB layer asks the kind and never looks at which one it is: where the
breakpoint is, what its predicate is made of, what its stop says, how it describes itself,
and what it needs of the kernel.  As GDB's breakpoint.c has a class per kind of breakpoint
(code breakpoint, watchpoint) overriding re_set, check_status and print_it:

- code.py: `hbreak-if LOCATION CONDITION`, GDB resolving LOCATION (the base of the others);
- cpredicate.py: `hbreak-if -c`, a C predicate instead of a GDB condition;
- watch.py: `hwatch-if`, a data address fixed when it is set.

A kind holds no state: the breakpoint's own fields do (its tracker, WatchSpec or C predicate).
"""
