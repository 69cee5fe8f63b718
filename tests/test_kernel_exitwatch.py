"""ExitWatch: a callback from another thread the moment a process exits, and never after stop()."""
import subprocess
import threading

from gdb_plugin.kernel.exitwatch import ExitWatch


def test_calls_back_when_the_process_exits():
    child = subprocess.Popen(["sleep", "30"])
    called = threading.Event()
    watch = ExitWatch(child.pid, called.set)
    assert not called.wait(0.05)
    child.kill()
    assert called.wait(10)
    child.wait()
    watch.stop()


def test_calls_back_at_once_for_a_process_already_gone():
    child = subprocess.Popen(["true"])
    child.wait()  # reaped: no such pid any more
    called = threading.Event()
    watch = ExitWatch(child.pid, called.set)
    assert called.wait(10)
    watch.stop()


def test_no_call_after_stop():
    child = subprocess.Popen(["sleep", "30"])
    calls = []
    watch = ExitWatch(child.pid, lambda: calls.append(1))
    watch.stop()
    watch.stop()  # twice is harmless
    child.kill()
    child.wait()
    assert calls == []
