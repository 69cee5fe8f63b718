#!/usr/bin/env bash
# Sets up hbreak-if on Debian 12 / Ubuntu 24.04. Safe to run again.
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
        -h|--help) sed -n '2,6s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option: $arg" >&2; exit 2 ;;
    esac
done

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

packages=(gdb gcc libc6-dev make python3 python3-venv python3-pygments llvm procps libcap2-bin tmux)
if [ "$bcc" -eq 1 ]; then packages+=(python3-bpfcc); fi
# The tests run GDB against gdbserver, over a pipe and in a pid namespace of its own.
if [ "$dev" -eq 1 ]; then packages+=(gdbserver); fi

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
