"""The workloads: C programs in bench/workloads/ (compiled here) and one real program.

A Workload knows how to run itself for a given number of hits H (the number
of times the breakpoint location executes) and which condition is true
exactly once in those H hits, in GDB's syntax and in hbreak-if's.
"""
import os
import subprocess
from dataclasses import dataclass
from typing import Callable, List

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
SOURCES = os.path.join(BENCH, "workloads")
BUILD = os.path.join(BENCH, ".build")
PYTHON = "/usr/bin/python3"

CFLAGS = ["-g", "-O0"]

# Workload (d): CPython calling libc's labs(i) through ctypes, i = 0 .. N-1.  One line,
# no quotes, so that it survives gdbserver's shell command line unchanged.
PYTHON_LOOP = ("import ctypes,sys,collections;f=ctypes.CDLL(None).labs;"
               "f.argtypes=[ctypes.c_long];f.restype=ctypes.c_long;"
               "collections.deque(map(f,range(int(sys.argv[1]))),0)")


@dataclass
class Workload:
    name: str
    title: str
    binary: str                          # what GDB loads (`file`)
    argv: Callable[[int], List[str]]     # hits -> command line
    location: str                        # where the breakpoint goes
    gdb_condition: Callable[[int], str]  # hits -> condition in GDB syntax
    hbreak_if_condition: Callable[[int], str]
    check: str                           # a GDB expression that identifies the stop
    expected: Callable[[int], int]       # hits -> value of `check` at the right stop
    threads: int = 1
    pending: bool = False                # the location is in a shared library
    short: str = ""                      # the plot's panel title
    watch_length: int = 0                # a data watchpoint on `location`'s bytes, not code

    @property
    def watch(self) -> bool:
        return self.watch_length > 0

    def valid_hits(self, hits: int) -> bool:
        return hits >= self.threads and hits % self.threads == 0


def _c_workload(name, title, condition, check, threads=1, program=None, short="",
                location="target", watch_length=0):
    binary = os.path.join(BUILD, program or name)

    def argv(hits):
        if program == "threads":
            return [binary, str(hits // threads), str(threads)]
        return [binary, str(hits)]

    return Workload(name=name, title=title, binary=binary, argv=argv, location=location,
                    gdb_condition=condition, hbreak_if_condition=condition, check=check,
                    expected=lambda hits: hits // threads - 1, threads=threads,
                    short=short or title, watch_length=watch_length)


def workloads(thread_count: int = 4) -> List[Workload]:
    """The workloads of the report: (a) loop, (b) mem, (c) threads, (d) python, (e) watch,
    (f) strings, (g) callers."""
    return [
        _c_workload("loop", "(a) tight loop, target(i), condition on an argument",
                    lambda h: f"i == {h - 1}", "i", short="(a) loop: i == N-1"),
        _c_workload("mem", "(b) memory condition through a pointer, p->id",
                    lambda h: f"p->id == {h - 1}", "p->id", short="(b) memory: p->id == N-1"),
        threads_workload(thread_count),
        Workload(name="python", title="(d) python3 -c loop calling libc labs(i), "
                 "register condition",
                 binary=PYTHON,
                 argv=lambda h: [PYTHON, "-c", PYTHON_LOOP, str(h)],
                 location="labs",
                 gdb_condition=lambda h: f"$rdi == {h - 1}",
                 hbreak_if_condition=lambda h: f"rdi == {h - 1}",
                 check="$rdi", expected=lambda h: h - 1, pending=True,
                 short="(d) python3, libc labs: rdi == N-1"),
        _c_workload("watch", "(e) writes to a global, a conditional watchpoint on it",
                    lambda h: f"state == {h - 1}", "state", location="state",
                    watch_length=8, short="(e) watch: state == N-1"),
        # At lookup's entry g_calls counts the calls before: N-1 at the last.
        _c_workload("strings", "(f) string condition on an argument, $_streq(name, \"needle\")",
                    lambda h: '$_streq(name, "needle")', "g_calls", location="lookup",
                    short='(f) strings: $_streq(name, "needle")'),
        _c_workload("callers", "(g) who called, $_caller_is(\"parse\")",
                    lambda h: '$_caller_is("parse")', "g_calls", location="helper",
                    short='(g) callers: $_caller_is("parse")'),
    ]


def threads_workload(thread_count: int) -> Workload:
    t = thread_count
    name = "threads" if t == 4 else f"threads{t}"
    return _c_workload(name, f"(c) {t} threads each calling target(tid, i)",
                       lambda h: f"tid == {t - 1} && i == {h // t - 1}", "i", threads=t,
                       program="threads", short=f"(c) {t} threads: tid == {t - 1} && i == n-1")


def build(verbose=True) -> None:
    """Compile every C workload into bench/.build/ (only when the source is newer)."""
    os.makedirs(BUILD, exist_ok=True)
    for source in sorted(os.listdir(SOURCES)):
        if not source.endswith(".c"):
            continue
        name = source[:-2]
        src = os.path.join(SOURCES, source)
        out = os.path.join(BUILD, name)
        if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
            continue
        command = ["gcc", *CFLAGS, "-o", out, src]
        if name in ("threads", "scale"):
            command.append("-pthread")
        if verbose:
            print("  " + " ".join(command))
        subprocess.run(command, check=True)
