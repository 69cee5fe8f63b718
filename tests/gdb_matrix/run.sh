#!/usr/bin/env bash
# GDB matrix: the test suite with this machine's GDB and, in chroots on this kernel, with the
# GDB and Python of Debian 13 and Debian unstable (see README, "GDB matrix").
#   tests/gdb_matrix/run.sh                        every row, the whole suite
#   tests/gdb_matrix/run.sh --rows trixie          one row
#   tests/gdb_matrix/run.sh -- tests/test_gdb_breakpoint.py    a pytest selection
# Needs root; installs mmdebstrap itself. The roots are kept in ~/.cache/hbreak-if/gdb-matrix.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if ! command -v mmdebstrap >/dev/null; then
    echo "installing mmdebstrap"
    log="$(mktemp)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends mmdebstrap; } >"$log" 2>&1; then
        cat "$log" >&2
        exit 1
    fi
    rm -f "$log"
fi
exec /usr/bin/python3 tests/gdb_matrix/matrix.py "$@"
