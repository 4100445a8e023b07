#!/usr/bin/env bash
# Runs the benchmark suite (crate bulkhead-bench, programs in bench/programs)
# and writes bench/results/latest.json and docs/benchmarks.md.
#
#   scripts/bench.sh                 full run: all programs, all configurations,
#                                    compile time as the median of 9 compilations
#   scripts/bench.sh --fast          CI check: every program and configuration
#                                    once, results compared with wasmi, nothing written
#   scripts/bench.sh --programs crc32,sha256 --runs 9   (see `bench --help`)
#
# On a fresh Debian bookworm machine scripts/setup.sh installs what it needs
# (clang 14 for wasm32, qemu 10 with TCG plugins, arm-none-eabi-gcc).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo run --quiet -p bulkhead-bench --bin bench -- "$@"
