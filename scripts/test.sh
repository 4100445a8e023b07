#!/usr/bin/env bash
# Runs every bulkhead test. On a fresh Debian bookworm machine it first
# installs what the tests need (scripts/setup.sh: qemu 10 from
# bookworm-backports, arm-none-eabi toolchain, llvm-mc, ld.lld).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --release
