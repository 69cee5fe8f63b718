"""Gate for tests that need the kernel tier (perf breakpoints whose BPF predicate suppresses hits)."""

import os

import pytest


def require_kernel_tier():
    """Return the probe report if the kernel tier is available; otherwise skip the test, or fail
    it when HBREAK_IF_REQUIRE_KERNEL=1 (CI, where a missing tier is a regression)."""
    required = os.environ.get("HBREAK_IF_REQUIRE_KERNEL") == "1"
    try:
        # Imported here so the harness works before (or without) the kernel package.
        from gdb_plugin.kernel.probe import probe
        report = probe()
    except Exception as exc:  # noqa: BLE001 - any failure means "no kernel tier"
        reasons = [f"probe unavailable: {type(exc).__name__}: {exc}"]
        tier = None
    else:
        if report.tier == "kernel":
            return report
        reasons, tier = list(report.reasons), report.tier
    message = f"kernel tier unavailable (tier: {tier}): " + "; ".join(reasons or ["no reason given"])
    if required:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
