"""Benchmarks of hbreak-if against GDB's own conditional breakpoints (bench/run.sh)."""
