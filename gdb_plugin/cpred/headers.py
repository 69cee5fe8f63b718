"""Which kernel headers BCC compiles a predicate against (no gdb, no bcc).

BCC (0.26) looks for a kernel tree in this order: $BCC_KERNEL_SOURCE, else
/lib/modules/$(uname -r)/source + build (both present) or .../build; if
that tree has no include/linux/kconfig.h, it unpacks
/sys/kernel/kheaders.tar.xz (CONFIG_IKHEADERS).  It compiles with
-nostdinc, -D__KERNEL__, the tree's include directories (relative to the
tree, which it makes the working directory) and `-include
./include/linux/kconfig.h`.

When the machine has none of these, hbreak-if points BCC_KERNEL_SOURCE at
bpfprogs/kernel, a stand-in tree of a few handwritten files (kconfig.h, the
kernel's short type names, the kernel-named struct pt_regs, PAGE_SIZE),
and adds to the compile:
  -I bpfprogs/kernel/forward     <uapi/linux/X.h> -> <linux/X.h>
  -idirafter /usr/include/<multiarch> -idirafter /usr/include
so that every user-space API header (linux/bpf.h, linux/bpf_perf_event.h,
asm/types.h, ...) comes from the machine's linux-libc-dev at compile time.
A real tree or kheaders is always preferred when present.
"""

import os
import platform
from pathlib import Path

from .errors import HeadersUnavailable
from .source import BPFPROGS

STUB_TREE = BPFPROGS / "kernel"
MODULES_DIR = Path("/lib/modules")
KHEADERS = Path("/sys/kernel/kheaders.tar.xz")
USR_INCLUDE = Path("/usr/include")

# What the stand-in tree needs from /usr/include (linux-libc-dev).
_UAPI_NEEDED = ("linux/bpf.h", "linux/bpf_perf_event.h", "linux/types.h",
                "linux/ptrace.h", "linux/if_packet.h")


class HeaderSet:
    """How to run BCC: `env` to set during the compile (None = leave
    BCC_KERNEL_SOURCE as it is), extra `cflags`, and a `description` for
    the user (e.g. in `info hbreak-if`)."""

    def __init__(self, kind, description, env_source=None, cflags=()):
        self.kind = kind
        self.description = description
        self.env_source = env_source
        self.cflags = list(cflags)

    def key(self):
        return "\0".join([self.kind, self.description, self.env_source or ""] + self.cflags)

    def __repr__(self):
        return "<HeaderSet %s: %s>" % (self.kind, self.description)


def _real_tree(release, modules_dir):
    """The tree BCC would use, if it has headers (BCC's own test: kconfig.h)."""
    kdir = modules_dir / release
    both = (kdir / "build").is_dir() and (kdir / "source").is_dir()
    tree = kdir / ("source" if both else "build")
    return tree if (tree / "include" / "linux" / "kconfig.h").is_file() else None


def multiarch_include(usr_include=USR_INCLUDE, machine=None):
    machine = machine or platform.machine()
    if machine != "x86_64":
        raise HeadersUnavailable(
            "raw C predicates support x86_64 only (this machine: %s)" % machine)
    d = usr_include / "x86_64-linux-gnu"
    return d if (d / "asm" / "types.h").is_file() else None


def stub_header_set(usr_include=USR_INCLUDE, stub_tree=STUB_TREE, machine=None):
    """The stand-in tree plus the machine's user-space API headers."""
    missing = [h for h in _UAPI_NEEDED if not (usr_include / h).is_file()]
    arch = multiarch_include(usr_include, machine)
    if missing or arch is None:
        raise HeadersUnavailable(
            "no kernel headers for BCC: no kernel build tree in /lib/modules/%s, "
            "no /sys/kernel/kheaders.tar.xz, and the Linux API headers are missing "
            "from %s (%s). Install them: apt-get install linux-libc-dev"
            % (os.uname().release, usr_include,
               ", ".join(missing) or "asm/types.h"))
    if not (stub_tree / "include" / "linux" / "kconfig.h").is_file():
        raise HeadersUnavailable("hbreak-if's header stand-in is missing: %s"
                                 % stub_tree)
    cflags = ["-I%s" % (stub_tree / "forward"),
              "-idirafter", str(arch), "-idirafter", str(usr_include)]
    return HeaderSet(
        "stub", "hbreak-if's stand-in tree %s with the API headers in %s"
        % (stub_tree, usr_include), env_source=str(stub_tree), cflags=cflags)


def choose(environ=None, release=None, modules_dir=MODULES_DIR, kheaders=KHEADERS,
           usr_include=USR_INCLUDE, stub_tree=STUB_TREE, machine=None):
    """The HeaderSet for this machine (arguments are for tests)."""
    environ = os.environ if environ is None else environ
    release = release or os.uname().release
    user = environ.get("BCC_KERNEL_SOURCE")
    if user:
        return HeaderSet("env", "BCC_KERNEL_SOURCE=%s" % user)
    tree = _real_tree(release, modules_dir)
    if tree is not None:
        return HeaderSet("tree", "kernel build tree %s" % tree)
    if kheaders.exists():
        return HeaderSet("kheaders", "the running kernel's %s" % kheaders)
    return stub_header_set(usr_include, stub_tree, machine)
