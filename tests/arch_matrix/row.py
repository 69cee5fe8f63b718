"""One row of the arch matrix, run inside the guest: the kernel matrix's row (tests/kernel_matrix/
suite.py: the tier probe, the tier-sensitive GDB tests with the differential subset, the per-hit
cost) on this machine's architecture and kernel, printed as one `ARCH-ROW <json>` line.

    python3 tests/arch_matrix/row.py [--expect TIER]

The tests run with the repository's virtualenv (its packages are pure Python, and its
interpreter is the guest's /usr/bin/python3).
"""
import argparse
import json
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "kernel_matrix"))

import suite  # noqa: E402

# The GDB-level tests that hold on every tier (the kernel-level ones would arm events whose
# signals AArch64 cannot pass: RESULTS.md; the scale ones want the kernel tiers in threaded
# programs, which AArch64 gives to GDB), the architecture's own, and the ptrace tier's.
TESTS = [test for test in suite.FULL_TESTS
         if not test.startswith(("tests/test_kernel_", suite.SCALE))] + [
    "tests/test_arch.py",
    "tests/arch_matrix/aarch64_checks.py",
    "tests/test_gdb_breakpoint.py::test_the_ptrace_tier_is_gdbs_own_conditional_breakpoint",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expect", default="kernel",
                        help="the tier the probe must report (matrix.py: kernel-signal on 6.1, "
                             "kernel on 6.12)")
    args = parser.parse_args()
    os.environ.setdefault("HBREAK_IF_BUILD", "/tmp/hbreak-if-build")  # the repo is read-only
    os.environ.setdefault("HBREAK_IF_TIMEOUT_SCALE", "5")  # GDB under TCG, as the kernel matrix
    # The virtualenv's hypothesis has an x86-64 extension; these tests do not use it.
    os.environ.setdefault("PYTEST_ADDOPTS", "-p no:hypothesispytest")
    result = suite.row("root", args.expect, workers=2, cost=True, cost_target_s=2.0,
                       cost_repeats=1, echo=print, selection=TESTS)
    result["arch"] = platform.machine()
    print("ARCH-ROW " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
