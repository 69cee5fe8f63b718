"""The agent beside gdbserver: a remote program's hits filtered by its own machine's kernel.

gdbserver runs in a pid and mount namespace of its own (what a container or another machine
looks like from GDB's side); the agent is started by GDB inside that namespace with nsenter,
as a user would start it with ssh, and proves which process it arms by the AT_RANDOM bytes."""
import os
import re
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pexpect
import pytest

from harness.gdb import run_gdb
from harness.gdbserver import gdbserver
from harness.paths import GDB, PLUGIN
from harness.processes import wait_for_exit
from harness.programs import build
from harness.stops import stops
from test_gdb_lifecycle import hits

REPO = Path(__file__).resolve().parent.parent
N = 3000
CONDITION = "i % 700 == 3"
PROMPT = r"\(gdb\) "
EXPECTED = [3, 703, 1403, 2103, 2803]


def _namespace_of(server):
    """The host pid of the gdbserver inside the namespace (unshare's only child)."""
    (gdbserver_pid,) = _children(server.proc.pid)
    return gdbserver_pid


def _children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return [int(child) for child in children.read().split()]


def _agent_in(server, python="/usr/bin/python3"):
    return (f"nsenter --target {_namespace_of(server)} --pid --mount --root "
            f"env PYTHONPATH={REPO} {python} -m gdb_plugin.agent")


def _checked(result):
    assert result.returncode == 0, str(result)
    assert "Traceback" not in result.output, str(result)
    return result


def _agent_stops(set_command, agent=None, tier="kernel"):
    """The iterations a breakpoint set on a remote program stops at, and GDB's output;
    `agent(server)` gives the agent command, if any."""
    loop = build("loop")
    with gdbserver(loop, N) as server:
        setup = [f"target remote {server.address}", *_forcing(tier)]
        if agent is not None:
            setup.append(f"set hbreak-if remote-agent {agent(server)}")
        found, result = stops(loop, set_command, args=[N], start="continue", allow_errors=True,
                              setup=setup)
    return found, _checked(result)


def test_the_agent_filters_a_remote_program_in_its_kernel(kernel_tier):
    loop = build("loop")
    with gdbserver(loop, N) as server:
        result = _checked(run_gdb(loop, [
            f"target remote {server.address}", f"set hbreak-if remote-agent {_agent_in(server)}",
            "hbreak-if target i == 2999", "continue", "print i", "info hbreak-if", "continue"]))
    assert "[remote-kernel tier]" in result.stdout, result
    assert hits(result.stdout) == [(2, "target", "i=2999")]
    assert result.values()[1] == "2999"
    assert "(2,999 hits filtered in the kernel)" in result.stdout, result
    assert re.search(r"^2\s+y\s+remote-kernel\s", result.stdout, re.M), result.stdout
    assert f"armed by the agent on {os.uname().nodename} beside gdbserver" in result.stdout
    assert "exited normally" in result.stdout


def _forcing(tier):
    """The kernel-signal tier is the one kernels before 6.10 give; forced on later ones."""
    return ["set hbreak-if tier kernel-signal"] if tier == "kernel-signal" else []


@pytest.mark.parametrize("tier", ["kernel", "kernel-signal"])
def test_the_agent_stops_where_gdbs_own_breakpoint_does(kernel_tier, tier):
    ours, result = _agent_stops(f"hbreak-if target {CONDITION}", agent=_agent_in, tier=tier)
    gdbs, _ = _agent_stops(f"hbreak target if {CONDITION}")
    assert ours == gdbs == EXPECTED
    assert f"[remote-{tier} tier]" in result.stdout, result
    assert "hbreak-if:" not in result.output, result
    assert "Program received signal" not in result.stdout, result


def test_an_agent_that_cannot_start_leaves_gdbs_own_breakpoint(kernel_tier):
    ours, result = _agent_stops(f"hbreak-if target {CONDITION}",
                                agent=lambda server: "/nonexistent/agent")
    assert ours == EXPECTED
    assert "the remote agent cannot serve process" in result.stderr, result
    assert "cannot start `/nonexistent/agent`" in result.stderr
    assert "[remote tier]" in result.stdout


def test_an_agent_outside_the_namespace_arms_nothing_it_cannot_prove(kernel_tier):
    """Started on the host, the agent sees another process (or none) under the pid gdbserver
    reported: the AT_RANDOM evidence does not match, and GDB's own breakpoint serves."""
    outside = f"env PYTHONPATH={REPO} /usr/bin/python3 -m gdb_plugin.agent"
    ours, result = _agent_stops(f"hbreak-if target {CONDITION}", agent=lambda server: outside)
    assert ours == EXPECTED
    assert "the remote agent cannot serve process" in result.stderr, result
    assert "[remote tier]" in result.stdout


@contextmanager
def _listening_agent(server):
    """An agent listening on a TCP port of this machine, in gdbserver's pid namespace (what a
    VM's forwarded port reaches); the command that relays to it."""
    argv = ["nsenter", "--target", str(_namespace_of(server)), "--pid", "--mount", "--root",
            "env", f"PYTHONPATH={REPO}", "/usr/bin/python3", "-m", "gdb_plugin.agent",
            "--listen", "0"]
    agent = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        said = agent.stderr.readline()
        port = re.search(r"listening on 127\.0\.0\.1:(\d+)$", said.strip())
        assert port, said
        yield (f"env PYTHONPATH={REPO} /usr/bin/python3 -m gdb_plugin.agent "
               f"--connect 127.0.0.1:{port.group(1)}")
    finally:
        os.killpg(agent.pid, signal.SIGKILL)
        agent.wait()


@pytest.mark.parametrize("tier", ["kernel", "kernel-signal"])
def test_extended_remote_run_through_an_agent_listening_on_a_port(kernel_tier, tier):
    """`run` on extended-remote (the first thread is reported before GDB can read the
    process), with the agent reached through the relay, one conversation after the other;
    the breakpoint, set before, moves to the agent's tier before anything is armed."""
    loop = build("loop")
    with gdbserver(options=("--multi",)) as server, _listening_agent(server) as relay:
        for _ in range(2):
            result = _checked(run_gdb(loop, [
                *_forcing(tier), f"target extended-remote {server.address}",
                f"set remote exec-file {loop}", f"set hbreak-if remote-agent {relay}",
                "hbreak-if target i == 2999", "run", "print i", "info hbreak-if", "continue"],
                args=[N]))
            assert hits(result.stdout) == [(2, "target", "i=2999")], result
            assert result.values()[1] == "2999"
            assert re.search(rf"^2\s+y\s+remote-{tier}\s", result.stdout, re.M), result.stdout
            assert "(2,999 hits filtered in the kernel)" in result.stdout, result
            assert "exited normally" in result.stdout


@pytest.mark.parametrize("tier", ["kernel", "kernel-signal"])
def test_a_condition_changed_at_a_stop_is_armed_through_the_agent(kernel_tier, tier):
    loop = build("loop")
    with gdbserver(loop, N) as server:
        result = _checked(run_gdb(loop, [
            f"target remote {server.address}", *_forcing(tier),
            f"set hbreak-if remote-agent {_agent_in(server)}", "hbreak-if target i == 5",
            "continue", "condition 2 i == 2500", "continue", "info hbreak-if", "continue"]))
    assert hits(result.stdout) == [(2, "target", "i=5"), (2, "target", "i=2500")], result
    assert re.search(rf"^2\s+y\s+remote-{tier}\s", result.stdout, re.M), result.stdout
    assert "(2,494 hits filtered in the kernel)" in result.stdout, result
    assert "exited normally" in result.stdout


@pytest.mark.parametrize("tier", ["kernel", "kernel-signal"])
def test_threads_created_later_are_armed_by_the_agent(kernel_tier, tier):
    threads = build("threads")
    with gdbserver(threads, 1000) as server:
        result = _checked(run_gdb(threads, [
            f"target remote {server.address}", *_forcing(tier),
            f"set hbreak-if remote-agent {_agent_in(server)}",
            "hbreak-if work tid == 2 && i == 300", "continue", "print tid", "print i",
            "continue"]))
    assert f"[remote-{tier} tier]" in result.stdout, result
    assert hits(result.stdout) == [(2, "work", "tid=2, i=300")]
    assert result.values() == {1: "2", 2: "300"}
    assert "exited normally" in result.stdout


def test_ignore_count_and_temporary_through_the_agent(kernel_tier):
    """The kernel of this machine cannot count for the target's: GDB counts the ignored
    matches, which the target's kernel lets through."""
    ours, result = _agent_stops(f"hbreak-if -ignore 2 target {CONDITION}", agent=_agent_in)
    assert ours == EXPECTED[2:]
    assert "[remote-kernel tier]" in result.stdout, result


# GDB, and with it the agent, stays until the program ends: closing the agent's pipe would
# release the events too.
_WAIT_FOR_EXIT = """python
import os, select
program = os.pidfd_open({pid})
print("program ended" if select.select([program], [], [], 60)[0] else "program still runs")
end"""


def test_detach_releases_what_the_agent_armed(kernel_tier, tmp_path):
    """After `detach` the program runs on untraced through matching hits: had the agent kept
    its events, the next match would kill it with SIGTRAP."""
    survivor, out = build("survivor"), tmp_path / "out"
    start_program = ("sh", "-c", f'{survivor} 300000 {out} wait & exec "$@"', "sh")
    with gdbserver(options=("--multi",), prefix=start_program) as server:
        (program,) = [int(pid) for pid in open(
            f"/proc/{_namespace_of(server)}/task/{_namespace_of(server)}/children").read().split()]
        result = _checked(run_gdb(survivor, [
            f"target extended-remote {server.address}", "attach 2",
            f"set hbreak-if remote-agent {_agent_in(server)}",
            "hbreak-if target i % 1000 == 7", "set var go = 1", "continue", "print i",
            "info hbreak-if", "detach", _WAIT_FOR_EXIT.format(pid=program)]))
        assert hits(result.stdout) == [(2, "target", "i=7")]
        assert "program ended" in result.stdout, result
        assert re.search(r"^2\s+y\s+remote-kernel\s", result.stdout, re.M), result.stdout
        wait_for_exit(program)
    assert out.read_text() == "finished 300000\n"


@pytest.mark.parametrize("mode,child_value", [("parent", "0"), ("child", "1")])
def test_fork_is_followed_and_the_other_process_survives(kernel_tier, tmp_path, mode,
                                                         child_value):
    """The first call matches: had the process GDB lets go kept its events, it would die."""
    forker, out = build("forker"), tmp_path / "out"
    with gdbserver(forker, 10, out) as server:
        (parent,) = _children(_namespace_of(server))
        result = _checked(run_gdb(forker, [
            f"target remote {server.address}", f"set hbreak-if remote-agent {_agent_in(server)}",
            f"set follow-fork-mode {mode}", "hbreak-if target i == 0", "continue",
            "print g_child", "info hbreak-if", "continue"]))
        assert hits(result.stdout) == [(2, "target", "i=0")]
        assert result.values()[1] == child_value
        assert re.search(r"^2\s+y\s+remote-kernel\s+1\s+1\s+1\s", result.stdout, re.M), result
        assert "exited normally" in result.stdout
        wait_for_exit(parent)  # which writes once its child exited 0
    assert out.read_text() == "parent finished\n"


GDBS_CHILDREN = ("python import os, subprocess; print('children:', *subprocess.run(['pgrep', "
                 "'-P', str(os.getpid())], capture_output=True, text=True).stdout.split())")


def test_kill_ends_the_agent_and_what_it_armed(kernel_tier):
    loop = build("loop")
    with gdbserver(loop, N) as server:
        result = _checked(run_gdb(loop, [
            f"target remote {server.address}", f"set hbreak-if remote-agent {_agent_in(server)}",
            "hbreak-if target i == 2000", "continue", GDBS_CHILDREN, "kill", GDBS_CHILDREN,
            "info hbreak-if"]))
    assert hits(result.stdout) == [(2, "target", "i=2000")]
    before, after = re.findall(r"^children:(.*)$", result.stdout, re.M)
    assert len(before.split()) == 1 and after == "", result.stdout  # the agent, then nothing
    assert "killed]" in result.stdout
    assert "armed: not yet, no live process" in result.stdout
    # The counts the agent read as the process ended: every call up to the stop.
    assert re.search(r"^2\s+y\s+remote-kernel\s+2,001\s+1\s+0\s", result.stdout, re.M), result


KILL_THE_AGENT_SOON = ("python import os, signal, threading; "
                       "from gdb_plugin.gdbside import agentlink; "
                       "agent = [*agentlink._links.values()][0]._proc; "
                       "threading.Timer(0.2, os.killpg, (agent.pid, signal.SIGKILL)).start()")


def test_an_agent_killed_while_the_program_runs_is_replaced_at_once(kernel_tier, tmp_path):
    """In a script GDB runs nothing of its own until the program stops: the link replaces
    the agent from its own thread, and the stop a second later is there."""
    survivor = build("survivor")
    with gdbserver(survivor, 2000, tmp_path / "out", "paced") as server:
        result = _checked(run_gdb(survivor, [
            f"target remote {server.address}", f"set hbreak-if remote-agent {_agent_in(server)}",
            "hbreak-if target i == 1500", KILL_THE_AGENT_SOON, "continue", "info hbreak-if",
            "continue"]))
    assert hits(result.stdout) == [(2, "target", "i=1500")], result
    assert re.search(r"has ended \(status -9\); started it again and armed it anew\.",
                     result.stderr), result
    assert re.search(r"^2\s+y\s+remote-kernel\s", result.stdout, re.M), result
    assert "exited normally" in result.stdout


@pytest.mark.parametrize("tier", ["kernel", "kernel-signal"])
def test_no_stop_is_lost_while_a_killed_agent_is_replaced(kernel_tier, tmp_path, tier):
    """The events outlive the agent, held by its keeper until its successor adopts them:
    the program stops at every match, before, during and after the replacement."""
    survivor = build("survivor")
    kill_later = KILL_THE_AGENT_SOON.replace("Timer(0.2", "Timer(0.5")
    with gdbserver(survivor, 3000, tmp_path / "out", "paced") as server:
        found, result = stops(survivor, "hbreak-if target i % 10 == 0", start="continue",
                              allow_errors=True,
                              setup=[f"target remote {server.address}", *_forcing(tier),
                                     f"set hbreak-if remote-agent {_agent_in(server)}",
                                     kill_later])
    assert found == list(range(0, 3000, 10)), result
    assert re.search(r"has ended \(status -9\); started it again and armed it anew\.",
                     result.stderr), result
    assert "exited normally" in result.stdout


STOP_THE_AGENT = ("python import os, signal; from gdb_plugin.gdbside import agentlink; "
                  "os.killpg([*agentlink._links.values()][0]._proc.pid, signal.SIGSTOP)")


def test_an_agent_that_stops_answering_is_replaced_and_no_stop_is_lost(kernel_tier):
    """Stopped, it keeps its events (the kernel filters on) but answers nothing: the first
    request after the timeout replaces it, in a script as at the prompt."""
    loop = build("loop")
    with gdbserver(loop, N) as server:
        result = _checked(run_gdb(loop, [
            f"target remote {server.address}", f"set hbreak-if remote-agent {_agent_in(server)}",
            "set hbreak-if remote-agent-timeout 1", "show hbreak-if remote-agent-timeout",
            f"hbreak-if target {CONDITION}", "continue", STOP_THE_AGENT, "continue",
            "continue", "continue", "continue", "info hbreak-if", "continue"]))
    assert "GDB waits 1 seconds for an answer of the hbreak-if agent." in result.stdout
    assert [int(value[2:]) for _, _, value in hits(result.stdout)] == EXPECTED, result
    assert re.search(r"did not answer within 1 s; started it again and armed it anew\.",
                     result.stderr), result
    assert re.search(r"^2\s+y\s+remote-kernel\s", result.stdout, re.M), result
    assert "exited normally" in result.stdout


# The agent is dead when the command returns: GDB replaces it before its next prompt.
KILL_THE_AGENT = ("python import os, signal; from gdb_plugin.gdbside import agentlink; "
                  "agent = [*agentlink._links.values()][0]._proc; "
                  "os.killpg(agent.pid, signal.SIGKILL); agent.wait()")


def test_an_agent_killed_at_a_stop_is_replaced_and_no_stop_is_lost(kernel_tier):
    """At GDB's prompt, as a user would see it: the warning comes before the next command."""
    loop = build("loop")
    with gdbserver(loop, N) as server:
        gdb = pexpect.spawn(GDB, ["-nx", "-q", "-iex", "set style enabled off", "-x", str(PLUGIN),
                                  str(loop)], encoding="utf-8", timeout=30, dimensions=(50, 400))
        try:
            gdb.expect(PROMPT)
            for command in (f"target remote {server.address}",
                            f"set hbreak-if remote-agent {_agent_in(server)}",
                            f"hbreak-if target {CONDITION}"):
                gdb.sendline(command)
                gdb.expect(PROMPT)
            gdb.sendline("continue")
            gdb.expect(r"hbreak-if 2, target \(i=3\)")
            gdb.expect(PROMPT)
            gdb.sendline(KILL_THE_AGENT)
            gdb.expect(r"has ended \(status -9\); started it again and armed it anew\.")
            found = []
            for _ in EXPECTED[1:]:
                gdb.sendline("continue")
                gdb.expect(r"hbreak-if 2, target \(i=(\d+)\)")
                found.append(int(gdb.match.group(1)))
                gdb.expect(PROMPT)
            assert found == EXPECTED[1:]
            gdb.sendline("info hbreak-if")
            gdb.expect(r"\n2\s+y\s+remote-kernel\s")
            gdb.sendline("continue")
            gdb.expect(r"exited normally")
        finally:
            gdb.close(force=True)
