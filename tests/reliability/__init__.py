"""Helpers of the reliability suites (tests/test_reliability_*.py): condition generators, the
GDB-side drivers they run inside GDB, the differential comparison, bad-input checks, the soak
and the GDB-killed experiment, and the long profile (long.py)."""
