#!/usr/bin/env bash
# The main job on a bundled example: read examples/syscount.bpf.o (a libbpf-style tracepoint program),
# compile it to a native shared object, and run it on this machine's live tracepoints for a few seconds
# (falling back to the bundled replay file where tracing is not permitted).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build -q -p bpfc
bpfc=target/debug/bpfc
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== bpfc info examples/syscount.bpf.o"
$bpfc info examples/syscount.bpf.o
echo
echo "== bpfc build examples/syscount.bpf.o --shared -o $out/syscount.so"
$bpfc build examples/syscount.bpf.o --shared -o "$out/syscount.so"
echo
echo "== the native code bpfc generated (first lines)"
$bpfc build examples/syscount.bpf.o --emit asm | head -n 25
echo
echo "== bpfc conformance (JIT) on the bundled bpf_conformance suite"
$bpfc conformance ../shared/conformance/tests --engine jit | tail -n 1
