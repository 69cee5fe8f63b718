#!/usr/bin/env bash
# Build the workloads, run every configuration, print the table, write bench/results/.
#   bench/run.sh [--quick]        (python3 -m bench --help lists the other options)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v gdbserver >/dev/null; then
    echo "installing gdbserver (Debian package gdbserver)"
    apt-get install -y gdbserver >/dev/null
fi
if ! /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
    echo "installing matplotlib for the figure (Debian package python3-matplotlib)"
    apt-get install -y --no-install-recommends python3-matplotlib >/dev/null
fi
for tool in gdb gcc; do
    command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool is missing (./install.sh)" >&2; exit 1; }
done
exec /usr/bin/python3 -m bench "$@"
