#!/usr/bin/env bash
# The whole bpfc test suite: installs what is missing, then lints and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The C API test links examples against the runtime's static library, which only `cargo build` of the
# runtime itself produces (not its build as a dependency of the tests).
cargo build -p bpfc-runtime
cargo test --workspace --no-fail-fast
