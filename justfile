# The command surface of the workspace. `just --list` shows every recipe.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Build every server in release mode.
build:
    cargo build --release --workspace --bins

# Run one server over stdio (e.g. `just run empresa`, `just run empresa --transport http`).
run NAME *ARGS:
    cargo run --quiet --release -p mcp-{{NAME}} -- {{ARGS}}

# Every test: formatting, lints, unit and integration tests, the protocol checks of every server in servers.json, and interop with the official Python SDK.
test: tools
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --quiet -- -D warnings
    cargo build --workspace --bins --quiet
    MCP_PYTHON="$PWD/.tools/python/bin/python" cargo test --workspace --no-fail-fast

# Install the independent clients the tests use into .tools/ (not globally): the official Python SDK.
tools:
    test -x .tools/python/bin/python -a -f .tools/python/.mcp-2.3.0 || { python3 -m venv .tools/python && .tools/python/bin/pip install --quiet --disable-pip-version-check "mcp==2.3.0" && touch .tools/python/.mcp-2.3.0; }

# Benchmark mcp-empresa: start-up, idle RSS, stdio latency, HTTP throughput (figures for the README).
bench *ARGS:
    cargo build --release -p mcp-empresa -p mcp-conformance --bins --quiet
    "${CARGO_TARGET_DIR:-target}/release/mcp-bench" --server "${CARGO_TARGET_DIR:-target}/release/mcp-empresa" {{ARGS}}
