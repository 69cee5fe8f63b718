"""The served row: GDB on this machine, gdbserver and the agent in the guest (another kernel),
reached through the ports qemu forwards: the remote agent's real case, a target whose kernel
is not GDB's. The host's side of it; guest.py's serve() is the guest's.
"""
import json
import socket
import time

import suite

GUEST_TESTS = ["tests/test_gdb_guest_remote.py"]
TESTS_TIMEOUT_S = 1800


def build_programs(echo):
    """The programs the guest runs for GDB here, built before it boots: the guest sees this
    machine's files as they were when it mounted them."""
    rc, _ = suite.stream([str(suite.VENV_PYTHON), "-c", "from harness.programs import build; "
                          "[build(name) for name in ('loop', 'threads')]"],
                         cwd=suite.REPO / "tests", echo=echo)
    if rc != 0:
        raise SystemExit("kernel matrix: the served row's programs did not build")


def free_ports(count):
    """Ports of 127.0.0.1 free now, for qemu to forward."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def agent_hello(port):
    """What the guest's agent says of its kernel: its `hello` answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(b'{"op":"hello","version":1}\n')
        with connection.makefile("rb") as answers:
            return json.loads(answers.readline())


def row(release, gdbserver_port, agent_port, expect, echo, cost_target_s=None):
    """The row of the guest's kernel `release`, its tests run here against its servers, and
    its per-hit costs (with `cost_target_s`)."""
    start = time.perf_counter()
    hello = agent_hello(agent_port)
    echo(f"== served: the guest's agent says {hello}")
    result = {"kernel": release, "privileges": "root", "expect": expect,
              "probe": {"tier": hello.get("tier"), "output": json.dumps(hello)}}
    result["tests"] = suite.tests([], expect, GUEST_TESTS, 1, echo=echo, timeout=TESTS_TIMEOUT_S,
                                  env={"HBREAK_IF_GUEST": f"{gdbserver_port},{agent_port}"})
    if cost_target_s:
        echo("== served: per-hit cost")
        result.update(suite.per_hit_cost([], cost_target_s, 1, echo,
                                         ["--remote", f"{gdbserver_port},{agent_port}"]))
    result["where"] = "qemu, GDB here"
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def end(gdbserver_port, echo):
    """gdbserver in the guest exits; the guest then powers off."""
    suite.stream(["gdb", "-nx", "-batch", "-ex",
                  f"target extended-remote 127.0.0.1:{gdbserver_port}", "-ex", "monitor exit"],
                 echo=echo, timeout=120)
