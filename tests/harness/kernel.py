"""Gate for tests that need the kernel tier (perf breakpoints whose BPF predicate suppresses hits)."""

import os

import pytest


# Weakest first. HBREAK_IF_EXPECT_TIER=<tier> (set by tests/kernel_matrix on older kernels and
# without BPF privileges) makes the tier-agnostic kernel tests run on that tier instead.
TIERS = ("ptrace", "kernel-signal", "kernel")


def expected_tier():
    return os.environ.get("HBREAK_IF_EXPECT_TIER") or None


def skip_tier_beyond_expected(tier):
    """Skip a test that forces `tier` when the expected tier is weaker (the kernel cannot do it)."""
    expected = expected_tier()
    tier_needs = {"uprobe": "kernel-signal"}.get(tier, tier)  # a BPF program that signals
    if expected and tier_needs in TIERS and TIERS.index(tier_needs) > TIERS.index(expected):
        pytest.skip(f"the {tier} tier is beyond this machine's expected {expected} tier")


def require_kernel_tier():
    """Return the probe report if the kernel tier is available; otherwise skip the test, or fail
    it when HBREAK_IF_REQUIRE_KERNEL=1 (CI, where a missing tier is a regression).
    With HBREAK_IF_EXPECT_TIER set, the probe must report exactly that tier, or the test fails."""
    expected = expected_tier()
    if expected is not None and expected not in TIERS:
        pytest.fail(f"HBREAK_IF_EXPECT_TIER={expected!r} is not one of {', '.join(TIERS)}",
                    pytrace=False)
    required = os.environ.get("HBREAK_IF_REQUIRE_KERNEL") == "1" or expected is not None
    try:
        # Imported here so the harness works before (or without) the kernel package.
        from gdb_plugin.kernel.probe import probe
        report = probe()
    except Exception as exc:  # noqa: BLE001 - any failure means "no kernel tier"
        reasons = [f"probe unavailable: {type(exc).__name__}: {exc}"]
        tier = None
    else:
        if report.tier == (expected or "kernel"):
            return report
        reasons, tier = list(report.reasons), report.tier
    why = "; ".join(reasons or ["no reason given"])
    if expected:
        message = f"HBREAK_IF_EXPECT_TIER={expected}, but the probe says {tier}: {why}"
    else:
        message = f"kernel tier unavailable (tier: {tier}): {why}"
    if required:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
