#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian bookworm machine:
# qemu 10 (bookworm-backports, with TCG plugin support for the benchmarks'
# instruction counter), the arm-none-eabi toolchain, llvm-mc, ld.lld,
# clang 14 + wasm-ld (the benchmark programs, C to wasm32) and wabt
# (wasm2c, the benchmarks' peer configuration).
# Idempotent: does nothing that is already done.
set -euo pipefail

need_install=0
qemu_ok() {
  command -v qemu-system-arm >/dev/null 2>&1 &&
    qemu-system-arm --version | head -n1 | grep -Eq 'version (1[0-9])\.'
}
for tool in arm-none-eabi-gcc arm-none-eabi-ld llvm-mc ld.lld clang-14 wasm-ld wasm2c; do
  command -v "$tool" >/dev/null 2>&1 || need_install=1
done
qemu_ok || need_install=1
[ "$need_install" = 1 ] || exit 0

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

backports=/etc/apt/sources.list.d/bulkhead-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  # Same mirror and keyring as the machine's own Debian source.
  mirror=$(grep -rhs '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1 | awk '{print $2}')
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  $SUDO tee "$backports" >/dev/null <<SRC
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi \
  llvm-14 lld-14 lld clang-14 wabt >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports \
  qemu-system-arm qemu-user >/dev/null
command -v llvm-mc >/dev/null 2>&1 || $SUDO ln -sf /usr/bin/llvm-mc-14 /usr/local/bin/llvm-mc
qemu_ok || { echo "setup: qemu-system-arm 10 not installed" >&2; exit 1; }
# The benchmark instruction counter is a TCG plugin: the binary must load plugins.
qemu-system-arm -M none -plugin help 2>&1 | grep -q 'Plugin options' ||
  { echo "setup: qemu-system-arm was built without TCG plugin support" >&2; exit 1; }
