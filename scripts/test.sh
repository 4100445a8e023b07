#!/usr/bin/env bash
# Runs every bulkhead test. On a fresh Debian bookworm machine it first
# installs what the tests need (scripts/setup.sh: qemu 10 from
# bookworm-backports, arm-none-eabi toolchain, llvm-mc, ld.lld).
#
# The spec suite is looked up in $BULKHEAD_SPEC_DIR, else ../shared/spec-testsuite
# next to the repository (where CI puts it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

spec_dir=${BULKHEAD_SPEC_DIR:-../shared/spec-testsuite}
if [ ! -d "$spec_dir/core" ]; then
  echo "test.sh: spec test suite not found at $spec_dir (set BULKHEAD_SPEC_DIR)" >&2
  exit 1
fi
export BULKHEAD_SPEC_DIR=$(cd "$spec_dir" && pwd)

# Unit, integration, encoding (llvm-mc), regalloc2-checker, QEMU and
# differential tests.
cargo test --workspace

cargo build -p bulkhead-testkit --bin wast
wast="${CARGO_TARGET_DIR:-target}/debug/wast"

# Files that must pass completely: every command run, none skipped — i32,
# and every multi-memory, bulk-memory and data file (issue #4), plus the
# custom-page-sizes proposal's suite.
complete=(i32 address0 align0 binary0 bulk 'data*' exports0 float_exprs0 float_exprs1 'imports[0-4]'
          'linking[0-3]' 'load[0-2]' 'memory*' start0 store0 store1 traps0)
files=()
for f in "${complete[@]}"; do
  for path in "$BULKHEAD_SPEC_DIR"/core/$f.wast; do files+=("$path"); done
done
files+=("$BULKHEAD_SPEC_DIR"/custom-page-sizes/*.wast)
echo "== wast: files that must pass with nothing skipped"
out=$("$wast" "${files[@]}") || { echo "$out"; exit 1; }
echo "$out"
last=$(tail -n 1 <<<"$out")
if ! grep -Eq '^[0-9]+ passed, 0 failed, 0 skipped$' <<<"$last"; then
  echo "test.sh: these files must pass with 0 failed and 0 skipped: $last" >&2
  exit 1
fi

# The whole core suite must have no failures (skips are listed with reasons),
# on the default board (Cortex-M4F, hard float) and on the Cortex-M3
# (soft float, PMSAv7) and Cortex-M33 (ARMv8-M, PMSAv8) boards.
for board in mps2-an386 mps2-an385 mps2-an505; do
  echo "== wast: the whole core suite on $board"
  "$wast" --board "$board" "$BULKHEAD_SPEC_DIR/core/"
done
