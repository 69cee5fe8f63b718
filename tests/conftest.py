import os

import pytest

from harness.kernel import require_kernel_tier, skip_tier_beyond_expected


@pytest.fixture
def kernel_tier(request):
    """Skips the test (or fails it, with HBREAK_IF_REQUIRE_KERNEL=1) unless the kernel tier works.
    With HBREAK_IF_EXPECT_TIER=<tier>, requires that tier instead, and skips a parametrized
    `tier` the machine cannot give."""
    report = require_kernel_tier()
    callspec = getattr(request.node, "callspec", None)
    skip_tier_beyond_expected(callspec.params.get("tier") if callspec else None)
    return report


@pytest.fixture(scope="session")
def bcc():
    """Skips the test (or fails it, with HBREAK_IF_REQUIRE_BCC=1) unless BCC can be imported."""
    from gdb_plugin.cpred import bcc_status
    ok, why = bcc_status()
    if not ok:
        if os.environ.get("HBREAK_IF_REQUIRE_BCC") == "1":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    return why


def pytest_collection_modifyitems(items):
    # A test that asks for the kernel is a kernel test, so `-m "not kernel"` deselects it.
    for item in items:
        if "kernel_tier" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kernel)
