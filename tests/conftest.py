import pytest

from harness.kernel import require_kernel_tier


@pytest.fixture
def kernel_tier():
    """Skips the test (or fails it, with HBREAK_IF_REQUIRE_KERNEL=1) unless the kernel tier works."""
    return require_kernel_tier()


def pytest_collection_modifyitems(items):
    # A test that asks for the kernel is a kernel test, so `-m "not kernel"` deselects it.
    for item in items:
        if "kernel_tier" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kernel)
