"""The agent's protocol and request handling, without perf events or BPF: framing, the checks
on a predicate, the refusals an agent gives before it is attached, and fuzzed input, which is
always answered by one valid line and never arms anything."""
import base64
import ctypes
import io
import json
import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdb_plugin.agent import protocol, server
from gdb_plugin.kernel import procfs
from gdb_plugin.agent.protocol import MAX_LINE, MAX_PROGRAM_INSNS, Closed, ProtocolError
from gdb_plugin.agent.server import Agent
from gdb_plugin.ebpf import Reg, encode_program, exit_insn, ld_imm64, ld_map_fd, mov64
from gdb_plugin.kernel.probe import ProbeResult

RETURN_0 = encode_program([mov64(Reg.R0, 0), exit_insn()])
HELLO_ANSWER = {"ok": True, "version": protocol.VERSION, "tier": "ptrace",
                "reason": "a stand-in for the self-test", "kernel": os.uname().release,
                "host": os.uname().nodename, "signal": None}


def messages(data: bytes):
    """Every message in `data`, and what read_message said of each malformed one."""
    stream, found = io.BytesIO(data), []
    while True:
        try:
            found.append(protocol.read_message(stream))
        except ProtocolError as error:
            found.append(error)
        except Closed:
            return found


# Framing.

def test_messages_go_through_as_sent():
    sent = [{"op": "hello", "version": 1}, {"op": "count", "key": 2**31 - 1, "x": [None, "é"]}]
    assert messages(b"".join(protocol.encode(m) for m in sent)) == sent


def test_an_over_long_line_is_skipped_and_the_next_message_read():
    data = b"[" * (3 * MAX_LINE) + b"\n" + protocol.encode({"op": "bye"})
    first, second = messages(data)
    assert "longer than" in str(first)
    assert second == {"op": "bye"}


def test_a_line_is_at_most_max_line_bytes_with_its_newline():
    def line(size):
        return b'"' + b"a" * (size - 3) + b'"\n'
    # A JSON string: read whole, then refused for not being an object.
    assert "a message is a JSON object" in str(messages(line(MAX_LINE))[0])
    assert "longer than" in str(messages(line(MAX_LINE + 1))[0])
    with pytest.raises(ProtocolError, match=f"at most {MAX_LINE}"):
        protocol.encode({"op": "x" * MAX_LINE})


def test_a_truncated_last_line_is_the_end():
    assert messages(protocol.encode({"op": "bye"})[:-1]) == []
    assert messages(b"") == []


@pytest.mark.parametrize("line, why", [
    (b"[1]\n", "a message is a JSON object"),
    (b"null\n", "a message is a JSON object"),
    (b'"hello"\n', "a message is a JSON object"),
    (b"{op: 1}\n", "not JSON"),
    (b"\xff\xfe{}\n", "not JSON"),
    (b"[" * 100000 + b"\n", "not JSON"),
])
def test_what_is_not_a_json_object_is_refused(line, why):
    (error,) = messages(line)
    assert isinstance(error, ProtocolError) and why in str(error)


# The predicate of an `arm` request.

def program_of(value):
    return protocol.program({"op": "arm", "program": value})


def encoded(code):
    return base64.b64encode(code).decode()


def test_a_self_contained_program_is_accepted():
    constant = encode_program([ld_imm64(Reg.R0, 1 << 40), exit_insn()])
    assert program_of(encoded(constant)) == constant
    assert program_of(encoded(RETURN_0)) == RETURN_0
    assert program_of(None) is None
    assert protocol.program({"op": "arm"}) is None


def test_the_mailbox_is_the_only_map_a_program_names_and_the_agent_places_it():
    names = encode_program([ld_map_fd(Reg.R1, protocol.MAILBOX), mov64(Reg.R0, 0), exit_insn()])
    placed = encode_program([ld_map_fd(Reg.R1, 7), mov64(Reg.R0, 0), exit_insn()])
    assert protocol.program({"op": "arm", "program": encoded(names)}, mailbox_fd=7) == placed
    with pytest.raises(ProtocolError, match=r"by descriptor; .* \(it holds no mailbox\)"):
        program_of(encoded(names))
    other = encode_program([ld_map_fd(Reg.R1, 3), mov64(Reg.R0, 0), exit_insn()])
    with pytest.raises(ProtocolError, match="instruction 0 refers to a kernel object"):
        protocol.program({"op": "arm", "program": encoded(other)}, mailbox_fd=7)


@pytest.mark.parametrize("value, why", [
    (encoded(encode_program([ld_map_fd(Reg.R1, 3), mov64(Reg.R0, 0), exit_insn()])),
     "instruction 0 refers to a kernel object by descriptor"),
    (encoded(RETURN_0 + encode_program([ld_map_fd(Reg.R1, 3)])),
     "instruction 2 refers to a kernel object by descriptor"),
    ("", "1 to 65536 whole 8-byte instructions"),
    (encoded(RETURN_0[:12]), "whole 8-byte instructions"),
    (encoded(RETURN_0[:8] * (MAX_PROGRAM_INSNS + 1)), "at most 65536 instructions"),
    ("!!!!", "not base64"),
    ("AAAAAAAAAAA", "not base64"),
    ("é" * 8, "not base64"),
    (12, "must be base64 text"),
])
def test_a_program_is_refused(value, why):
    with pytest.raises(ProtocolError, match=why):
        program_of(value)


# Requests before an attach, and attaches without the evidence (this very process).

@pytest.fixture(scope="module", autouse=True)
def no_kernel_objects():
    """No perf event and no BPF program may be opened here, and the self-test is a stand-in."""
    opened = []

    class Refused:
        @staticmethod
        def load(*args, **kwargs):
            opened.append(("program", args))
            raise AssertionError("a program was loaded")

        open = load

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(server, "probe", lambda: ProbeResult("ptrace", [HELLO_ANSWER["reason"]],
                                                           {}, 0.0))
        patch.setattr(server, "BpfProgram", Refused)
        patch.setattr(server, "PerfBreakpoint", Refused)
        yield opened
    assert opened == []


def own_evidence():
    with open("/proc/self/auxv", "rb") as auxv:
        address = dict(struct.iter_unpack("=QQ", auxv.read()))[procfs.AT_RANDOM]
    return address, ctypes.string_at(address, procfs.RANDOM_BYTES)


def attach(agent, pid=None, address=None, random=None):
    own_address, own_random = own_evidence()
    return agent.handle({"op": "attach", "pid": pid or os.getpid(),
                         "random_address": own_address if address is None else address,
                         "random": (own_random if random is None else random).hex()})


def test_hello_checks_the_version():
    agent = Agent()
    assert agent.handle({"op": "hello", "version": protocol.VERSION}) == HELLO_ANSWER
    assert agent.handle({"op": "hello", "version": 2}) == {
        "ok": False, "error": "protocol version 2; this agent speaks 1"}


@pytest.mark.parametrize("op", ["mappings", "arm", "count", "disarm", "parent"])
def test_requests_need_a_process(op):
    assert Agent().handle({"op": op, "key": 1}) == {"ok": False, "error": "no process attached"}


@pytest.mark.parametrize("message, why", [
    ({}, "a request names its 'op'"),
    ({"op": "nosuch"}, "unknown request 'nosuch'"),
    ({"op": ["hello"]}, "a request names its 'op'"),
    ({"op": "attach", "pid": 0, "random_address": 0, "random": "00" * 16}, "'pid' must be"),
    ({"op": "attach", "pid": 1, "random_address": 0, "random": "00"}, "'random' must be 16"),
])
def test_malformed_requests_are_refused(message, why):
    answer = Agent().handle(message)
    assert answer["ok"] is False and why in answer["error"], answer


def test_an_attach_names_the_evidence_that_does_not_match():
    agent = Agent()
    address, random = own_evidence()
    assert "AT_RANDOM address is" in attach(agent, address=address + 16)["error"]
    assert "AT_RANDOM bytes differ" in attach(agent, random=bytes(16))["error"]
    assert "no process 4194304 " in attach(agent, pid=1 << 22)["error"]
    assert agent.attachment is None


def test_an_attached_agent_refuses_a_second_attach_and_unloaded_addresses():
    agent = Agent()
    try:
        assert attach(agent) == {"ok": True, "tracer": None}
        assert attach(agent)["error"] == f"already attached to process {os.getpid()}"
        labs = ctypes.cast(ctypes.CDLL(None).labs, ctypes.c_void_p).value
        ranges = agent.handle({"op": "mappings"})["ranges"]
        assert any(low <= labs < high and executable for low, high, executable in ranges)
        assert agent.handle({"op": "parent", "pid": os.getpid()}) == {"ok": True,
                                                                     "parent": os.getppid()}
        assert "'pid' must be" in agent.handle({"op": "parent", "pid": -1})["error"]
        answer = agent.handle({"op": "arm", "key": 1, "address": 8, "sig_data": 1})
        assert "0x8 is in no executable mapping" in answer["error"], answer
        assert agent.handle({"op": "count", "key": 1})["error"] == "key 1 is not armed"
    finally:
        agent.close()
    assert agent.attachment is None


# Fuzzing: every answer is one valid line, refusing (but hello and bye), and nothing is armed.

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
FIELDS = {
    "op": st.sampled_from(["hello", "attach", "mappings", "arm", "count", "disarm", "parent",
                           "bye"])
    | st.text(max_size=8),
    "version": st.integers(0, 3),
    "pid": st.integers(-1, (1 << 22) + 1) | st.just(os.getpid()),
    "random_address": st.integers(-1, 1 << 65) | st.just(own_evidence()[0]),
    "random": st.binary(min_size=16, max_size=16).map(bytes.hex) | st.text(max_size=40),
    "key": st.integers(-1, 1 << 32),
    "address": st.integers(-1, 1 << 65),
    "sig_data": st.integers(-1, 1 << 64),
    "program": st.none() | st.binary(max_size=40).map(encoded) | st.text(max_size=40),
}
# Requests of the right shape, with values in and out of range, and looser ones.
REQUESTS = st.fixed_dictionaries(FIELDS) | st.fixed_dictionaries(
    {}, optional={name: value | JSON for name, value in FIELDS.items()})
LINES = st.lists(REQUESTS.map(protocol.encode) | st.binary(max_size=30), max_size=8)
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def check_answer(answer, request=None):
    """`answer` is one valid line, refusing unless it greets or says goodbye."""
    assert messages(protocol.encode(answer)) == [answer]
    if answer["ok"] is not False:
        assert answer in (HELLO_ANSWER, {"ok": True}), answer
        if request is not None:
            assert request["op"] in ("hello", "bye"), (request, answer)
    else:
        assert isinstance(answer["error"], str) and "internal error" not in answer["error"]


@FUZZ
@given(st.lists(REQUESTS, max_size=6))
def test_fuzzed_requests_are_refused(requests):
    agent = Agent()
    for request in requests:
        check_answer(agent.handle(request), request)
        assert agent.attachment is None
    agent.close()


@FUZZ
@given(LINES, st.integers(0, 30))
def test_fuzzed_streams_are_answered_line_by_line(lines, cut):
    data = b"".join(lines)
    data = data[:len(data) - cut] if cut < len(data) else data
    answers = io.BytesIO()
    agent = Agent()
    agent.serve(io.BytesIO(data), answers)
    replies = answers.getvalue().splitlines(keepends=True)
    assert len(replies) <= data.count(b"\n")
    for reply in replies:
        check_answer(json.loads(reply))
    assert agent.attachment is None


def test_what_the_keeper_holds_fits_its_packets():
    """One packet carries at most SCM_MAX_FD descriptors: a key's events go in chunks, the
    program's descriptor with the last."""
    from gdb_plugin.agent.keeper import MAX_FDS, hold_packets
    packets = list(hold_packets(7, range(600), True, 0x401000, 3))
    assert [len(p["tids"]) for p in packets] == [MAX_FDS - 1, MAX_FDS - 1, 600 - 2 * (MAX_FDS - 1)]
    assert [p["program"] for p in packets] == [False, False, True]
    assert [t for p in packets for t in p["tids"]] == list(range(600))
    assert list(hold_packets(7, [], False, 0, 0)) == [
        {"op": "hold", "key": 7, "tids": [], "program": False, "address": 0, "sig_data": 0}]
