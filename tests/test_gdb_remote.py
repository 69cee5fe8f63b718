"""hbreak-if on remote targets: the kernel filters a process proven to be on this machine; any
other remote inferior gets GDB's own breakpoint with the condition (evaluated by gdbserver), and
no perf event is ever opened on a local process that merely has the remote pid's number."""
import re
import subprocess

from harness.gdb import run_gdb
from harness.gdbserver import IN_OWN_NAMESPACE, gdbserver, pipe
from harness.processes import PERF_EVENTS_HELD, end, wait_for_exit
from harness.programs import build
from harness.stops import stops
from test_gdb_lifecycle import hits

N = 3000
CONDITION = "i % 700 == 3"
EXPECTED = [3, 703, 1403, 2103, 2803]


def test_gdbserver_over_a_pipe_on_this_machine_gets_the_kernel_tier(kernel_tier):
    loop = build("loop")
    result = _checked(run_gdb(loop, [f"target remote {pipe(loop, [N])}", "hbreak-if target i == 2999",
                            "continue", "print i", "continue"]))
    assert "[kernel tier]" in result.stdout
    assert hits(result.stdout) == [(2, "target", "i=2999")]
    assert "(2,999 hits filtered in the kernel)" in result.stdout
    assert "exited normally" in result.stdout


PRINT_PERF_EVENTS = PERF_EVENTS_HELD + '\npython print("perf events", perf_events_held())'


def _checked(result):
    """gdbserver and a remote libc print warnings and missing sources on stderr; what must
    never be there is a Python traceback or a problem of hbreak-if's own."""
    assert result.returncode == 0, str(result)
    assert "Traceback" not in result.output and "hbreak-if:" not in result.stderr, str(result)
    return result


def _remote_stops(set_command, *program, options=("--once",), start="continue",
                  connect="target remote"):
    loop = build("loop")
    with gdbserver(*program, options=options) as server:
        found, result = stops(loop, set_command, args=[N], start=start, allow_errors=True,
                              setup=[f"{connect} {server.address}"])
    return found, _checked(result)


def test_gdbserver_in_its_own_pid_namespace_gets_gdbs_own_breakpoint(kernel_tier):
    loop = build("loop")
    ours, result = _remote_stops(f"hbreak-if target {CONDITION}", loop, N)
    gdbs, _ = _remote_stops(f"hbreak target if {CONDITION}", loop, N)
    assert ours == gdbs == EXPECTED
    assert "[remote tier]" in result.stdout
    assert "exited normally" in result.stdout
    assert "Traceback" not in result.output and "warning: hbreak-if" not in result.output


def test_extended_remote_run_in_a_namespace(kernel_tier):
    loop = build("loop")
    connect = f"set remote exec-file {loop}\ntarget extended-remote"
    ours, result = _remote_stops(f"hbreak-if target {CONDITION}", options=("--multi",),
                                 start="run", connect=connect)
    gdbs, _ = _remote_stops(f"hbreak target if {CONDITION}", options=("--multi",),
                            start="run", connect=connect)
    assert ours == gdbs == EXPECTED
    assert "exited normally" in result.stdout


def _children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return [int(child) for child in children.read().split()]


def test_extended_remote_attach_in_a_namespace_then_detach(kernel_tier, tmp_path):
    survivor, out = build("survivor"), tmp_path / "out"
    # Inside the namespace: the program (pid 2, waiting for `go`), then gdbserver as pid 1.
    start_program = ("sh", "-c", f'{survivor} 300000 {out} wait & exec "$@"', "sh")
    with gdbserver(options=("--multi",), prefix=start_program) as server:
        (unshare_child,) = _children(server.proc.pid)
        (program,) = _children(unshare_child)
        result = _checked(run_gdb(survivor, [f"target extended-remote {server.address}", "attach 2",
                                    "hbreak-if target i == 1000", "set var go = 1", "continue",
                                    "print i", "info hbreak-if", "detach"]))
        assert hits(result.stdout) == [(2, "target", "i=1000")]
        assert result.values()[1] == "1000"
        assert re.search(r"^2\s+y\s+remote\s", result.stdout, re.M), result.stdout
        wait_for_exit(program)
    assert out.read_text() == "finished 300000\n"


def test_remote_kill_and_temporary_and_ignore(kernel_tier):
    loop = build("loop")
    with gdbserver(loop, N) as server:
        result = _checked(run_gdb(loop, [f"target remote {server.address}",
                                f"hbreak-if -t -ignore 1 target {CONDITION}", "continue",
                                "print i", "info hbreak-if", "kill"]))
    assert hits(result.stdout) == [(2, "target", "i=703")]
    assert "No hbreak-if breakpoints." in result.stdout  # -t: deleted once it stopped
    assert "[Inferior 1 (process" in result.stdout and "killed]" in result.stdout


def test_a_local_process_with_the_remote_pid_is_never_touched(kernel_tier, tmp_path):
    """GDB runs in a pid namespace of its own where a copy of the same program, at the same
    addresses, has the pid gdbserver reports for the remote inferior: it must run on unharmed,
    and no perf event may be opened at all."""
    survivor = build("survivor")
    with gdbserver(survivor, N, tmp_path / "remote-out") as server:
        remote_pid = server.inferior_pid
        # Use up pids until the next one is remote_pid, then start the copy there.
        decoy = (f'while [ "$(sh -c \'echo $$\')" -lt {remote_pid - 1} ]; do :; done; '
                 f'setarch -R {survivor} 100000000000 {tmp_path / "decoy-out"} & '
                 f'echo "decoy pid $!"; exec "$@"')
        result = _checked(run_gdb(survivor, [
            f"target remote {server.address}", f"hbreak-if target {CONDITION}",
            'commands\nsilent\nprintf "STOP %d\\n", i\ncontinue\nend', "continue",
            PRINT_PERF_EVENTS,
            f"shell grep -E '^(State|TracerPid|SigPnd|ShdPnd)' /proc/{remote_pid}/status",
        ], prefix=(*IN_OWN_NAMESPACE, "sh", "-c", decoy, "sh")))
    assert f"decoy pid {remote_pid}" in result.stdout, result
    assert [int(s) for s in re.findall(r"^STOP (\d+)$", result.stdout, re.M)] == EXPECTED
    assert "perf events 0" in result.stdout
    state = dict(re.findall(r"^(\w+):\s+(.*)$", result.stdout, re.M))
    assert state["State"][0] in "RS", result  # running or sleeping: not killed, not a zombie
    assert state["TracerPid"] == "0"
    assert int(state["SigPnd"], 16) == int(state["ShdPnd"], 16) == 0


def test_hwatch_if_on_a_remote_program_is_gdbs_own_watchpoint(kernel_tier):
    loop = build("loop")
    each_stop = 'commands\nsilent\nprintf "STOP %d\\n", g_counter\ncontinue\nend'

    def watch_stops(set_command):
        # gdbserver (seen with Debian 13's, 1 run in 200 under load) sometimes reports a
        # watchpoint's trap as a plain SIGTRAP, for GDB's own watchpoints too: such a run
        # says nothing about hbreak-if and is made again.
        for _ in range(3):
            with gdbserver(loop, 400) as server:
                result = _checked(run_gdb(loop, [f"target remote {server.address}", "break main",
                                                 "continue", set_command, each_stop, "continue"]))
            if "Program received signal SIGTRAP" not in result.stdout:
                break
        return [int(v) for v in re.findall(r"^STOP (\d+)$", result.stdout, re.M)], result

    ours, result = watch_stops("hwatch-if g_counter $new % 50 == 7")
    gdbs, _ = watch_stops("watch -location g_counter if g_counter % 50 == 7")
    assert ours == gdbs == [7, 57, 107, 157, 207, 257, 307, 357]
    assert "GDB's own watchpoint 2 watches g_counter instead" in result.stdout


def test_gdbserver_killed_while_armed_leaves_its_attached_program_running(kernel_tier, tmp_path):
    """gdbserver over a pipe attached to a program of this machine (kernel tier), killed at a
    stop: the program runs on untraced while GDB still holds its events, and must finish."""
    survivor, out = build("survivor"), tmp_path / "out"
    program = subprocess.Popen([survivor, "300000", out, "wait"])
    kill_gdbserver_and_wait = f"""python
import os, re, select, signal
with open("/proc/{program.pid}/status") as status:
    tracer = int(re.search(r"^TracerPid:\\s+(\\d+)", status.read(), re.M)[1])
with open(f"/proc/{{tracer}}/comm") as comm:
    name = comm.read().strip()
if name == "gdbserver":
    os.kill(tracer, signal.SIGKILL)
    print("gdbserver killed")
else:
    print(f"the program's tracer is {{tracer}} ({{name}}), not gdbserver")
program = os.pidfd_open({program.pid})
print("program ended" if select.select([program], [], [], 30)[0] else "program still runs")
end"""
    try:
        result = _checked(run_gdb(survivor, [
            f"target remote | gdbserver --attach - {program.pid}",
            "hbreak-if target i % 1000 == 7", "set var go = 1", "continue", "print i",
            kill_gdbserver_and_wait], timeout=120))
        assert "[kernel tier]" in result.stdout, result
        assert "gdbserver killed" in result.stdout, result
        assert result.values()[1] == "7"
        assert "program ended" in result.stdout
        assert program.wait(timeout=60) == 0
    finally:
        end(program)
    assert out.read_text() == "finished 300000\n"


def test_threads_of_a_remote_program(kernel_tier):
    threads = build("threads")
    with gdbserver(threads, 1000) as server:
        result = _checked(run_gdb(threads, [f"target remote {server.address}",
                                            "hbreak-if work tid == 2 && i == 300", "continue",
                                            "print tid", "print i", "continue"]))
    assert hits(result.stdout) == [(2, "work", "tid=2, i=300")]
    assert result.values() == {1: "2", 2: "300"}
    assert "exited normally" in result.stdout


def test_more_remote_breakpoints_than_debug_registers(kernel_tier):
    """Four hardware breakpoints at most (x86): the fifth and sixth are software ones, and every
    one stops where its condition holds (six lines, each its own address)."""
    loop = build("loop")
    places = [(42, 100), (43, 600), (44, 1100), (45, 1600), (27, 2100), (28, 2600)]
    with gdbserver(loop, N) as server:
        result = _checked(run_gdb(loop, [f"target remote {server.address}",
                                         *[f"hbreak-if loop.c:{line} i == {value}"
                                           for line, value in places],
                                         *["continue\nprint i"] * len(places), "continue"]))
    functions = {42: "main", 43: "main", 44: "main", 45: "main", 27: "target", 28: "target"}
    stopped = re.findall(r"^hbreak-if (\d+), .*?(\w+) \(.*\) at .*:(\d+)$", result.stdout, re.M)
    assert stopped == [(str(n), functions[line], str(line))
                       for n, (line, _) in enumerate(places, 2)], str(result)
    assert list(result.values().values()) == [str(value) for _, value in places]
    assert "exited normally" in result.stdout
