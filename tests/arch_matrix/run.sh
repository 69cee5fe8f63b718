#!/usr/bin/env bash
# Arch matrix: Debian's arm64 kernels (bookworm 6.1, trixie 6.12) in qemu-system-aarch64 (TCG)
# on an arm64 Debian root file system made by mmdebstrap, the repo visible read-only at its path.
#   tests/arch_matrix/run.sh                       the hardware breakpoint probe on both kernels
#   tests/arch_matrix/run.sh --gdb                 GDB and the plugin on both: tier, tests, cost
#   tests/arch_matrix/run.sh --kernels trixie --command 'python3 -m pytest -q tests/...'
#   tests/arch_matrix/run.sh --help                the other options
# Needs root (mmdebstrap, binfmt_misc). Installs qemu-system-arm, qemu-user-static, binfmt-support,
# arch-test and mmdebstrap with apt if missing. Kernels, busybox and the root file system go to
# ~/.cache/hbreak-if/arch-matrix (HBREAK_IF_ARCH_CACHE), never into the repo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in -h|--help) exec /usr/bin/python3 tests/arch_matrix/matrix.py --help ;; esac
need=()
command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
[ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
command -v update-binfmts >/dev/null || need+=(binfmt-support)
command -v arch-test >/dev/null || need+=(arch-test)  # mmdebstrap checks foreign archs with it
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}"
    log="$(mktemp)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "${need[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        exit 1
    fi
    rm -f "$log"
fi
exec /usr/bin/python3 tests/arch_matrix/matrix.py "$@"
