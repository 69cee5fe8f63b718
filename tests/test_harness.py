"""The harness itself: programs build at every optimisation level and plain GDB can debug them."""

import pytest

from harness import build, build_shared, run_gdb

pytestmark = pytest.mark.gdb


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
def test_plain_gdb_conditional_break(opt):
    exe = build("loop", opt)
    result = run_gdb(exe, ["break target if i == 7", "run", "print i"], plugin=False).check()
    assert "$1 = 7" in result.lines(), str(result)


def test_threads_run_to_exit():
    result = run_gdb(build("threads"), ["run"], args=["100"], plugin=False).check()
    result.expect("exited normally")


def test_build_is_cached():
    assert build("loop") == build("loop")
    assert build("loop", "-O2") != build("loop")


@pytest.mark.parametrize("name", ["forker", "execer"])
def test_other_programs_run(name):
    run_gdb(build(name), ["run"], plugin=False).check().expect("exited normally")


def test_shared_library_breakpoint_pending():
    lib = build_shared("lib")
    result = run_gdb(build("shlib"), ["set breakpoint pending on", "break lib_target if i == 3",
                                      "run", "print i"], args=[lib], plugin=False)
    # A pending breakpoint is announced on stderr with `Function "lib_target" not defined.`
    result.check(allow_errors=True)
    assert result.values().get(1) == "3", str(result)
