"""A real non-root user (tests/harness/users.py) with GDB: the ptrace tier without privileges,
and the kernel tier with the README's setup, a private copy of gdb given CAP_BPF and
CAP_PERFMON by root. The stops are GDB's own either way, and the capabilities stay out of reach
of the user's other processes: the capable GDB is not dumpable, nor is anything it leaves
running that holds a capability. The system gdb is never changed."""
import os
import re
import shutil
import subprocess

import pytest

from harness.gdb import GDB, run_gdb
from harness.paths import REPO
from harness.processes import end
from harness.programs import build
from harness.stops import gdb_stops
from harness.users import as_user, give, private_directory, real_user

CONDITION = "i % 250 == 7"
EACH_STOP = 'commands\nsilent\nprintf "STOP %d\\n", {}\ncontinue\nend'
NO_CAPABILITIES = "0" * 16
BPF_AND_PERFMON = "000000c000000000"   # bits 38 (CAP_PERFMON) and 39 (CAP_BPF)


@pytest.fixture(scope="module")
def user():
    if os.geteuid() != 0:
        pytest.skip("needs root to create the test user and to set file capabilities")
    return real_user()


@pytest.fixture(scope="module")
def home(user):
    """The user's private directory with the plugin, their programs, and the copy of gdb that
    README's Permissions section has them make."""
    with private_directory(user, "hbreak-if-user-") as root:
        if os.statvfs(root).f_flag & os.ST_NOSUID:
            pytest.fail(f"{root} is on a file system mounted nosuid, where the kernel ignores "
                        "file capabilities", pytrace=False)
        shutil.copytree(REPO / "gdb_plugin", root / "gdb_plugin",
                        ignore=shutil.ignore_patterns("__pycache__"))
        for program in ("loop", "survivor"):
            shutil.copy2(build(program), root / program)
        give(user, root)
        subprocess.run([*as_user(user), "install", "-m", "0700", GDB, root / "gdb-bpf"],
                       check=True)
        subprocess.run(["setcap", "cap_bpf,cap_perfmon+ep", root / "gdb-bpf"], check=True)
        yield root


def _run(user, home, gdb, commands, program="loop", args=("1000",), allow_errors=False):
    return run_gdb(None if program is None else home / program, commands, args=args, gdb=gdb,
                   prefix=as_user(user), plugin=home / "gdb_plugin" / "plugin.py",
                   cwd=home).check(allow_errors)


def _stops(result):
    return [int(v) for v in re.findall(r"^STOP (\d+)$", result.stdout, re.M)]


def _status(text):
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def test_the_test_user_is_a_real_user_without_capabilities(user):
    status = _status(subprocess.run([*as_user(user), "cat", "/proc/self/status"],
                                    capture_output=True, text=True, check=True).stdout)
    assert status["Uid"].split() == [str(user.pw_uid)] * 4
    assert status["Gid"].split() == [str(user.pw_gid)] * 4
    assert [status[s] for s in ("CapInh", "CapPrm", "CapEff", "CapAmb")] == [NO_CAPABILITIES] * 4


def test_without_capabilities_the_ptrace_tier_the_advice_and_gdbs_stops(kernel_tier, user, home):
    result = _run(user, home, GDB, [f"hbreak-if target {CONDITION}", EACH_STOP.format("i"),
                                    "run"])
    assert "[ptrace tier]" in result.stdout
    assert ("GDB may not load BPF programs: it needs CAP_BPF and CAP_PERFMON; "
            "fix: setcap cap_bpf,cap_perfmon+ep <private copy of gdb>") in result.stdout
    assert _stops(result) == gdb_stops(build("loop"), "target", CONDITION, args=["1000"])
    assert _stops(result) == [7, 257, 507, 757]


def test_a_private_gdb_with_capabilities_gets_the_kernel_tier_and_gdbs_stops(
        kernel_tier, user, home):
    result = _run(user, home, home / "gdb-bpf", [f"hbreak-if target {CONDITION}",
                                                 EACH_STOP.format("i"), "run", "info hbreak-if"])
    assert "[kernel tier]" in result.stdout
    assert _stops(result) == [7, 257, 507, 757]
    assert re.search(r"^2\s+y\s+kernel\s+1,000\s+4\s", result.stdout, re.M), result.stdout


def _start_as(user, home, argv):
    """Start argv as `user`; -> (Popen of runuser, pid of the program itself)."""
    program = subprocess.Popen([*as_user(user), "sh", "-c", 'echo $$ && exec "$@"', "sh", *argv],
                               stdout=subprocess.PIPE, text=True, cwd=home)
    return program, int(program.stdout.readline())


def test_a_private_gdb_with_capabilities_attaches_to_the_users_own_program(
        kernel_tier, user, home):
    out = home / "out"
    program, pid = _start_as(user, home, [home / "survivor", "30000", out, "wait"])
    try:
        result = _run(user, home, home / "gdb-bpf", [
            f"attach {pid}", "hbreak-if target i % 10000 == 7", EACH_STOP.format("i"),
            "set var go = 1", "continue", "info hbreak-if"], program=None, args=(),
            allow_errors=True)   # the attach stops in libc, whose source is not installed
        assert program.wait(timeout=60) == 0
    finally:
        end(program)
    assert "[kernel tier]" in result.stdout
    assert "Traceback" not in result.output and "warning: hbreak-if" not in result.output
    assert _stops(result) == [7, 10007, 20007]
    assert re.search(r"^2\s+y\s+kernel\s+30,000\s+3\s", result.stdout, re.M), result.stdout
    assert out.read_text() == "finished 30000\n"


def test_a_private_gdb_with_capabilities_watches_in_the_kernel_tier(kernel_tier, user, home):
    def stops(gdb, set_command):
        result = _run(user, home, gdb, ["break main", "run", set_command,
                                        EACH_STOP.format("g_counter"), "continue"], args=["400"])
        return _stops(result), result

    expected, _ = stops(GDB, "watch -location g_counter if g_counter % 50 == 7")
    got, result = stops(home / "gdb-bpf", "hwatch-if g_counter g_counter % 50 == 7")
    assert "[kernel tier]" in result.stdout
    assert got == expected == list(range(7, 400, 50))


# Run in the capable GDB at a stop: GDB and every process under it, with the capabilities each
# holds and whether it is dumpable (the kernel gives the files in /proc/PID of a process that is
# not to root).
LIST_PROCESSES = """python
import ctypes, os
def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\\n").split(":\\t", 1) for line in f if ":\\t" in line)
def children(pid):
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            yield from map(int, f.read().split())
pending, seen = [os.getpid()], []
while pending:
    pid = pending.pop()
    seen.append(pid)
    pending.extend(children(pid))
for pid in seen:
    s = status(pid)
    print("PROCESS", pid, s["Name"], s["CapPrm"], s["CapEff"],
          "dumpable" if os.stat(f"/proc/{pid}/mem").st_uid == os.getuid() else "not-dumpable")
print("GDB PR_GET_DUMPABLE", ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))
end"""


def test_a_private_gdb_with_capabilities_and_its_helpers_are_not_dumpable(
        kernel_tier, user, home):
    result = _run(user, home, home / "gdb-bpf", [
        "hbreak-if target i == 500", "run", "hwatch-if g_counter g_counter == 700",
        LIST_PROCESSES, "continue", LIST_PROCESSES, "kill"])
    assert "[kernel tier]" in result.stdout
    listings = re.findall(r"((?:^PROCESS .*\n)+)^GDB PR_GET_DUMPABLE (\d+)$", result.stdout, re.M)
    assert len(listings) == 2, result.stdout
    for processes, gdb_prctl_dumpable in listings:
        (_, gdb_permitted, gdb_effective, gdb_dumpable), *others = [
            line.split()[2:] for line in processes.splitlines()]
        assert (gdb_permitted, gdb_effective, gdb_dumpable, gdb_prctl_dumpable) == (
            BPF_AND_PERFMON, BPF_AND_PERFMON, "not-dumpable", "0")
        # The program alone: no helper outlives its work. It exec'd, and holds nothing.
        assert [(name, permitted, dumpable) for name, permitted, _, dumpable in others] == [
            ("loop", NO_CAPABILITIES, "dumpable")], processes
