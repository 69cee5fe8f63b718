#!/usr/bin/env bash
# Kernel matrix: the tier probe, the tier-sensitive tests and the per-hit cost on this kernel and
# on a Debian 6.1 kernel in qemu (see README, "Kernel matrix").
#   tests/kernel_matrix/run.sh            full matrix
#   tests/kernel_matrix/run.sh --subset   the CI subset
#   tests/kernel_matrix/run.sh --help     the other options
# Needs root and ./install.sh --dev; installs qemu-system-x86 itself. The kernel and busybox
# packages are downloaded with apt into ~/.cache/hbreak-if/kernel-matrix, never into the repo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if ! command -v qemu-system-x86_64 >/dev/null; then
    echo "installing qemu-system-x86"
    log="$(mktemp)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends qemu-system-x86; } >"$log" 2>&1; then
        cat "$log" >&2
        exit 1
    fi
    rm -f "$log"
fi
exec /usr/bin/python3 tests/kernel_matrix/matrix.py "$@"
