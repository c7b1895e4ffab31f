#!/usr/bin/env bash
# The main job on a bundled example: read examples/syscount.bpf.o (a libbpf-style tracepoint program that
# counts system calls per id), compile it to native code, and run it on this machine's live
# raw_syscalls:sys_enter tracepoint for a traced command — falling back to the bundled replay file where
# live tracing is not permitted.
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
echo "== bpfc run examples/syscount.bpf.o --engine aot --attach -- ls /   (native code on the live tracepoint)"
if $bpfc run examples/syscount.bpf.o --engine aot --attach --stats -- ls / > "$out/live.txt" 2> "$out/live.err"; then
  tail -n +1 "$out/live.txt" | grep -v '^event ' | head -n 40
  grep '^bpfc:' "$out/live.err" || true
else
  cat "$out/live.err"
  echo "(live tracing is not permitted here: replaying examples/events/syscalls.jsonl instead)"
  $bpfc run examples/syscount.bpf.o --engine aot --stats --events examples/events/syscalls.jsonl \
    --tp-formats examples/events/formats | grep -v '^event '
fi
