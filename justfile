# The command surface of the workspace. `just --list` shows every recipe.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Build every server in release mode.
build:
    cargo build --release --workspace --bins

# Run one server over stdio (e.g. `just run empresa`, `just run empresa --transport http`).
run NAME *ARGS:
    cargo run --quiet --release -p mcp-{{NAME}} -- {{ARGS}}

# Every test: formatting, lints, unit and integration tests, and the protocol checks of every server in servers.json.
test:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --quiet -- -D warnings
    cargo build --workspace --bins --quiet
    cargo test --workspace --no-fail-fast

# Benchmark mcp-empresa: start-up, idle RSS, stdio latency, HTTP throughput (figures for the README).
bench *ARGS:
    cargo build --release -p mcp-empresa -p mcp-conformance --bins --quiet
    "${CARGO_TARGET_DIR:-target}/release/mcp-bench" --server "${CARGO_TARGET_DIR:-target}/release/mcp-empresa" {{ARGS}}
