"""The pause at a library load: a program dlopens 20 libraries, timing each dlopen itself, while
a conditional breakpoint is pending in the last one; then it calls that library's function.

    python3 -m bench.library_load [--repeats N] [--out DIR]

writes DIR/library_load.md (default bench/results/).  Rows: GDB with no breakpoint, GDB's own
`break f19 if COND` and `hbreak-if f19 COND`, both set before `run`; each column is the minimum
over the repeats of a dlopen's wall time in the program, in milliseconds.  The last library's
load is where a pending hbreak-if is compiled and armed; the same run reports who decided the
hits of f19 (the kernel, or GDB).
"""
import argparse
import os
import re
import subprocess

from . import build
from .configs import GDB, PLUGIN

LIBRARIES = 20
CALLS = 3000
CONDITION = f"x == {CALLS - 1}"
_DIR = os.path.join(build.BUILD, "library_load")
_LIBRARY = ("__attribute__((noinline)) int f{k}(int x) "
            "{{ static volatile int s; s += x; return x; }}\n")
_PROGRAM = r"""
#include <dlfcn.h>
#include <stdio.h>
#include <time.h>
static double now_ms(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
int main(void) {
    char path[4096], name[16]; void *lib = 0; double ms[%(libraries)d];
    for (int k = 0; k < %(libraries)d; k++) {
        snprintf(path, sizeof path, "%(dir)s/libf%%d.so", k);
        double start = now_ms();
        lib = dlopen(path, RTLD_NOW);
        ms[k] = now_ms() - start;
        if (!lib) return 1;
    }
    snprintf(name, sizeof name, "f%%d", %(libraries)d - 1);
    int (*f)(int) = (int (*)(int))dlsym(lib, name);
    for (int i = 0; i < %(calls)d; i++) f(i);
    for (int k = 0; k < %(libraries)d; k++) printf("LOAD %%d %%.3f\n", k, ms[k]);
    return 0;
}
"""
CONFIGS = {
    "GDB, no breakpoint": [],
    "GDB `break f19 if COND`": ["set breakpoint pending on", f"break f19 if {CONDITION}"],
    "`hbreak-if f19 COND`": [f"hbreak-if f19 {CONDITION}"],
}


def compile_all() -> str:
    os.makedirs(_DIR, exist_ok=True)
    for k in range(LIBRARIES):
        source = os.path.join(_DIR, f"f{k}.c")
        with open(source, "w") as f:
            f.write(_LIBRARY.format(k=k))
        subprocess.run(["gcc", "-g", "-O0", "-shared", "-fPIC", "-o",
                        os.path.join(_DIR, f"libf{k}.so"), source], check=True)
    source, program = os.path.join(_DIR, "loader.c"), os.path.join(_DIR, "loader")
    with open(source, "w") as f:
        f.write(_PROGRAM % {"libraries": LIBRARIES, "dir": _DIR, "calls": CALLS})
    subprocess.run(["gcc", "-g", "-O0", "-o", program, source, "-ldl"], check=True)
    return program


def run_once(program: str, commands) -> dict:
    argv = [GDB, "-batch", "-nx", "-x", PLUGIN, "-ex", "set pagination off"]
    for command in [*commands, "run", "continue"]:
        argv += ["-ex", command]
    done = subprocess.run([*argv, program], capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    loads = {int(k): float(ms) for k, ms in re.findall(r"^LOAD (\d+) ([\d.]+)$", done.stdout,
                                                        re.M)}
    if len(loads) != LIBRARIES:
        raise RuntimeError(f"library load run failed: {done.stdout[-500:]}{done.stderr[-500:]}")
    filtered = re.search(r"\(([\d,]+) hits filtered in the kernel\)", done.stdout)
    stopped = re.search(r"^(hbreak-if|Breakpoint) 1, f19 \(x=(\d+)\)", done.stdout, re.M)
    return {"loads": loads, "filtered": filtered.group(1) if filtered else "0",
            "stopped": stopped.group(2) if stopped else None}


def measure(repeats: int) -> dict:
    program = compile_all()
    rows = {}
    for name, commands in CONFIGS.items():
        runs = [run_once(program, commands) for _ in range(repeats)]
        rows[name] = {"loads": {k: min(run["loads"][k] for run in runs)
                                for k in range(LIBRARIES)},
                      "filtered": runs[0]["filtered"], "stopped": runs[0]["stopped"]}
    return rows


def markdown(rows: dict, repeats: int) -> str:
    base = rows["GDB, no breakpoint"]["loads"]
    last = LIBRARIES - 1
    lines = [f"# The pause at a library load ({LIBRARIES} dlopens, pending breakpoint in the "
             f"last; minimum of {repeats} runs)", "",
             "| configuration | median of loads 0-18, ms | load 19, ms | load 19 over no "
             "breakpoint, ms | stop at x | hits filtered in the kernel |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in rows.items():
        earlier = sorted(row["loads"][k] for k in range(last))
        lines.append(f"| {name} | {earlier[len(earlier) // 2]:.1f} | {row['loads'][last]:.1f} "
                     f"| {row['loads'][last] - base[last]:+.1f} | {row['stopped'] or '-'} "
                     f"| {row['filtered']} |")
    lines += ["", f"Target: a pending hbreak-if adds at most 50 ms to the load that resolves it; "
              f"its {CALLS - 1} non-matching calls are rejected in the kernel."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(build.BENCH, "results"))
    args = parser.parse_args(argv)
    text = markdown(measure(args.repeats), args.repeats)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "library_load.md"), "w") as f:
        f.write(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
