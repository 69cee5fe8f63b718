"""Tier self-test: the decision table (pure) and the real probe on this kernel."""
import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.users import as_user, give, private_directory, real_user
from gdb_plugin.ebpf import Jmp, Reg, call, encode_program, exit_insn, jmp, ldx, mov64
from gdb_plugin.kernel import probe as probe_mod
from gdb_plugin.kernel.errors import (InvalidAttribute, PermissionDenied, Unsupported,
                                      VerifierRejected)
from gdb_plugin.kernel.probe import (CALLS, MATCH, SIG_DATA, TIER_KERNEL, TIER_KERNEL_SIGNAL,
                                     TIER_PTRACE, TIER_UPROBE, TRAP_PERF, decide,
                                     predicate_program, probe, send_signal_program)

REPO = Path(__file__).resolve().parent.parent
R0, R1, R2 = Reg.R0, Reg.R1, Reg.R2
ADDR = 0x7F0000001000


def good_observations():
    records = [(x, 5 if x == MATCH else -1, TRAP_PERF if x == MATCH else 0,
                SIG_DATA if x == MATCH else 0, ADDR if x == MATCH else 0, 0) for x in CALLS]
    return {"status": 0, "records": records, "count": len(CALLS), "target_addr": ADDR}


def test_hand_packed_programs_match_the_encoder():
    assert predicate_program(7) == encode_program([
        ldx(8, R2, R1, 112), mov64(R0, 1), jmp(Jmp.EQ, R2, 7, 1), mov64(R0, 0), exit_insn()])
    assert send_signal_program(40) == encode_program([
        mov64(R1, 40), call(117), mov64(R0, 0), exit_insn()])


def test_decide_kernel():
    tier, reasons = decide(good_observations())
    assert tier == TIER_KERNEL and len(reasons) == 1


def test_decide_no_bpf_permission():
    tier, reasons = decide({"bpf_error": PermissionDenied(errno.EPERM, "BPF_PROG_LOAD")})
    assert tier == TIER_PTRACE
    assert reasons == ["GDB may not load BPF programs: it needs CAP_BPF and CAP_PERFMON; fix: "
                       "setcap cap_bpf,cap_perfmon+ep <private copy of gdb>"]


def test_decide_child_not_ready():
    tier, reasons = decide({"subject_error": "it could not drop its capabilities"})
    assert tier == TIER_PTRACE
    assert reasons == [
        "the self-test's child did not get ready: it could not drop its capabilities"]


def test_decide_no_perf_breakpoints():
    err = Unsupported(errno.ENOENT, "perf_event_open: not supported by this kernel (ENOENT)")
    tier, reasons = decide({"perf_error": err})
    assert tier == TIER_PTRACE
    assert reasons[0].startswith("perf hardware breakpoints with SIGTRAP are unavailable")


def test_decide_attach_refused():
    err = InvalidAttribute(errno.EINVAL, "PERF_EVENT_IOC_SET_BPF", "wrong type")
    assert decide({"attach_error": err})[0] == TIER_PTRACE


def unsuppressed(obs):
    obs["records"] = [(x, 5, TRAP_PERF, SIG_DATA, ADDR, 0) for x in CALLS]
    return obs


def test_decide_no_suppression_but_send_signal():
    obs = unsuppressed(good_observations())
    obs["send_signal_loads"] = True
    tier, reasons = decide(obs)
    assert tier == TIER_KERNEL_SIGNAL
    assert "Linux 6.10" in reasons[0]
    assert "bpf_send_signal_thread" in reasons[-1]


def test_decide_no_suppression_no_send_signal():
    obs = unsuppressed(good_observations())
    obs["send_signal_error"] = VerifierRejected(errno.EINVAL, "unknown func 117")
    tier, reasons = decide(obs)
    assert tier == TIER_PTRACE
    assert any("bpf_send_signal_thread is unavailable" in r for r in reasons)


@pytest.mark.parametrize("change, expected", [
    (lambda o: o.update(count=0), "counted 0 hits"),
    (lambda o: o.update(status=5), "ended abnormally"),
    (lambda o: o.update(records=o["records"][:1]), "reported 1 of 3 calls"),
    (lambda o: o.update(records=[r if r[0] != MATCH else (MATCH, -1, 0, 0, 0, 0)
                                 for r in o["records"]]), "matching hit raised no SIGTRAP"),
    (lambda o: o.update(records=[r if r[0] != MATCH else (MATCH, 5, 128, 0, 0, 0)
                                 for r in o["records"]]), "si_code 128"),
])
def test_decide_broken_self_test(change, expected):
    obs = good_observations()
    change(obs)
    tier, reasons = decide(obs)
    assert tier == TIER_PTRACE
    assert any(expected in r for r in reasons), reasons


def test_probe_survives_an_unexpected_failure(monkeypatch):
    def broken():
        raise RuntimeError("no fork today")
    monkeypatch.setattr(probe_mod, "_self_test", broken)
    monkeypatch.setattr(probe_mod, "_cached", None)
    result = probe()
    assert result.tier == TIER_PTRACE
    assert result.reasons == ["the self-test could not run: RuntimeError: no fork today"]


def test_a_child_that_cannot_drop_its_capabilities_never_becomes_a_target(monkeypatch):
    class Refused:
        def __call__(self, keep_fds):
            return False
    monkeypatch.setattr(probe_mod, "PrivilegeDrop", Refused)
    monkeypatch.setattr(probe_mod, "_cached", None)
    result = probe()
    assert result.tier == TIER_PTRACE
    assert result.reasons == [
        "the self-test's child did not get ready: it could not drop its capabilities"]


def test_every_tier_is_explained():
    assert set(probe_mod.TIER_EXPLANATION) == {TIER_KERNEL, TIER_KERNEL_SIGNAL, TIER_PTRACE,
                                              TIER_UPROBE}


def test_probe_on_this_kernel(kernel_tier):
    result = probe(refresh=True)
    assert result.tier == TIER_KERNEL, result.reasons
    assert result.elapsed_s < 0.1
    assert result.details["count"] == len(CALLS)
    assert probe() is result            # cached


def children():
    """Pids of this process's children, zombies included."""
    pids = set()
    for tid in os.listdir("/proc/self/task"):
        with open("/proc/self/task/%s/children" % tid) as f:
            pids.update(f.read().split())
    return pids


def _status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def test_the_test_child_holds_nothing_once_it_is_ready():
    # Once dumpable, any process of the user may trace the child: it must hold no capability
    # and no file descriptor of GDB's, and no exec may give it a capability back.
    unrelated = os.open("/dev/null", os.O_RDONLY)
    child = probe_mod._Child()
    try:
        child.start()
        assert child.ready()
        status = _status(child.pid)
        fds = os.listdir(f"/proc/{child.pid}/fd")
    finally:
        child.abandon()
        os.close(unrelated)
    assert {k: status[k] for k in ("CapInh", "CapPrm", "CapEff", "CapAmb", "NoNewPrivs")} == {
        "CapInh": "0" * 16, "CapPrm": "0" * 16, "CapEff": "0" * 16, "CapAmb": "0" * 16,
        "NoNewPrivs": "1"}
    if os.geteuid() == 0:     # only a child with CAP_SETPCAP may empty its bounding set
        assert status["CapBnd"] == "0" * 16
    assert len(fds) == 2      # its two pipes


def test_probe_leaves_nothing_behind(kernel_tier):
    fds, kids = set(os.listdir("/proc/self/fd")), children()
    for _ in range(5):
        probe(refresh=True)
    assert set(os.listdir("/proc/self/fd")) == fds
    assert children() == kids


def test_probe_command(kernel_tier):
    proc = subprocess.run([sys.executable, "-m", "gdb_plugin.kernel.probe"], cwd=REPO,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("tier: kernel — ")
    assert lines[1].startswith("  - self-test passed")
    assert lines[2].startswith("probe time: ")


@pytest.mark.gdb
def test_probe_inside_gdb(kernel_tier):
    # GDB's embedded Python forks the test child from a multi-threaded process.
    script = ("python import sys; sys.path.insert(0, %r); "
              "from gdb_plugin.kernel.probe import main; main()" % str(REPO))
    proc = subprocess.run(["/usr/bin/gdb", "-nx", "-batch", "-ex", script],
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith("tier: kernel — "), proc.stdout + proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create the test user")
def test_a_user_without_capabilities_gets_the_ptrace_tier_and_the_fix():
    # The user's own copy (the checkout and its virtualenv may be private to root), run by the
    # system Python: the probe needs nothing else.
    user = real_user()
    with private_directory(user, "hbreak-if-probe-") as root:
        shutil.copytree(REPO / "gdb_plugin", root / "gdb_plugin",
                        ignore=shutil.ignore_patterns("__pycache__"))
        give(user, root)
        proc = subprocess.run([*as_user(user), "/usr/bin/python3", "-B", "-m",
                               "gdb_plugin.kernel.probe"],
                              cwd=root, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("tier: ptrace — ")
    assert "setcap cap_bpf,cap_perfmon+ep <private copy of gdb>" in proc.stdout
