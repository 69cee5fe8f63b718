/* bp_probe: what a perf hardware execution breakpoint does to the task it watches, with and
 * without a BPF program attached, with and without sigtrap, with and without a ptrace tracer.
 *
 * Raw syscalls only (perf_event_open, bpf, ptrace), no libbpf, so that the same source builds
 * on any Linux with a C compiler. A forked child calls target() N times; the parent opens the
 * breakpoint on the child and watches. Every case has a deadline: a hit that repeats forever is
 * reported as "hangs" and the child is killed, so the probe itself always ends.
 *
 * Output: one line per case, `BPPROBE {json}`, then `BPPROBE-SLOTS {json}`.
 * Usage: bp_probe [N] [timeout_seconds]; BPPROBE_ONLY=substring runs the matching cases only.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__aarch64__)
#define BP_LEN 4
#define INSN_LEN 4 /* where the PC is when the breakpointed instruction has run */
#define NT_ARM_HW_BREAK_ 0x402
#define NT_ARM_HW_WATCH_ 0x403
static uint64_t uc_pc(ucontext_t *uc) { return uc->uc_mcontext.pc; }
static uint64_t regs_pc(const uint64_t *r) { return r[32]; } /* regs[31], sp, pc, pstate */
#elif defined(__x86_64__)
#define BP_LEN 8 /* x86 wants sizeof(long) for execute breakpoints */
#define INSN_LEN 0 /* the first instruction's length varies; not checked on x86 */
static uint64_t uc_pc(ucontext_t *uc) { return uc->uc_mcontext.gregs[REG_RIP]; }
static uint64_t regs_pc(const uint64_t *r) { return r[16]; } /* struct user_regs_struct */
#else
#error "bp_probe knows the registers of aarch64 and x86_64 only"
#endif

#define TRAP_PERF_ 6
#define HIT_RTSIG 40 /* the kernel-signal tier's real-time signal */
#define BPF_SEND_RTSIG 2 /* ccase.bpf: send HIT_RTSIG with bpf_send_signal_thread, return 0 */
#define BPF_FUNC_send_signal_thread_ 117

/* What the child reports, in memory shared across fork (also readable while it hangs). */
struct shared {
    volatile long progress;      /* index of the call under way */
    volatile long finished;
    volatile long signals;
    volatile long signals_at_bp, signals_after_bp, signals_elsewhere;
    volatile long repeats;       /* signals for a call that already had one */
    volatile long last_signalled;
    volatile long first_code, first_perf_type;
    volatile uint64_t first_addr, first_pc, first_perf_data;
};
static struct shared *sh;

__attribute__((noinline)) void target(long i)
{
    static volatile long sink;
    sink += i;
    __asm__ volatile("" ::: "memory");
}

/* Watched by a plain counting breakpoint in the traced cases: do the thread's other hardware
 * breakpoints (GDB's own hbreaks among them) keep working after a stop at target()? */
__attribute__((noinline)) void bystander(long i)
{
    static volatile long sink;
    sink -= i;
    __asm__ volatile("" ::: "memory");
}

static long sys_perf_event_open(struct perf_event_attr *a, pid_t pid)
{
    return syscall(SYS_perf_event_open, a, pid, -1, -1, 0);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Hand-encoded BPF_PROG_TYPE_PERF_EVENT programs: `r0 = ret; exit`, or for BPF_SEND_RTSIG
 * `r1 = HIT_RTSIG; call bpf_send_signal_thread; r0 = 0; exit`. */
static int load_bpf(int ret)
{
    struct bpf_insn insns[4];
    int n = 0;
    memset(insns, 0, sizeof insns);
    if (ret == BPF_SEND_RTSIG) {
        insns[n].code = BPF_ALU64 | BPF_MOV | BPF_K;
        insns[n].dst_reg = 1;
        insns[n++].imm = HIT_RTSIG;
        insns[n].code = BPF_JMP | BPF_CALL;
        insns[n++].imm = BPF_FUNC_send_signal_thread_;
        ret = 0;
    }
    insns[n].code = BPF_ALU64 | BPF_MOV | BPF_K;
    insns[n].dst_reg = 0;
    insns[n++].imm = ret;
    insns[n++].code = BPF_JMP | BPF_EXIT;
    static char log[4096];
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_PERF_EVENT;
    a.insn_cnt = n;
    a.insns = (uint64_t)(uintptr_t)insns;
    a.license = (uint64_t)(uintptr_t)"GPL";
    a.log_level = 1;
    a.log_size = sizeof log;
    a.log_buf = (uint64_t)(uintptr_t)log;
    int fd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
    if (fd < 0)
        fprintf(stderr, "bpf(PROG_LOAD): %s\n%s\n", strerror(errno), log);
    return fd;
}

static void breakpoint_attr(struct perf_event_attr *a, uint64_t addr, int type, int len)
{
    memset(a, 0, sizeof *a);
    a->type = PERF_TYPE_BREAKPOINT;
    a->size = sizeof *a;
    a->bp_type = type;
    a->bp_addr = addr;
    a->bp_len = len;
    a->sample_period = 1;
    a->disabled = 1;
    a->exclude_kernel = 1;
    a->exclude_hv = 1;
    a->remove_on_exec = 1;
}

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    uint64_t pc = uc_pc((ucontext_t *)ctx), bp = (uint64_t)(uintptr_t)target;
    const char *raw = (const char *)si;
    if (sh->signals++ == 0) {
        sh->first_code = si->si_code;
        sh->first_addr = (uint64_t)(uintptr_t)si->si_addr;
        sh->first_pc = pc;
        /* si_perf_data / si_perf_type sit after si_addr (uapi siginfo, 64-bit). */
        memcpy((void *)&sh->first_perf_data, raw + 24, 8);
        uint32_t type;
        memcpy(&type, raw + 32, 4);
        sh->first_perf_type = type;
    }
    if (pc == bp)
        sh->signals_at_bp++;
    else if (INSN_LEN && pc == bp + INSN_LEN)
        sh->signals_after_bp++;
    else
        sh->signals_elsewhere++;
    if (sh->last_signalled == sh->progress)
        sh->repeats++;
    sh->last_signalled = sh->progress;
}

static void child_loop(long n)
{
    for (long i = 0; i < n; i++) {
        sh->progress = i;
        target(i);
        bystander(i);
    }
    sh->finished = 1;
    _exit(0);
}

enum resume {
    NO_TRACER,
    CONT,        /* PTRACE_CONT, signal 0: GDB's `continue` from a stop it did not plan */
    STEP_CONT,   /* PTRACE_SINGLESTEP, wait, PTRACE_CONT: `stepi` then `continue` */
    STEP_ONLY,   /* resume a hit with PTRACE_SINGLESTEP, a step report with PTRACE_CONT */
    DISABLE_STEP_ENABLE, /* IOC_DISABLE, PTRACE_SINGLESTEP, wait, IOC_ENABLE, PTRACE_CONT:
                            how GDB steps off its own hardware breakpoint */
    SETTLE_STEP_CONT, /* settle() the stopped thread, then as DISABLE_STEP_ENABLE */
};
static const char *const resume_names[] = {"none", "cont", "step+cont", "step-only",
                                           "disable+step+enable", "settle+step+cont"};

struct ccase {
    const char *name;
    int sigtrap;
    int bpf;        /* -1: no program; 0/1 its return value; BPF_SEND_RTSIG */
    int handler;    /* the child counts SIGTRAPs (and HIT_RTSIG) in a handler */
    enum resume ptrace;
};

static void print_common(const struct ccase *c, const char *outcome, long count, double secs,
                         long n)
{
    printf("BPPROBE {\"case\": \"%s\", \"sigtrap\": %d, \"bpf\": %d, \"ptrace\": %d, "
           "\"resume\": \"%s\", \"n\": %ld, \"outcome\": \"%s\", \"count\": %ld, "
           "\"calls_done\": %ld, \"seconds\": %.3f",
           c->name, c->sigtrap, c->bpf, c->ptrace, resume_names[c->ptrace], n, outcome, count,
           sh->finished ? n : sh->progress, secs);
}

static int open_case_event(const struct ccase *c, pid_t pid, int *bpf_fd)
{
    struct perf_event_attr a;
    breakpoint_attr(&a, (uint64_t)(uintptr_t)target, HW_BREAKPOINT_X, BP_LEN);
    a.sigtrap = c->sigtrap;
    a.sig_data = 0x5151;
    int fd = sys_perf_event_open(&a, pid);
    if (fd < 0) {
        fprintf(stderr, "%s: perf_event_open: %s\n", c->name, strerror(errno));
        return -1;
    }
    *bpf_fd = -1;
    if (c->bpf >= 0) {
        *bpf_fd = load_bpf(c->bpf);
        if (*bpf_fd < 0 || ioctl(fd, PERF_EVENT_IOC_SET_BPF, *bpf_fd) != 0) {
            fprintf(stderr, "%s: SET_BPF: %s\n", c->name, strerror(errno));
            close(fd);
            return -1;
        }
    }
    if (ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
        fprintf(stderr, "%s: ENABLE: %s\n", c->name, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static const char *exit_outcome(int status)
{
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "finishes"
           : WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "fails";
}

static long read_count(int fd)
{
    uint64_t v = 0;
    return read(fd, &v, sizeof v) == sizeof v ? (long)v : -1;
}

/* Cases a-f: no tracer; the child reports through `sh`. */
static void run_plain(const struct ccase *c, long n, double timeout)
{
    int go[2];
    memset(sh, 0, sizeof *sh);
    sh->last_signalled = -1;
    if (pipe(go) != 0)
        exit(2);
    pid_t pid = fork();
    if (pid == 0) {
        close(go[1]);
        if (c->handler) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_sigaction = on_trap;
            sa.sa_flags = SA_SIGINFO;
            sigaction(SIGTRAP, &sa, NULL);
            sigaction(HIT_RTSIG, &sa, NULL);
        }
        char b;
        if (read(go[0], &b, 1) != 1)
            _exit(3);
        child_loop(n);
    }
    close(go[0]);
    int bpf_fd, fd = open_case_event(c, pid, &bpf_fd);
    double t0 = now();
    if (write(go[1], "g", 1) != 1)
        exit(2);
    close(go[1]);
    const char *outcome = "hangs";
    int status = 0;
    while (now() - t0 < timeout) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            outcome = exit_outcome(status);
            break;
        }
        usleep(5000);
    }
    double secs = now() - t0;
    long count = fd >= 0 ? read_count(fd) : -1;
    if (strcmp(outcome, "hangs") == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    print_common(c, fd < 0 ? "setup-failed" : outcome, count, secs, n);
    printf(", \"signals\": %ld, \"signals_at_bp\": %ld, \"signals_after_bp\": %ld, "
           "\"signals_elsewhere\": %ld, \"repeats\": %ld, \"si_code\": %ld, "
           "\"si_addr_is_bp\": %d, \"first_pc\": \"%s\", \"si_perf_data\": %lu, "
           "\"si_perf_type\": %ld}\n",
           sh->signals, sh->signals_at_bp, sh->signals_after_bp, sh->signals_elsewhere,
           sh->repeats, sh->first_code,
           sh->signals ? sh->first_addr == (uint64_t)(uintptr_t)target : -1,
           !sh->signals ? "" : sh->first_pc == (uint64_t)(uintptr_t)target ? "bp"
           : INSN_LEN && sh->first_pc == (uint64_t)(uintptr_t)target + INSN_LEN ? "bp+insn"
                                                                      : "other",
           (unsigned long)sh->first_perf_data, sh->first_perf_type);
    fflush(stdout);
    if (fd >= 0)
        close(fd);
    if (bpf_fd >= 0)
        close(bpf_fd);
}

static int get_pc(pid_t pid, uint64_t *pc)
{
    uint64_t regs[64];
    struct iovec iov = {regs, sizeof regs};
    if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) != 0)
        return -1;
    *pc = regs_pc(regs);
    return 0;
}

/* Waits for a state change of a traced child, up to the deadline; 0 if none came. */
static pid_t wait_until(pid_t pid, int *status, double deadline)
{
    for (;;) {
        pid_t got = waitpid(pid, status, WNOHANG);
        if (got != 0 || now() > deadline)
            return got;
        usleep(200);
    }
}

/* A thread stopped by a perf breakpoint's signal on arm64 still has the kernel's own step over
 * that breakpoint pending: its breakpoints suspended (bps_disabled), single-step armed
 * (TIF_SINGLESTEP). PTRACE_CONT drops the step and leaves the breakpoints suspended; a
 * PTRACE_SINGLESTEP completes it but the kernel reports nothing and the thread runs on.
 * settle() completes the pending step on a NOP: with `NOP; BRK` written at the PC, a
 * PTRACE_SINGLESTEP runs the NOP, the kernel re-enables the breakpoints and lets the thread run
 * on into the BRK; the code and the PC are then put back. The thread is where it was, with
 * nothing pending. (A BRK alone does not do it: the step stays pending across the BRK trap.
 * PSTATE.SS cannot be cleared through NT_PRSTATUS: the kernel makes it follow TIF_SINGLESTEP.)
 * The perf event must be disabled meanwhile. Returns 1 if the thread stopped after the NOP. */
static int settle(pid_t pid, uint64_t pc_expected, double deadline)
{
#if defined(__aarch64__)
    errno = 0;
    long word = ptrace(PTRACE_PEEKTEXT, pid, (void *)pc_expected, 0);
    if (errno)
        return 0;
    long nop_brk = (long)(0xd4200000UL << 32 | 0xd503201fUL); /* NOP; BRK #0 (little-endian) */
    ptrace(PTRACE_POKETEXT, pid, (void *)pc_expected, (void *)nop_brk);
    int status;
    ptrace(PTRACE_SINGLESTEP, pid, 0, 0);
    pid_t got = wait_until(pid, &status, deadline);
    ptrace(PTRACE_POKETEXT, pid, (void *)pc_expected, (void *)word);
    if (got != pid || !WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP)
        return 0;
    uint64_t regs[34];
    struct iovec iov = {regs, sizeof regs};
    if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) != 0)
        return 0;
    int ok = regs[32] == pc_expected + 4; /* after the NOP: at the BRK, or a reported step */
    regs[32] = pc_expected;
    ptrace(PTRACE_SETREGSET, pid, (void *)NT_PRSTATUS, &iov);
    return ok;
#else
    (void)pid, (void)pc_expected, (void)deadline;
    return 0;
#endif
}

struct slots {
    int brk, wrp;       /* from NT_ARM_HW_BREAK / NT_ARM_HW_WATCH dbg_info */
    int arch;
};
static struct slots regset_slots = {-1, -1, -1};

static void read_regset_slots(pid_t pid)
{
#if defined(__aarch64__)
    /* struct user_hwdebug_state: u32 dbg_info, u32 pad, then the registers. */
    uint32_t buf[2 + 16 * 4];
    struct iovec iov = {buf, sizeof buf};
    if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_ARM_HW_BREAK_, &iov) == 0) {
        regset_slots.brk = buf[0] & 0xff;
        regset_slots.arch = (buf[0] >> 8) & 0xff;
    }
    iov.iov_len = sizeof buf;
    if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_ARM_HW_WATCH_, &iov) == 0)
        regset_slots.wrp = buf[0] & 0xff;
#else
    (void)pid;
#endif
}

/* Case g: the parent traces the child like GDB; every SIGTRAP stop is counted and resumed
 * with signal 0 (ptrace == 1), or single-stepped once and then resumed (ptrace == 2). */
static void run_traced(const struct ccase *c, long n, double timeout)
{
    memset(sh, 0, sizeof *sh);
    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        child_loop(n);
    }
    int status;
    waitpid(pid, &status, 0);
    read_regset_slots(pid);
    int bpf_fd, fd = open_case_event(c, pid, &bpf_fd);
    struct perf_event_attr ba;
    breakpoint_attr(&ba, (uint64_t)(uintptr_t)bystander, HW_BREAKPOINT_X, BP_LEN);
    ba.disabled = 0;
    int bystander_fd = sys_perf_event_open(&ba, pid);
    const uint64_t bp = (uint64_t)(uintptr_t)target;
    long step_reports = 0, step_ran_on = 0, first_step_code = -1, settled = 0;
    long stops = 0, at_bp = 0, after_bp = 0, elsewhere = 0, repeats = 0, other_signals = 0;
    long step_after = 0, step_at_bp = 0, step_elsewhere = 0, first_code = -1;
    long last = -1, stop_cap = 20 * n + 100, first_step_offset = -1, first_stop_offset = -1;
    const char *outcome = "hangs";
    double t0 = now(), deadline = t0 + timeout;
    ptrace(PTRACE_CONT, pid, 0, 0);
    while (fd >= 0) {
        pid_t got = wait_until(pid, &status, deadline);
        if (got == 0)
            break;
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            outcome = exit_outcome(status);
            pid = -1;
            break;
        }
        int sig = WSTOPSIG(status);
        if (sig != SIGTRAP && sig != HIT_RTSIG) {
            other_signals++;
            ptrace(PTRACE_CONT, pid, 0, (void *)(long)sig);
            continue;
        }
        uint64_t pc = 0;
        siginfo_t si;
        memset(&si, 0, sizeof si);
        get_pc(pid, &pc);
        ptrace(PTRACE_GETSIGINFO, pid, 0, &si);
        if (sig == SIGTRAP && si.si_code != TRAP_PERF_) {
            /* A single-step report (STEP_ONLY): not a hit. */
            step_reports++;
            ptrace(PTRACE_CONT, pid, 0, 0);
            continue;
        }
        if (first_code < 0)
            first_code = si.si_code;
        if (stops++ == 0)
            first_stop_offset = (long)(pc - bp);
        if (pc == bp)
            at_bp++;
        else if (INSN_LEN && pc == bp + INSN_LEN)
            after_bp++;
        else
            elsewhere++;
        if (last == sh->progress)
            repeats++;
        last = sh->progress;
        if (stops > stop_cap) {
            outcome = "hangs (stops repeat)";
            break;
        }
        if (c->ptrace == STEP_ONLY) {
            ptrace(PTRACE_SINGLESTEP, pid, 0, 0);
            continue;
        }
        if (c->ptrace == STEP_CONT || c->ptrace == DISABLE_STEP_ENABLE ||
            c->ptrace == SETTLE_STEP_CONT) {
            long before = sh->progress;
            if (c->ptrace != STEP_CONT)
                ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
            if (c->ptrace == SETTLE_STEP_CONT)
                settled += settle(pid, pc, deadline);
            ptrace(PTRACE_SINGLESTEP, pid, 0, 0);
            pid_t got = wait_until(pid, &status, deadline);
            if (got == pid && !WIFSTOPPED(status)) {
                outcome = exit_outcome(status);
                step_ran_on++;
                pid = -1;
                break;
            }
            if (got != pid)
                break;
            if (c->ptrace != STEP_CONT)
                ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
            memset(&si, 0, sizeof si);
            ptrace(PTRACE_GETSIGINFO, pid, 0, &si);
            if (first_step_code == -1)
                first_step_code = WSTOPSIG(status) == SIGTRAP ? si.si_code : -WSTOPSIG(status);
            if (sh->progress != before || sh->finished)
                step_ran_on++; /* the step was not reported: the thread ran to another stop */
            get_pc(pid, &pc);
            if (first_step_offset == -1)
                first_step_offset = (long)(pc - bp);
            if (pc == bp)
                step_at_bp++;
            else if (INSN_LEN && pc == bp + INSN_LEN)
                step_after++;
            else
                step_elsewhere++;
        }
        ptrace(PTRACE_CONT, pid, 0, 0);
    }
    double secs = now() - t0;
    long count = fd >= 0 ? read_count(fd) : -1;
    long bystander_count = bystander_fd >= 0 ? read_count(bystander_fd) : -1;
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    print_common(c, fd < 0 ? "setup-failed" : outcome, count, secs, n);
    printf(", \"stops\": %ld, \"stops_at_bp\": %ld, \"stops_after_bp\": %ld, "
           "\"stops_elsewhere\": %ld, \"repeats\": %ld, \"si_code\": %ld, "
           "\"other_signals\": %ld, \"step_lands_after_bp\": %ld, \"step_stays_at_bp\": %ld, "
           "\"step_lands_elsewhere\": %ld, \"first_stop_pc_minus_bp\": %ld, "
           "\"first_step_pc_minus_bp\": %ld, \"first_step_si_code\": %ld, "
           "\"steps_ran_on\": %ld, \"step_reports\": %ld, \"bystander_count\": %ld, "
           "\"settled\": %ld}\n",
           stops, at_bp, after_bp, elsewhere, repeats, first_code, other_signals, step_after,
           step_at_bp, step_elsewhere, first_stop_offset, first_step_offset, first_step_code,
           step_ran_on, step_reports, bystander_count, settled);
    fflush(stdout);
    if (fd >= 0)
        close(fd);
    if (bystander_fd >= 0)
        close(bystander_fd);
    if (bpf_fd >= 0)
        close(bpf_fd);
}

/* Opens execute breakpoints, then write watchpoints, on a waiting child until the kernel
 * refuses (ENOSPC: no free debug register). */
static void count_slots(void)
{
    static long words[64];
    int go[2];
    if (pipe(go) != 0)
        exit(2);
    pid_t pid = fork();
    if (pid == 0) {
        char b;
        close(go[1]);
        _exit(read(go[0], &b, 1) == 1 ? 0 : 1);
    }
    close(go[0]);
    int fds[64], found[2], err[2];
    for (int kind = 0; kind < 2; kind++) {
        int k = 0;
        for (; k < 32; k++) {
            struct perf_event_attr a;
            if (kind == 0)
                breakpoint_attr(&a, (uint64_t)(uintptr_t)target + 4 * k, HW_BREAKPOINT_X,
                                BP_LEN);
            else
                breakpoint_attr(&a, (uint64_t)(uintptr_t)&words[k], HW_BREAKPOINT_W, 4);
            fds[k] = sys_perf_event_open(&a, pid);
            if (fds[k] < 0)
                break;
        }
        found[kind] = k;
        err[kind] = errno;
        while (k-- > 0)
            close(fds[k]);
    }
    if (write(go[1], "g", 1) != 1)
        exit(2);
    close(go[1]);
    waitpid(pid, NULL, 0);
    printf("BPPROBE-SLOTS {\"perf_breakpoints\": %d, \"perf_breakpoints_error\": \"%s\", "
           "\"perf_watchpoints\": %d, \"perf_watchpoints_error\": \"%s\", "
           "\"regset_breakpoints\": %d, \"regset_watchpoints\": %d, \"debug_arch\": %d}\n",
           found[0], strerrorname_np(err[0]) ? strerrorname_np(err[0]) : "?", found[1],
           strerrorname_np(err[1]) ? strerrorname_np(err[1]) : "?", regset_slots.brk,
           regset_slots.wrp, regset_slots.arch);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    double timeout = argc > 2 ? atof(argv[2]) : 30;
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("BPPROBE-TARGET {\"target\": \"%p\", \"n\": %ld, \"timeout\": %g}\n",
           (void *)target, n, timeout);
    static const struct ccase cases[] = {
        {"a-count", 0, -1, 0, NO_TRACER},
        {"b-bpf0", 0, 0, 0, NO_TRACER},
        {"c-bpf1", 0, 1, 0, NO_TRACER},
        {"d-sigtrap", 1, -1, 1, NO_TRACER},
        {"e-sigtrap-bpf0", 1, 0, 1, NO_TRACER},
        {"f-sigtrap-bpf1", 1, 1, 1, NO_TRACER},
        {"h-rtsig", 0, BPF_SEND_RTSIG, 1, NO_TRACER},
        {"g-ptrace-sigtrap", 1, -1, 0, CONT},
        {"g-ptrace-sigtrap-bpf0", 1, 0, 0, CONT},
        {"g-ptrace-sigtrap-bpf1", 1, 1, 0, CONT},
        {"h-ptrace-rtsig", 0, BPF_SEND_RTSIG, 0, CONT},
        {"g-ptrace-step-sigtrap", 1, -1, 0, STEP_CONT},
        {"g-ptrace-step-sigtrap-bpf1", 1, 1, 0, STEP_CONT},
        {"g-ptrace-disable-step-sigtrap-bpf1", 1, 1, 0, DISABLE_STEP_ENABLE},
        {"g-ptrace-steponly-sigtrap-bpf1", 1, 1, 0, STEP_ONLY},
        {"g-ptrace-settle-sigtrap-bpf1", 1, 1, 0, SETTLE_STEP_CONT},
        {"h-ptrace-steponly-rtsig", 0, BPF_SEND_RTSIG, 0, STEP_ONLY},
    };
    const char *only = getenv("BPPROBE_ONLY");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (only && !strstr(cases[i].name, only))
            continue;
        if (cases[i].ptrace)
            run_traced(&cases[i], n, timeout);
        else
            run_plain(&cases[i], n, timeout);
    }
    count_slots();
    return 0;
}
