"""Raw C predicates without BCC: text -> C file, line mapping, header choice, map-fd
renumbering, and what happens when BCC cannot be imported."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

from harness.paths import REPO

from gdb_plugin.cpred import source
from gdb_plugin.cpred.build import map_fd_slots, renumber_map_fds
from gdb_plugin.cpred.errors import HeadersUnavailable
from gdb_plugin.cpred.headers import choose
from gdb_plugin.ebpf import Reg, encode_program, exit_insn, ld_map_fd, mov64


@pytest.mark.parametrize("text, kind", [
    ("REG(rdi) == 5", source.EXPRESSION),
    ('str_eq_user(ARG(1), "return")', source.EXPRESSION),      # in a literal
    ("REG(rdi) == 5 /* return early? */", source.EXPRESSION),  # in a comment
    ("REG(rdi) == 5 // return", source.EXPRESSION),
    ("returned_value(1)", source.EXPRESSION),                 # not the keyword
    ("return REG(rdi) == 5;", source.BODY),
    ("u64 x = REG(rdi);\nif (x)\n    return 1;\nreturn 0;", source.BODY),
    ("char c = '\"'; return c == 1;", source.BODY),           # a quote in a char literal
])
def test_expression_or_body(text, kind):
    assert source.classify(text) == kind


def test_code_only_keeps_lines_and_length():
    text = 'a /* x\ny */ "s\\"t" \'q\' // c\nb'
    code = source.code_only(text)
    assert len(code) == len(text)
    assert code.count("\n") == text.count("\n")
    assert "x" not in code and "s" not in code and "q" not in code and "c" not in code
    assert code.startswith("a ") and code.endswith("b")


@pytest.mark.parametrize("text, stateful", [
    ("(REG(rdi) & 1) && STATE_INC(0) == 3", True),
    ("STATE(1)++ > 4", True),
    ("return STATE_BY(REG(rdi))++ == 2;", True),
    ("REG(rdi) == 5 /* STATE(0) */", False),
    ("MY_STATE(0)", False),
])
def test_uses_state(text, stateful):
    assert source.uses_state(text) is stateful


def _presumed_lines(c_source):
    """[(file, line)] of every line of c_source, following #line directives."""
    out, name, number = [], "<main>", 1
    for line in c_source.split("\n"):
        m = re.match(r'#line (\d+) "([^"]*)"$', line)
        out.append((name, number))
        if m:
            number, name = int(m.group(1)), m.group(2)
        else:
            number += 1
    return out


@pytest.mark.parametrize("text", ["REG(rdi) == 5", "u64 x = REG(rdi);\nreturn x == 5;"])
def test_user_text_is_numbered_from_one_and_template_resumes(text):
    c, kind = source.render(text)
    lines = c.split("\n")
    where = _presumed_lines(c)
    # The user's lines are predicate:1, predicate:2, ...
    first = lines.index(text.split("\n")[0])
    for i, user_line in enumerate(text.split("\n")):
        assert lines[first + i] == user_line
        assert where[first + i] == (source.USER_FILE, i + 1)
    # The template's own lines carry their own numbers, before and after the text.
    template = source.TEMPLATE.read_text().split("\n")
    include = lines.index("#include <hbreak_if.h>")
    assert where[include] == (str(source.TEMPLATE), template.index("#include <hbreak_if.h>") + 1)
    tail = lines.index("\treturn 1;")
    assert where[tail] == (str(source.TEMPLATE), template.index("\treturn 1;") + 1)
    if kind == source.EXPRESSION:
        assert lines[first - 1] == '#line 1 "predicate"' and lines[first - 2] == "\treturn ("
        assert lines[first + 1] == ");"


def test_normalize():
    assert source.normalize("  \r\n") == ""
    assert source.normalize("/* only a comment */") == ""
    assert source.normalize("a == 1\r\n\r\n") == "a == 1"


def test_first_error_is_the_one_in_the_users_text():
    out = textwrap.dedent("""\
        predicate:3:14: error: use of undeclared identifier 'y'
                return x == y;
                            ^
        predicate:1:1: warning: unused variable
        1 error generated.""")
    assert source.first_error(out) == (3, 14)
    assert source.has_errors(out)
    assert source.first_error("/x/hbreak_if.h:4:1: error: boom\npredicate:1:1: error: b") == \
        (None, None)
    assert not source.has_errors("predicate:1:1: warning: something")


# ---- header choice ----

def _stub_tree(tmp_path):
    tree = tmp_path / "stub"
    (tree / "include" / "linux").mkdir(parents=True)
    (tree / "include" / "linux" / "kconfig.h").write_text("")
    return tree


def _usr_include(tmp_path, missing=()):
    inc = tmp_path / "usr-include"
    for h in ("linux/bpf.h", "linux/bpf_perf_event.h", "linux/types.h", "linux/ptrace.h",
              "linux/if_packet.h", "x86_64-linux-gnu/asm/types.h"):
        if h not in missing:
            (inc / h).parent.mkdir(parents=True, exist_ok=True)
            (inc / h).write_text("")
    return inc


def test_headers_prefer_the_users_kernel_source(tmp_path):
    hs = choose(environ={"BCC_KERNEL_SOURCE": "/somewhere"}, modules_dir=tmp_path)
    assert hs.kind == "env" and hs.env_source is None and hs.cflags == []


@pytest.mark.parametrize("dirs, tree", [
    (("build",), "build"),
    (("build", "source"), "source"),    # Debian: build/ has the config, source/ the headers
])
def test_headers_prefer_a_real_tree(tmp_path, dirs, tree):
    kdir = tmp_path / "mods" / "6.18.0"
    for d in dirs:
        (kdir / d).mkdir(parents=True)
    kconfig = kdir / tree / "include" / "linux" / "kconfig.h"
    kconfig.parent.mkdir(parents=True)
    kconfig.write_text("")
    hs = choose(environ={}, release="6.18.0", modules_dir=tmp_path / "mods",
                kheaders=tmp_path / "kheaders.tar.xz")
    assert hs.kind == "tree" and hs.env_source is None and hs.cflags == []
    assert str(kdir / tree) in hs.description


def test_headers_a_tree_without_headers_does_not_count(tmp_path):
    # BCC uses source/ when both exist, so headers only in build/ are not found by it either.
    kdir = tmp_path / "mods" / "6.18.0"
    (kdir / "source").mkdir(parents=True)
    (kdir / "build" / "include" / "linux").mkdir(parents=True)
    (kdir / "build" / "include" / "linux" / "kconfig.h").write_text("")
    tree, inc = _stub_tree(tmp_path), _usr_include(tmp_path)
    hs = choose(environ={}, release="6.18.0", modules_dir=tmp_path / "mods",
                kheaders=tmp_path / "none", usr_include=inc, stub_tree=tree, machine="x86_64")
    assert hs.kind == "stub"


def test_headers_prefer_kheaders(tmp_path):
    (tmp_path / "kheaders.tar.xz").write_text("")
    # a build directory without headers does not count (BCC checks kconfig.h too)
    (tmp_path / "mods" / "6.18.0" / "build").mkdir(parents=True)
    hs = choose(environ={}, release="6.18.0", modules_dir=tmp_path / "mods",
                kheaders=tmp_path / "kheaders.tar.xz")
    assert hs.kind == "kheaders" and hs.env_source is None


def test_headers_fall_back_to_the_stand_in(tmp_path):
    tree, inc = _stub_tree(tmp_path), _usr_include(tmp_path)
    hs = choose(environ={}, release="6.18.0", modules_dir=tmp_path / "mods",
                kheaders=tmp_path / "none", usr_include=inc, stub_tree=tree,
                machine="x86_64")
    assert hs.kind == "stub" and hs.env_source == str(tree)
    assert hs.cflags == ["-I%s" % (tree / "forward"), "-idirafter",
                         str(inc / "x86_64-linux-gnu"), "-idirafter", str(inc)]


def test_headers_missing_api_headers_say_what_to_install(tmp_path):
    tree, inc = _stub_tree(tmp_path), _usr_include(tmp_path, missing=("linux/bpf.h",))
    with pytest.raises(HeadersUnavailable, match=r"linux/bpf\.h.*apt-get install linux-libc-dev"):
        choose(environ={}, release="6.18.0", modules_dir=tmp_path / "mods",
               kheaders=tmp_path / "none", usr_include=inc, stub_tree=tree, machine="x86_64")


def test_headers_other_architectures(tmp_path):
    with pytest.raises(HeadersUnavailable, match="x86_64 only"):
        choose(environ={}, release="6.18.0", modules_dir=tmp_path / "mods",
               kheaders=tmp_path / "none", usr_include=_usr_include(tmp_path),
               stub_tree=_stub_tree(tmp_path), machine="aarch64")


def test_the_committed_stand_in_tree_is_complete():
    hs = choose(environ={}, release="no-such-release", kheaders=REPO / "no-such-file")
    assert hs.kind == "stub"
    tree = REPO / "bpfprogs" / "kernel"
    for f in ("include/linux/kconfig.h", "include/linux/types.h", "include/linux/log2.h",
              "arch/x86/include/asm/page.h", "arch/x86/include/asm/ptrace.h",
              "forward/uapi/linux/bpf.h", "forward/uapi/linux/bpf_perf_event.h",
              "forward/uapi/linux/if_packet.h"):
        assert (tree / f).is_file(), f


# ---- map fds ----

def test_map_fds_are_renumbered():
    code = encode_program([ld_map_fd(Reg.R1, 7), mov64(Reg.R0, 0), ld_map_fd(Reg.R2, 9),
                           exit_insn()])
    assert [fd for _, fd in map_fd_slots(code)] == [7, 9]
    new = renumber_map_fds(code, {7: 30, 9: 31})
    assert [fd for _, fd in map_fd_slots(new)] == [30, 31]
    assert len(new) == len(code)
    # only the immediates changed
    assert [i for i in range(len(code)) if code[i] != new[i]] == [4, 28]


# ---- without BCC ----

BLOCK_BCC = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "bcc" or name.startswith("bcc."):
            raise ImportError("No module named 'bcc'")
sys.meta_path.insert(0, Block())
"""

TRY_COMPILE = """
from gdb_plugin.cpred import BccUnavailable, CPredicateError, bcc_status, compile_c_predicate
try:
    compile_c_predicate('REG(rdi) == 5', 1)
except BccUnavailable as e:
    print("BccUnavailable:", e)
ok, why = bcc_status()
print("status:", ok, why)
"""


def _python(code, extra_path=()):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, extra_path), str(REPO)])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=str(REPO), timeout=60)


def _check_unavailable(proc):
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("BccUnavailable:"))
    assert "apt-get install python3-bpfcc" in line
    assert "./install.sh --bcc" in line
    assert "status: False raw C predicates (hbreak-if -c) need BCC" in proc.stdout
    return line


def test_bcc_not_importable():
    line = _check_unavailable(_python(BLOCK_BCC + TRY_COMPILE))
    assert "No module named 'bcc'" in line


def test_bcc_library_missing(tmp_path):
    # python3-bpfcc's module present, its libbcc.so.0 not: bcc's import raises OSError.
    (tmp_path / "bcc").mkdir()
    (tmp_path / "bcc" / "__init__.py").write_text(
        "raise OSError('libbcc.so.0: cannot open shared object file: No such file or directory')\n")
    line = _check_unavailable(_python(TRY_COMPILE, extra_path=[tmp_path]))
    assert "libbcc.so.0: cannot open shared object file" in line


def test_importing_the_package_imports_neither_bcc_nor_gdb():
    proc = _python("import sys, gdb_plugin.cpred\n"
                   "print(sorted(m for m in sys.modules if m.split('.')[0] in ('bcc', 'gdb')))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_python_and_header_agree_on_the_state_size():
    from gdb_plugin.cpred.predicate import STATE_SLOTS
    header = source.HEADER.read_text()
    assert re.search(r"#define HBREAK_IF_STATE_SLOTS (\d+)", header).group(1) == str(STATE_SLOTS)
    template = source.TEMPLATE.read_text()
    assert sum(ln.strip() == source.MARKER for ln in template.split("\n")) == 1
    assert "_Bool hbreak_if_predicate(struct bpf_perf_event_data *ctx)" in template
