"""Shared test harness: build the C programs in tests/programs, run gdb on them, gate kernel tests."""

from harness.gdb import GdbError, GdbResult, run_gdb
from harness.kernel import require_kernel_tier
from harness.programs import build, build_shared

__all__ = ["GdbError", "GdbResult", "build", "build_shared", "require_kernel_tier", "run_gdb"]
