#!/usr/bin/env bash
# Stops once in a million calls, with the condition evaluated in the kernel.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p build
gcc -g -O0 -o build/loop examples/loop.c
exec gdb -batch -nx -x gdb_plugin/plugin.py -x examples/demo.gdb ./build/loop
