#!/usr/bin/env bash
# Runs every test of gridvisit. Works on a fresh machine: it installs what it needs that does
# not need root (the wasm32 target, the npm packages of the JS interop tests).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
rustup target add wasm32-unknown-unknown >/dev/null
if [ ! -d tests/js/node_modules/@automerge/automerge-repo ]; then
  npm ci --prefix tests/js --no-audit --no-fund
fi

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "shared and client build for wasm32"
cargo build --locked --profile wasm-check --target wasm32-unknown-unknown -p shared -p client

step "tests (PROPTEST_CASES=${PROPTEST_CASES:-1000} convergence schedules)"
cargo test --workspace --locked
