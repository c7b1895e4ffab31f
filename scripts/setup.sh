#!/usr/bin/env bash
# Installs what bpfc's build and tests need when it is missing: clang-19/llvm-19 (BPF C examples and the
# llvm-objdump oracle), bpftool, cross compilers and qemu-user (cross-target objects), and mounts tracefs.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have clang-19 || need+=(clang-19)
have llvm-objdump-19 || need+=(llvm-19)
have bpftool || need+=(bpftool)
have aarch64-linux-gnu-gcc || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
have riscv64-linux-gnu-gcc || need+=(gcc-riscv64-linux-gnu libc6-dev-riscv64-cross)
have s390x-linux-gnu-gcc || need+=(gcc-s390x-linux-gnu libc6-dev-s390x-cross)
have qemu-aarch64 || need+=(qemu-user)
[ -e /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -e /sys/kernel/tracing/events ] && [ "$(id -u)" -eq 0 ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || echo "setup: could not mount tracefs"
fi
