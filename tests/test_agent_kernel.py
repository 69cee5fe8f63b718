"""The agent on the real kernel: `python -m gdb_plugin.agent` spoken to over its pipes as GDB
does, arming tests/programs/agent_target.c, which calls agent_call() N times once told to go.
The test reads the target's AT_RANDOM evidence itself, as GDB does through gdbserver; no
tracer watches the target, so a hit the agent lets through kills it with SIGTRAP."""
import base64
import json
import os
import signal
import struct
import subprocess
import sys
import threading

import pytest

from harness.paths import REPO
from harness.programs import build, symbol_address

from gdb_plugin.agent import server
from gdb_plugin.kernel.procfs import AT_RANDOM
from gdb_plugin.ebpf import Reg, encode_program, exit_insn, ld_map_fd, mov64

N = 1000

SIG_DATA = 3


def _program(*insns):
    return base64.b64encode(encode_program(insns)).decode()


NEVER_STOP = _program(mov64(Reg.R0, 0), exit_insn())
ALWAYS_STOP = _program(mov64(Reg.R0, 1), exit_insn())
USES_A_MAP = _program(ld_map_fd(Reg.R1, 0), mov64(Reg.R0, 0), exit_insn())


class Agent:
    """A running agent and its pipes."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "gdb_plugin.agent"], cwd=REPO,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def request(self, **message):
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def attached_to(self, target):
        assert self.request(op="hello", version=1)["tier"] == "kernel"
        assert self.request(op="attach", **target.evidence()) == {"ok": True, "tracer": None}

    def arm(self, target, program, key=1):
        return self.request(op="arm", key=key, address=target.address, sig_data=SIG_DATA,
                            program=program)

    def kernel_objects(self):
        """The perf events and BPF programs the agent holds."""
        fds = f"/proc/{self.proc.pid}/fd"
        links = []
        for fd in os.listdir(fds):
            try:
                links.append(os.readlink(f"{fds}/{fd}"))
            except FileNotFoundError:
                pass  # closed meanwhile
        return [link for link in links if "perf_event" in link or "bpf-prog" in link]

    def end(self):
        """Close its input; its exit status once it ended."""
        self.proc.stdin.close()
        status = self.proc.wait(timeout=30)
        assert self.proc.stdout.read() == b""  # nothing but the answers
        return status


class Target:
    """agent_target.c, waiting for its go."""

    def __init__(self, exe):
        self.proc = subprocess.Popen([str(exe), str(N)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline() == "ready\n"
        self.address = symbol_address(exe, "agent_call")

    def evidence(self, pid=None):
        """The fields of an `attach` naming this process, by `pid` if given."""
        with open(f"/proc/{self.proc.pid}/auxv", "rb") as auxv:
            address = dict(struct.iter_unpack("=QQ", auxv.read()))[AT_RANDOM]
        with open(f"/proc/{self.proc.pid}/mem", "rb") as mem:
            mem.seek(address)
            random = mem.read(16)
        return {"pid": pid or self.proc.pid, "random_address": address, "random": random.hex()}

    def go(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def called(self):
        """What it says once its calls are made (or it died)."""
        return self.proc.stdout.readline()

    def finish(self):
        """Let it exit; its exit status."""
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def exe():
    return build("agent_target", "-O2", extra=("-no-pie",))


@pytest.fixture
def start(exe):
    """start.agent(), start.target() and start.tracer(target): processes ended at the end of
    the test."""
    started = []

    class Start:
        @staticmethod
        def agent():
            started.append(Agent())
            return started[-1]

        @staticmethod
        def target():
            started.append(Target(exe))
            return started[-1]

        @staticmethod
        def tracer(target):
            started.append(Tracer(target))
            return started[-1]

    yield Start
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
        process.proc.wait()


def completes_normally(target):
    target.go()
    assert target.called() == f"called {N}\n"
    assert target.finish() == 0


def test_a_never_stopping_predicate_counts_every_call(kernel_tier, start):
    agent, target = start.agent(), start.target()
    agent.attached_to(target)
    ranges = agent.request(op="mappings")["ranges"]
    assert any(low <= target.address < high and executable for low, high, executable in ranges)
    assert agent.arm(target, NEVER_STOP) == {"ok": True, "threads": 1}
    assert agent.kernel_objects()
    target.go()
    assert target.called() == f"called {N}\n"
    assert agent.request(op="count", key=1) == {"ok": True, "hits": N}
    assert agent.request(op="disarm", key=1) == {"ok": True, "hits": N}
    assert agent.kernel_objects() == []
    assert target.finish() == 0
    assert agent.request(op="bye") == {"ok": True}
    assert agent.end() == 0


def test_an_always_stopping_predicate_kills_the_untraced_target(kernel_tier, start):
    agent, target = start.agent(), start.target()
    agent.attached_to(target)
    assert agent.arm(target, ALWAYS_STOP)["ok"]
    target.go()
    assert target.called() == ""  # it died at its first call
    assert target.proc.wait(timeout=30) == -signal.SIGTRAP


def test_wrong_evidence_arms_nothing(kernel_tier, start):
    agent, target, other = start.agent(), start.target(), start.target()
    wrong_bytes = dict(target.evidence(), random="00" * 16)
    answer = agent.request(op="attach", **wrong_bytes)
    assert not answer["ok"] and "AT_RANDOM bytes differ" in answer["error"], answer
    answer = agent.request(op="attach", **target.evidence(pid=other.proc.pid))
    assert not answer["ok"] and "not the process GDB debugs" in answer["error"], answer
    assert agent.arm(target, ALWAYS_STOP) == {"ok": False, "error": "no process attached"}
    assert agent.kernel_objects() == []
    completes_normally(target)
    completes_normally(other)


def test_the_end_of_its_input_releases_everything(kernel_tier, start):
    agent, target = start.agent(), start.target()
    agent.attached_to(target)
    assert agent.arm(target, ALWAYS_STOP)["ok"]
    assert agent.end() == 0
    completes_normally(target)


def test_a_program_referring_to_a_map_is_refused(kernel_tier, start):
    agent, target = start.agent(), start.target()
    agent.attached_to(target)
    answer = agent.arm(target, USES_A_MAP)
    assert not answer["ok"] and "by descriptor" in answer["error"], answer
    assert agent.request(op="count", key=1) == {"ok": False, "error": "key 1 is not armed"}
    assert agent.kernel_objects() == []
    completes_normally(target)


def test_refusals_leave_what_is_armed(kernel_tier, start, exe):
    agent, target, other = start.agent(), start.target(), start.target()
    agent.attached_to(target)
    assert agent.arm(target, NEVER_STOP)["ok"]
    armed = agent.kernel_objects()
    again = agent.request(op="attach", **other.evidence())
    assert again == {"ok": False, "error": f"already attached to process {target.proc.pid}"}
    assert agent.arm(target, ALWAYS_STOP) == {"ok": False, "error": "key 1 is armed already"}
    data = symbol_address(exe, "sink")
    answer = agent.request(op="arm", key=2, address=data, sig_data=SIG_DATA, program=None)
    assert not answer["ok"] and "not loaded yet" in answer["error"], answer
    assert sorted(agent.kernel_objects()) == sorted(armed)
    target.go()
    assert target.called() == f"called {N}\n"
    assert agent.request(op="count", key=1) == {"ok": True, "hits": N}
    assert target.finish() == 0
    completes_normally(other)


class Tracer:
    """A process that traces `target` (PTRACE_SEIZE: it goes on as it was) until its input
    ends."""

    SEIZE = ("import ctypes, sys; "
             "assert ctypes.CDLL(None).ptrace(0x4206, int(sys.argv[1]), None, None) == 0; "
             "print('tracing', flush=True); sys.stdin.read()")

    def __init__(self, target):
        self.proc = subprocess.Popen([sys.executable, "-c", self.SEIZE, str(target.proc.pid)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline() == "tracing\n"

    def end(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0


class ObservedAgent(server.Agent):
    """An agent in this process, which tells when its exit watches have acted."""

    def __init__(self):
        super().__init__()
        self.process_exited, self.tracer_exited = threading.Event(), threading.Event()

    def _process_exited(self, attachment):
        super()._process_exited(attachment)
        self.process_exited.set()

    def _tracer_exited(self, attachment):
        super()._tracer_exited(attachment)
        self.tracer_exited.set()


@pytest.fixture
def agent_here():
    agent = ObservedAgent()
    yield agent
    agent.close()


def test_the_targets_exit_closes_everything_and_frees_the_agent(kernel_tier, start, agent_here):
    target = start.target()
    assert agent_here.handle({"op": "attach", **target.evidence()})["ok"]
    assert agent_here.handle({"op": "arm", "key": 1, "address": target.address,
                              "sig_data": SIG_DATA, "program": NEVER_STOP})["ok"]
    armed = agent_here.attachment.armed[1]
    completes_normally(target)
    assert agent_here.process_exited.wait(30)
    assert agent_here.attachment is None
    assert armed.events == {} and armed.program.closed
    # GDB learns of the exit later, and asks for the counts then.
    assert agent_here.handle({"op": "count", "key": 1}) == {"ok": True, "hits": N}
    assert agent_here.handle({"op": "disarm", "key": 1}) == {"ok": True, "hits": N}
    assert agent_here.handle({"op": "count", "key": 1})["error"] == "no process attached"
    # A new process, as after `run` again in extended-remote.
    second = start.target()
    assert agent_here.handle({"op": "attach", **second.evidence()})["ok"]


def test_the_tracers_exit_disables_every_event(kernel_tier, start, agent_here):
    target = start.target()
    tracer = start.tracer(target)
    assert agent_here.handle({"op": "attach", **target.evidence()}) == {
        "ok": True, "tracer": tracer.proc.pid}
    assert agent_here.handle({"op": "arm", "key": 1, "address": target.address,
                              "sig_data": SIG_DATA, "program": ALWAYS_STOP})["ok"]
    tracer.end()
    assert agent_here.tracer_exited.wait(30)
    answer = agent_here.handle({"op": "arm", "key": 2, "address": target.address,
                                "sig_data": SIG_DATA, "program": NEVER_STOP})
    assert "runs untraced" in answer["error"], answer
    completes_normally(target)  # untraced, and not killed by the disabled events
