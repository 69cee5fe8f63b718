"""Which tier works on this machine: decided by a self-test, not a version.

The test (run once, cached) mirrors the kernel selftest `perf_skip`:

  1. fork a child that blocks SIGTRAP, gives up every privilege and makes
     itself dumpable (privileges.py says why), says so and waits on a pipe;
  2. in the parent, open a sigtrap perf breakpoint on the child's thread at
     libc's labs(), attach a BPF program `return arg0 == MATCH`, enable it;
  3. the child calls labs(x) for x in CALLS and, after each call, collects
     any pending SIGTRAP with sigtimedwait() into a raw siginfo_t, then
     reports (x, si_code, si_perf_data, ...) through a second pipe.

Kernel tier <=> every call was counted, the non-matching calls raised no
SIGTRAP and the matching one raised exactly one with si_code TRAP_PERF and
our sig_data.

Why this shape:
  * A Python signal handler never sees siginfo, and signal.sigtimedwait()
    drops the perf fields, so the child calls libc's sigtimedwait through
    ctypes with a raw 128-byte siginfo_t (si_perf_data is at offset 24).
  * A blocked perf SIGTRAP is queued, not forced: the kernel then marks it
    TRAP_PERF_FLAG_ASYNC (si_perf_flags, offset 36) instead of killing the
    task.  Standard signals coalesce while pending, so the child drains
    after every call to attribute each signal to one call.
  * labs() is a libc function at the same address in parent and child
    (fork copies the address space), takes its argument in a register (rdi,
    x0), and the
    interpreter itself never calls it, so the perf count is exact.
  * The probe's two programs are packed by hand below: this layer sits
    under the encoder in the import order.
  * Everything the child needs is prepared before fork(), because the
    parent may be GDB with threads; the child only makes a few calls and
    always leaves through os._exit().  The parent reaps the child before
    returning, so GDB's own waitpid(-1) never sees it (GDB's SIGCHLD
    handler only wakes its event loop, which cannot run during the probe).
"""

import collections
import ctypes
import os
import platform
import select
import signal
import struct
import sys
import time
import warnings

from . import syscalls
from .bpf import BpfProgram
from .errors import KernelError, PermissionDenied, SETCAP_FIX
from .perf import BpType, PerfBreakpoint
from .privileges import PrivilegeDrop

TIER_KERNEL = "kernel"
TIER_KERNEL_SIGNAL = "kernel-signal"
TIER_PTRACE = "ptrace"
TIER_UPROBE = "uprobe"

TIER_EXPLANATION = {
    TIER_KERNEL: "the kernel evaluates the condition at every hit and "
                 "stops the program only when it is true (perf breakpoint "
                 "+ BPF predicate, Linux 6.10+)",
    TIER_KERNEL_SIGNAL: "the kernel evaluates the condition at every hit; "
                        "a true condition sends a real-time signal, since "
                        "this kernel cannot suppress the breakpoint's own "
                        "SIGTRAP",
    TIER_PTRACE: "GDB evaluates the condition at every hit (GDB's own "
                 "conditional breakpoint or watchpoint)",
    TIER_UPROBE: "GDB's software breakpoint, whose hits a uprobe's predicate "
                 "decides in the kernel while the program continues (GDB "
                 "decides them while it steps); a true condition signals "
                 "the thread, which GDB puts back before the instruction",
}

TRAP_PERF = 6
TRAP_PERF_FLAG_ASYNC = 1
SIGINFO_SIZE = 128
# x86_64 siginfo_t offsets: si_signo 0, si_errno 4, si_code 8, then the
# union at 16: si_addr 16, and for TRAP_PERF si_perf_data 24,
# si_perf_type 32, si_perf_flags 36.
_SI_CODE, _SI_ADDR, _SI_PERF_DATA, _SI_PERF_TYPE, _SI_PERF_FLAGS = (
    8, 16, 24, 32, 36)

CALLS = (1, 2, 3)
MATCH = 2
SIG_DATA = 0x6862726B   # "hbrk": any value the child could not invent
RT_SIGNAL = 40          # used only to check that send_signal_thread loads
BPF_FUNC_SEND_SIGNAL_THREAD = 117
CHILD_TIMEOUT_S = 2.0
READY = b"r"
EXIT_PRIVILEGED = 3     # the child could not drop its capabilities

# One child record: x, sigtimedwait result, si_code, si_perf_data, si_addr,
# si_perf_flags.
_RECORD = struct.Struct("=qiiQQI")

ProbeResult = collections.namedtuple(
    "ProbeResult", "tier reasons details elapsed_s")
ProbeResult.__doc__ = """tier: "kernel" | "kernel-signal" | "ptrace";
reasons: one sentence per finding, the first explains the tier;
details: raw observations; elapsed_s: the probe's wall time."""


def _insn(code, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def predicate_program(match=MATCH):
    """r2 = the first argument's register; r0 = 1; if r2 == match goto +1; r0 = 0; exit."""
    first = syscalls.MACHINE.pt_regs[syscalls.MACHINE.first_argument].offset
    return b"".join([
        _insn(0x79, dst=2, src=1, off=first),         # ldxdw r2, [r1+first]
        _insn(0xB7, dst=0, imm=1),                    # mov64 r0, 1
        _insn(0x15, dst=2, off=1, imm=match),         # jeq r2, match, +1
        _insn(0xB7, dst=0, imm=0),                    # mov64 r0, 0
        _insn(0x95),                                  # exit
    ])


def send_signal_program(sig=RT_SIGNAL):
    """bpf_send_signal_thread(sig); return 0."""
    return b"".join([
        _insn(0xB7, dst=1, imm=sig),                     # mov64 r1, sig
        _insn(0x85, imm=BPF_FUNC_SEND_SIGNAL_THREAD),    # call 117
        _insn(0xB7, dst=0, imm=0),                       # mov64 r0, 0
        _insn(0x95),                                     # exit
    ])


class _Child:
    """The forked test subject; see the module docstring."""

    def __init__(self):
        libc = ctypes.CDLL(None, use_errno=True)
        self.target = libc.labs
        self.target.argtypes = [ctypes.c_long]
        self.target.restype = ctypes.c_long
        self.addr = ctypes.cast(self.target, ctypes.c_void_p).value
        self._sigtimedwait = libc.sigtimedwait
        self._sigtimedwait.restype = ctypes.c_int
        self._sigset = (ctypes.c_uint64 * 16)()     # glibc sigset_t
        self._sigset[0] = 1 << (signal.SIGTRAP - 1)
        self._info = ctypes.create_string_buffer(SIGINFO_SIZE)
        self._zero = (ctypes.c_long * 2)(0, 0)       # struct timespec {0,0}
        self._drop_privileges = PrivilegeDrop()
        self.pid = None
        self._go_w = self._res_r = None

    def start(self):
        go_r, self._go_w = os.pipe()
        self._res_r, res_w = os.pipe()
        with warnings.catch_warnings():
            # Python 3.12+ warns about fork() in a threaded process (GDB
            # is one); the child below takes no lock another thread could
            # hold: it imports nothing and leaves through os._exit().
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:                                      # child
            code = 1
            try:
                os.close(self._go_w)
                os.close(self._res_r)
                code = self._run(go_r, res_w)
            finally:
                os._exit(code)
        os.close(go_r)
        os.close(res_w)
        self.pid = pid

    def _run(self, go_r, res_w):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTRAP})
        if not self._drop_privileges(keep_fds=(go_r, res_w)):
            return EXIT_PRIVILEGED
        os.write(res_w, READY)
        if os.read(go_r, 1) != b"g":
            return 2                                      # parent gave up
        out = []
        for x in CALLS:
            self.target(x)
            got = self._sigtimedwait(ctypes.byref(self._sigset), self._info,
                                     ctypes.byref(self._zero))
            raw = self._info.raw
            out.append(_RECORD.pack(
                x, got,
                struct.unpack_from("=i", raw, _SI_CODE)[0] if got > 0 else 0,
                struct.unpack_from("=Q", raw, _SI_PERF_DATA)[0]
                if got > 0 else 0,
                struct.unpack_from("=Q", raw, _SI_ADDR)[0] if got > 0 else 0,
                struct.unpack_from("=I", raw, _SI_PERF_FLAGS)[0]
                if got > 0 else 0))
        os.write(res_w, b"".join(out))
        return 0

    def ready(self):
        """Wait until the child may be the target of a perf event."""
        if not select.select([self._res_r], [], [], CHILD_TIMEOUT_S)[0]:
            return False
        return os.read(self._res_r, len(READY)) == READY

    def go(self):
        os.write(self._go_w, b"g")

    def finish(self):
        """Collect the records and the exit status; never leaves a child."""
        data = b""
        try:
            if self._go_w is not None:
                os.close(self._go_w)          # an idle child exits on EOF
                self._go_w = None
            deadline = time.monotonic() + CHILD_TIMEOUT_S
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._res_r], [], [],
                                                  left)[0]:
                    os.kill(self.pid, signal.SIGKILL)
                    break
                chunk = os.read(self._res_r, 4096)
                if not chunk:
                    break
                data += chunk
        finally:
            if self._res_r is not None:
                os.close(self._res_r)
                self._res_r = None
            _, status = os.waitpid(self.pid, 0)
            self.pid = None
        n = len(data) // _RECORD.size
        records = [_RECORD.unpack_from(data, i * _RECORD.size)
                   for i in range(n)]
        return records, status

    def abandon(self):
        if self.pid is not None:
            try:
                self.finish()
            except OSError:
                pass


def _describe_status(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return "killed by %s" % signal.Signals(sig).name
    return "exit status %d" % os.WEXITSTATUS(status)


def _self_test():
    """Run the experiment; return a dict of observations (never raises
    KernelError: failures are recorded as `*_error` entries)."""
    obs = {"arch": platform.machine(), "release": os.uname().release}
    try:
        syscalls.syscall_number("perf_event_open")
    except KernelError as e:
        obs["arch_error"] = e
        return obs

    child = _Child()
    obs["target_addr"] = child.addr
    child.start()
    bp = prog = None
    try:
        if not child.ready():
            _, status = child.finish()
            obs["subject_error"] = (
                "it could not drop its capabilities"
                if os.WIFEXITED(status)
                and os.WEXITSTATUS(status) == EXIT_PRIVILEGED
                else _describe_status(status))
            return obs
        try:
            bp = PerfBreakpoint.open(child.pid, child.addr, BpType.X,
                                     sigtrap=True, sig_data=SIG_DATA)
        except KernelError as e:
            obs["perf_error"] = e
            return obs
        try:
            prog = BpfProgram.load(predicate_program())
        except KernelError as e:
            obs["bpf_error"] = e
            return obs
        try:
            bp.attach_bpf(prog.fd)
            bp.enable()
        except KernelError as e:
            obs["attach_error"] = e
            return obs
        child.go()
        records, status = child.finish()
        obs["records"] = records
        obs["status"] = status
        obs["count"] = bp.count()
    finally:
        if prog is not None:
            prog.close()
        if bp is not None:
            bp.close()
        child.abandon()
    if not _suppression_ok(obs):
        try:
            with BpfProgram.load(send_signal_program()):
                obs["send_signal_loads"] = True
        except KernelError as e:
            obs["send_signal_error"] = e
    return obs


def _suppression_ok(obs):
    return not _analyse(obs)


def _analyse(obs):
    """Problems with the kernel tier seen in a finished experiment."""
    problems = []
    status = obs.get("status")
    if status is None:
        return ["the self-test did not run"]
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        problems.append("the test child ended abnormally (%s)"
                        % _describe_status(status))
    records = obs.get("records", [])
    if [r[0] for r in records] != list(CALLS):
        problems.append("the test child reported %d of %d calls"
                        % (len(records), len(CALLS)))
    count = obs.get("count")
    if count != len(CALLS):
        problems.append("the breakpoint counted %s hits for %d calls"
                        % (count, len(CALLS)))
    for x, got, code, data, addr, _flags in records:
        if x != MATCH and got > 0:
            problems.append(
                "a hit whose predicate returned 0 still raised SIGTRAP "
                "(this kernel lacks 'perf/bpf: Allow a bpf program to "
                "suppress all sample side effects', Linux 6.10)")
        if x == MATCH:
            if got <= 0:
                problems.append("the matching hit raised no SIGTRAP")
            elif code != TRAP_PERF or data != SIG_DATA:
                problems.append(
                    "the matching hit's SIGTRAP had si_code %d and "
                    "si_perf_data %#x (expected %d and %#x)"
                    % (code, data, TRAP_PERF, SIG_DATA))
            elif addr != obs.get("target_addr"):
                problems.append("the matching hit's SIGTRAP had si_addr %#x"
                                % addr)
    # Report each distinct problem once, in order.
    return list(dict.fromkeys(problems))


def decide(obs):
    """Map observations to (tier, reasons)."""
    if "error" in obs:
        return TIER_PTRACE, ["the self-test could not run: %s: %s" % (
            type(obs["error"]).__name__, obs["error"])]
    if "arch_error" in obs:
        return TIER_PTRACE, [str(obs["arch_error"])]
    if "subject_error" in obs:
        return TIER_PTRACE, ["the self-test's child did not get ready: %s"
                             % obs["subject_error"]]
    if "perf_error" in obs:
        return TIER_PTRACE, [
            "perf hardware breakpoints with SIGTRAP are unavailable: %s"
            % obs["perf_error"]]
    if "bpf_error" in obs:
        e = obs["bpf_error"]
        if isinstance(e, PermissionDenied):
            return TIER_PTRACE, [
                "GDB may not load BPF programs: it needs CAP_BPF and "
                "CAP_PERFMON; fix: %s" % SETCAP_FIX]
        return TIER_PTRACE, ["the BPF test predicate did not load: %s" % e]
    if "attach_error" in obs:
        return TIER_PTRACE, [
            "a BPF program cannot be attached to a breakpoint event: %s"
            % obs["attach_error"]]
    problems = _analyse(obs)
    if not problems:
        return TIER_KERNEL, [
            "self-test passed: non-matching hits were counted (%d) and "
            "suppressed; the matching hit raised one SIGTRAP (TRAP_PERF)"
            % obs["count"]]
    if obs.get("send_signal_loads"):
        return TIER_KERNEL_SIGNAL, problems + [
            "a predicate calling bpf_send_signal_thread loads, so matching "
            "hits are reported with a real-time signal instead"]
    if "send_signal_error" in obs:
        problems.append("bpf_send_signal_thread is unavailable too: %s"
                        % obs["send_signal_error"])
    return TIER_PTRACE, problems


_cached = None


def probe(refresh=False):
    """The cached ProbeResult; the first call runs the self-test."""
    global _cached
    if _cached is None or refresh:
        start = time.perf_counter()
        try:
            obs = _self_test()
        except Exception as e:     # noqa: BLE001 - no self-test, no kernel tier
            obs = {"error": e}
        tier, reasons = decide(obs)
        _cached = ProbeResult(tier, reasons, obs,
                              time.perf_counter() - start)
    return _cached


def format_report(result):
    lines = ["tier: %s — %s" % (result.tier, TIER_EXPLANATION[result.tier])]
    lines += ["  - %s" % r for r in result.reasons]
    lines.append("probe time: %.1f ms" % (result.elapsed_s * 1000))
    return "\n".join(lines)


def main(argv=None):
    result = probe()
    print(format_report(result))
    details = result.details
    if "records" in details:
        for x, got, code, data, addr, flags in details["records"]:
            print("  call labs(%d): %s" % (
                x, "SIGTRAP si_code=%d si_perf_data=%#x si_addr=%#x "
                "si_perf_flags=%#x" % (code, data, addr, flags)
                if got > 0 else "no signal"))
        print("  perf count: %s" % details.get("count"))
    return 0 if result.tier == TIER_KERNEL else 1


if __name__ == "__main__":
    sys.exit(main())
