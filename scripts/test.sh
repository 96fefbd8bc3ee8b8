#!/usr/bin/env bash
# Runs every test of gridvisit. Works on a fresh machine: it installs what it needs (the wasm32
# target, the npm packages of the JS tests, and, as root, Debian's chromium for the browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
rustup target add wasm32-unknown-unknown >/dev/null
# The app's wasm is built on nightly with -Z build-std (smaller); an installed nightly is used
# as it is, never updated here. Without one, `cargo xtask app` falls back to stable.
if rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup component add rust-src --toolchain nightly >/dev/null
else
  rustup toolchain install nightly --profile minimal --component rust-src >/dev/null \
    || echo "no nightly toolchain: the app is built on stable (bigger)" >&2
fi
if [ ! -d tests/js/node_modules/playwright-core ] || [ ! -e tests/js/node_modules/.bin/wasm-opt ]; then
  npm ci --prefix tests/js --no-audit --no-fund
fi
if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "the browser tests need Debian's chromium: apt-get install -y chromium (or set CHROMIUM)" >&2
    exit 1
  fi
fi

step "format and lints (native and wasm32)"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --locked --target wasm32-unknown-unknown -p client -- -D warnings
cargo clippy --locked --target wasm32-unknown-unknown -p client --no-default-features -- -D warnings

step "the field app (wasm32 release, wasm-bindgen, wasm-opt) into target/app"
cargo xtask app

step "tests (PROPTEST_CASES=${PROPTEST_CASES:-1000} convergence schedules; browser tests in headless chromium)"
cargo test --workspace --locked --exclude xtask
