#!/usr/bin/env bash
# Sets up hbreak-if on Debian 12 or 13 (tests/gdb_matrix runs it on 13 and on unstable too).
# Safe to run again. Elsewhere with apt it installs the same packages, saying it is untested there.
#   --dev               virtualenv .venv with the test tools (pip install -e .[test]); implies --bcc,
#                       since the tests cover raw C predicates too
#   --bcc               also python3-bpfcc, for raw C predicates (hbreak-if -c)
#   --register-gdbinit  add the plugin to ~/.gdbinit
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dev=0 bcc=0 register=0
for arg in "$@"; do
    case "$arg" in
        --dev) dev=1 bcc=1 ;;
        --bcc) bcc=1 ;;
        --register-gdbinit) register=1 ;;
        -h|--help) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option: $arg" >&2; exit 2 ;;
    esac
done

# The distributions this script was run on (README, "GDB matrix"); others are told so.
os_id="$( . /etc/os-release 2>/dev/null && echo "${ID:-?} ${VERSION_ID:-unstable}")"
os_name="$( . /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")"
case "$os_id" in
    "debian 12"|"debian 13"|"debian unstable") ;;
    *) echo "install.sh: untested on ${os_name}; trying Debian's package names" >&2 ;;
esac
if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    echo "install.sh: needs apt-get and dpkg; elsewhere install gdb, gdbserver, gcc, make," >&2
    echo "  python3 with venv, pygments, llvm, procps, libcap tools and BCC's Python module by" >&2
    echo "  hand, then: python3 -m venv --system-site-packages .venv && .venv/bin/pip install -e '.[test]'" >&2
    exit 1
fi

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

packages=(gdb gcc libc6-dev make python3 python3-venv python3-pygments llvm procps libcap2-bin tmux)
if [ "$bcc" -eq 1 ]; then packages+=(python3-bpfcc); fi
# The tests run GDB against gdbserver, over a pipe and in a pid namespace of its own, build
# C++ programs as well as C ones, and check the AArch64 tables against GDB's own numbering of
# a cross-compiled AArch64 program.
if [ "$dev" -eq 1 ]; then
    packages+=(gdbserver g++ gdb-multiarch gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
fi

missing=()
for p in "${packages[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# GDB embeds the distribution's python3, so the venv must be built on it to match.
if [ "$dev" -eq 1 ]; then
    grep -qsx 'home = /usr/bin' "$repo/.venv/pyvenv.cfg" ||
        /usr/bin/python3 -m venv --clear --system-site-packages "$repo/.venv"
    "$repo/.venv/bin/python" -m pip install -q --disable-pip-version-check -e "$repo[test]"
fi

plugin="$repo/gdb_plugin/plugin.py"
line="source $plugin"
if [ "$register" -eq 1 ]; then
    touch "$HOME/.gdbinit"
    grep -qxF "$line" "$HOME/.gdbinit" || echo "$line" >> "$HOME/.gdbinit"
fi

echo "hbreak-if: system packages ready$([ "$bcc" -eq 1 ] && echo ' (with BCC)')"
if [ "$dev" -eq 1 ]; then echo "hbreak-if: test environment in .venv (run: .venv/bin/python -m pytest -n auto)"; fi
if [ "$register" -eq 1 ]; then
    echo "hbreak-if: ~/.gdbinit sources $plugin"
else
    echo "hbreak-if: to use it, run in gdb (or add to ~/.gdbinit): $line"
fi
# Printed, never run: capabilities on a shared binary would reach every user of it.
echo "hbreak-if: root has the kernel tier; a non-root user needs CAP_BPF+CAP_PERFMON on a copy of"
echo "  gdb of their own (never /usr/bin/gdb itself), else conditions are evaluated by GDB; as that user:"
echo "    install -m 0700 /usr/bin/gdb ~/gdb-bpf && sudo setcap cap_bpf,cap_perfmon+ep ~/gdb-bpf"
echo "  then use ~/gdb-bpf as gdb (README.md: Permissions)"
