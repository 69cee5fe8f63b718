"""Security: a condition or a location is data, never a command.

Whatever text a user, a script or a file hands to hbreak-if -- on the command line, through
the Python API (gdb_plugin.hbreak_if) or as the catchpoint's GDB condition -- it is a GDB
expression (or GDB's error), and nothing in it runs: no GDB command, no shell command, no
Python.  The detector: tests/programs/rel_sec.c has variables named `p` and `rel_sec_marker`,
so `i\\n| p | rel_sec_marker` is valid C to GDB's parser while its second line is GDB's pipe
command running the shell command rel_sec_marker -- which the test puts first in PATH as a
script that creates a file.  GDB's convenience variable $pwned and the program's survival
catch smuggled `set` and `kill` commands.

Also checked statically: the plugin creates no process but its two forked children (the BCC
compiler and the capability self-test), neither of which runs another program, and changes no
credentials or capabilities, but for the self-test's child emptying its own capability sets.
"""
import os
import re

import pytest

from harness.gdb import run_gdb
from harness.paths import REPO
from harness.programs import build

PLUGIN_DIR = REPO / "gdb_plugin"


@pytest.fixture
def trap(tmp_path):
    """(env, marker): a PATH where the shell command `rel_sec_marker` creates `marker`."""
    marker = tmp_path / "executed"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "rel_sec_marker"
    script.write_text(f"#!/bin/sh\necho executed >> {marker}\n")
    script.chmod(0o755)
    for name in ("touch", "pwned"):
        (bin_dir / name).write_text(f"#!/bin/sh\necho {name} >> {marker}\n")
        (bin_dir / name).chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}, marker


@pytest.fixture(scope="module")
def sec():
    return build("rel_sec")


def _nothing_ran(result, marker):
    assert not marker.exists(), f"a smuggled command ran:\n{marker.read_text()}\n{result}"
    assert "not found" not in result.stderr, result          # the shell was asked to run it
    assert result.values().get(1) == "void", result          # `print $pwned`: never set


# -- the command line ---------------------------------------------------------------------------

CLI_PAYLOADS = [
    "i == 1; shell rel_sec_marker",
    "i == 1 ; set $pwned = 1",
    "$(rel_sec_marker)",
    "`rel_sec_marker`",
    "i == 1 | shell rel_sec_marker",
    "i == 1 || python (0)",              # `python` is a function of the program: a plain call
    "python (0)",
    "i == 1 && echo",
    "!rel_sec_marker",
    "i == 1 \\ shell rel_sec_marker",
    "$_shell(\"rel_sec_marker\")",
    "i == 1 # ; shell rel_sec_marker",
    "\"; shell rel_sec_marker; \"",
]


def test_condition_cannot_smuggle_a_command_from_the_command_line(kernel_tier, sec, trap):
    env, marker = trap
    commands = ["break main", "run"]
    commands += [f"hbreak-if target {payload}" for payload in CLI_PAYLOADS]
    commands += ["print $pwned", "print argc", "info hbreak-if"]
    result = run_gdb(sec, commands, env=env, args=["10"])
    _nothing_ran(result, marker)
    # Each is a GDB error or a plain expression; the program is still there, stopped.
    assert result.values().get(2) == "2", result
    assert "Traceback" not in result.output


# -- the Python API and GDB's own condition ------------------------------------------------------

API_SCRIPT = """
import gdb, gdb_plugin
for location, condition in {cases!r}:
    try:
        bp = gdb_plugin.hbreak_if(location, condition)
        print("ACCEPTED", repr(location), repr(condition))
        bp.delete()
    except (gdb.error, gdb.GdbError) as error:
        print("REFUSED", repr(location), repr(condition), "--", error)
"""

NEWLINE_CONDITIONS = [
    ("target", "i\n| p | rel_sec_marker"),
    ("target", "i == 3\n| p | rel_sec_marker"),
    ("target", "i == 3\r| p | rel_sec_marker"),
    ("target", "(i == 3) && (p == 0)\n| p | rel_sec_marker"),
]
NEWLINE_LOCATIONS = [
    ("target, i\n| p | rel_sec_marker", "1"),
    ("rel_sec.c:19, i\n| p | rel_sec_marker", "i == 1"),
]


def _api(sec, env, cases, tmp_path, extra=()):
    script = tmp_path / "api.py"
    script.write_text(API_SCRIPT.format(cases=cases))
    return run_gdb(sec, ["break main", "run", f"source {script}", *extra, "print $pwned",
                         "continue"], env=env, args=["10"])


def test_condition_with_a_newline_runs_no_command(kernel_tier, sec, trap, tmp_path):
    """Was: command injection through the Python API: a condition holding a newline reaches
    gdb.execute('maint agent-eval -at LOCATION, CONDITION') whole (gdbside/agent.py), and
    GDB runs each line as a command; `i\\n| p | rel_sec_marker` (valid C: i | p |
    rel_sec_marker) makes line 2 GDB's pipe command, which runs the shell command
    rel_sec_marker ('sh: 1: rel_sec_marker: not found' without the trap). GDB's parser takes
    a newline as a blank, so the breakpoint is accepted"""
    env, marker = trap
    result = _api(sec, env, NEWLINE_CONDITIONS, tmp_path)
    _nothing_ran(result, marker)


def test_location_with_a_newline_runs_no_command(kernel_tier, sec, trap, tmp_path):
    """Was: command injection through the Python API's location: `target, i\\n| p |
    rel_sec_marker` is accepted by GDB's linespec parser as `target`, and the whole text
    becomes the -at argument of `maint agent-eval`, whose second line runs as a command (the
    shell runs `rel_sec_marker,`)"""
    env, marker = trap
    result = _api(sec, env, NEWLINE_LOCATIONS, tmp_path)
    _nothing_ran(result, marker)


def test_catchpoint_condition_set_from_python_runs_no_command(kernel_tier, sec, trap, tmp_path):
    """GDB's own API: the catchpoint's condition (gdb.Breakpoint.condition) becomes the
    hbreak-if condition; with a newline in it, nothing may run either."""
    env, marker = trap
    script = tmp_path / "condition.py"
    script.write_text(
        "import gdb, gdb_plugin\n"
        "bp = gdb_plugin.hbreak_if('target', 'i == 1')\n"
        "catchpoint = [b for b in gdb.breakpoints() if b.number == bp.number][0]\n"
        "try:\n"
        "    catchpoint.condition = 'echo\\n| p | rel_sec_marker'\n"
        "except gdb.error as error:\n"
        "    print('REFUSED', error)\n")
    result = run_gdb(sec, ["break main", "run", f"source {script}", "print $pwned",
                           "continue", "continue"], env=env, args=["10"])
    _nothing_ran(result, marker)


def test_plain_conditions_through_the_api_run_nothing(kernel_tier, sec, trap, tmp_path):
    """Without a newline the same text is one expression: refused or evaluated, never run."""
    env, marker = trap
    cases = [("target", "i | p | rel_sec_marker"), ("target", "python (i) == 3"),
             ("target", "i == 1; shell rel_sec_marker"), ("target", "$(rel_sec_marker)")]
    result = _api(sec, env, cases, tmp_path)
    _nothing_ran(result, marker)
    assert result.stdout.count("ACCEPTED") + result.stdout.count("REFUSED") == 4, result
    assert "ACCEPTED 'target' 'i | p | rel_sec_marker'" in result.stdout


def test_c_predicate_is_compiled_for_the_kernel_not_run(kernel_tier, bcc, sec, trap):
    """A C predicate is BPF code BCC compiles; what it names from libc is a compile error,
    and an #include reads a file with the user's own permissions (clang shows a line)."""
    env, marker = trap
    result = run_gdb(sec, ["break main", "run",
                           "hbreak-if -c target ({ system(\"rel_sec_marker\"); 1; })",
                           "hbreak-if -c target __builtin_trap(), 1",
                           "info hbreak-if", "continue"], env=env, args=["10"])
    assert not marker.exists()
    assert "Traceback" not in result.output
    assert "exited normally" in result.stdout


# -- what the plugin itself may do ---------------------------------------------------------------

def _sources():
    return {path: path.read_text() for path in PLUGIN_DIR.rglob("*.py")}


def test_plugin_starts_no_program_but_its_own_gdb_and_changes_no_credentials():
    """The programs started: a separate GDB (preflight.py: its own executable, no shell, no init
    files) that compiles a condition and exits, and the remote agent, by the command the user
    set with `set hbreak-if remote-agent` (agentlink.py: split as a shell would, never run by
    one), and on the target the agent's keeper (keeper.py: the agent's own Python, running
    this package's module)."""
    forbidden = re.compile(r"\bsubprocess\b|os\.system|os\.exec\w*|os\.spawn\w*|os\.popen|"
                           r"shell=True|\bset(e|re)?[ug]id\b|capset|PR_CAP_AMBIENT|"
                           r"(?<![\w.])(eval|exec|compile)\(")
    found = [(str(path.relative_to(REPO)), line.strip())
             for path, text in _sources().items() for line in text.splitlines()
             if forbidden.search(line) and not line.strip().startswith(("#", "def "))]
    # The self-test's child gives up its capabilities (what it keeps is checked in
    # test_kernel_probe.py): the one capset, with sets that are all clear.
    drop, preflight = "gdb_plugin/kernel/privileges.py", "gdb_plugin/gdbside/preflight.py"
    link = "gdb_plugin/gdbside/agentlink.py"
    keeper = "gdb_plugin/agent/keeper.py"
    assert set(found) <= {
        (keeper, "import subprocess"),
        (keeper, 'subprocess.Popen([sys.executable, "-m", "gdb_plugin.agent.keeper", '
                 'str(its.fileno()),'),
        (keeper, "stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,"),
        (drop, "self._capset = libc.capset"),
        (drop, "if self._capset(ctypes.byref(self._header), self._nothing) != 0:"),
        (preflight, "import subprocess"),
        (preflight, "done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, "
                    "text=True,"),
        (preflight, "except (OSError, subprocess.SubprocessError):"),
        (link, "import subprocess"),
        (link, "self._proc = subprocess.Popen(shlex.split(self.command), "
               "stdin=subprocess.PIPE,"),
        (link, "stdout=subprocess.PIPE, stderr=subprocess.PIPE,"),
        (link, "except (OSError, subprocess.TimeoutExpired):")}, found
    started = (REPO / preflight).read_text()
    assert "shell=" not in (REPO / link).read_text() + (REPO / keeper).read_text()
    assert 'os.readlink("/proc/self/exe")' in started and '"-nx", "-batch"' in started
    assert "self._nothing = (_CapData * 2)()" in (REPO / drop).read_text()
    forks = sorted(str(path.relative_to(REPO)) for path, text in _sources().items()
                   if "os.fork()" in text)
    # The BCC compiler's child and the self-test's child: both end with os._exit(), and
    # neither runs another program (no exec anywhere, as checked above).
    assert forks == ["gdb_plugin/cpred/build.py", "gdb_plugin/kernel/probe.py"], forks
    for path in forks:
        assert "os._exit(" in (REPO / path).read_text()


def test_the_only_programs_loaded_are_generated_or_user_predicates():
    """Every BPF_PROG_LOAD goes through kernel/bpf.py; its callers hand it instructions the
    compiler built (kernel/uprobe.py loads a uprobe's), the self-tests' fixed program, BCC's
    output for a -c predicate, or, in the remote agent, a predicate GDB compiled, which refers
    to no map (protocol.program)."""
    syscall = sorted(str(path.relative_to(REPO)) for path, text in _sources().items()
                     if re.search(r"bpf\(\s*BPF_PROG_LOAD,", text))
    assert syscall == ["gdb_plugin/kernel/bpf.py"], syscall
    loads = sorted(str(path.relative_to(REPO)) for path, text in _sources().items()
                   if re.search(r"BpfProgram\.load\(", text))
    assert set(loads) <= {"gdb_plugin/kernel/probe.py", "gdb_plugin/gdbside/predicates.py",
                          "gdb_plugin/kernel/uprobe.py",
                          "gdb_plugin/cpred/predicate.py",
                          "gdb_plugin/cpred/build.py", "gdb_plugin/agent/server.py"}, loads
