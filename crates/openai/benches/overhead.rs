//! `cargo bench -p mcp-openai --bench overhead`: the cost `mcp-openai` adds to a call of an
//! OpenAI-compatible endpoint.
//!
//! It starts the OpenAI stand-in, then times two calls, one at a time after a warm-up, two ways:
//!
//! 1. direct: the request `mcp-openai` sends (a streamed chat completion with usage, read to its
//!    `[DONE]` and decoded chunk by chunk with `openai-compat`, with an async keep-alive client; an
//!    embedding request decoded with its type, with a blocking one);
//! 2. `tools/call chat` / `embed` through `mcp-openai` over stdio (audit log on, to a file), which
//!    adds JSON-RPC, argument validation, the budget, the reasoning-model rules, shaping and the
//!    audit line.
//!
//! The overhead is (2) minus (1), at p50 and p99. `just bench-openai` runs it.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A benchmark's output and set-up.

use std::path::PathBuf;

use mcp_conformance::StdioServer;
use mcp_conformance::overhead::{calls_from_env, print_table, sample, start_standin};
use openai_compat::sse::Decoder;
use openai_compat::wire::{ChatChunk, EmbeddingResponse};
use serde_json::json;

const KEY: &str = "sk-standin-0123456789abcdef";

/// A streamed chat completion read to its end, piece by piece, as mcp-openai reads it (with an
/// async client: a blocking one hands each piece of a stream across threads, which would make the
/// direct path the slower one).
fn direct_chat(
    runtime: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    base: &str,
    prompt: &str,
) {
    let body = json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": prompt}],
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    runtime.block_on(async {
        let mut response = http
            .post(format!("{base}/chat/completions"))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        let mut decoder = Decoder::new();
        let mut answer = String::new();
        while let Some(piece) = response.chunk().await.unwrap() {
            for event in decoder.feed(&piece) {
                if event == "[DONE]" {
                    continue;
                }
                let chunk: ChatChunk =
                    serde_json::from_str(&event).expect("a chat completion chunk");
                for choice in chunk.choices {
                    answer.push_str(choice.delta.content.as_deref().unwrap_or_default());
                }
            }
        }
        assert!(answer.starts_with("You said:"), "{answer}");
    });
}

fn direct_embed(http: &reqwest::blocking::Client, base: &str, text: &str) {
    let body = json!({"model": "text-embedding-3-small", "input": [text], "dimensions": 256, "encoding_format": "float"});
    let answer: EmbeddingResponse = http
        .post(format!("{base}/embeddings"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(answer.data.len(), 1);
}

fn main() {
    let server = PathBuf::from(env!("CARGO_BIN_EXE_mcp-openai"));
    let calls = calls_from_env("OPENAI_BENCH_CALLS");
    let (mut standin, addr) = start_standin("openai-standin");
    let base = format!("http://{addr}/v1");
    // TCP_NODELAY as mcp-openai's own client sets it, so both paths send the same way.
    let http = reqwest::blocking::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();

    let audit = std::env::temp_dir().join(format!("mcp-openai-bench-{}.jsonl", std::process::id()));
    let audit_path = audit.display().to_string();
    let mut mcp = StdioServer::spawn_inline(
        &server,
        &[],
        &[
            ("OPENAI_BASE_URL", base.as_str()),
            ("OPENAI_API_KEY", KEY),
            ("MCP_AUDIT_LOG", audit_path.as_str()),
        ],
    )
    .unwrap();
    mcp.initialize().unwrap();

    let prompt = "Summarise the meeting notes in three short bullet points for the team";
    let mut rows = Vec::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let async_http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let direct_chats = sample(calls, |_| direct_chat(&runtime, &async_http, &base, prompt));
    let mcp_chats = sample(calls, |_| {
        let answer = mcp.call_tool("chat", json!({"prompt": prompt})).unwrap();
        assert_ne!(answer["isError"], true, "{answer}");
    });
    rows.push(("chat", direct_chats, mcp_chats));

    let direct_embeds = sample(calls, |i| {
        direct_embed(&http, &base, &format!("invoice {i} for the team"))
    });
    let mcp_embeds = sample(calls, |i| {
        let answer = mcp
            .call_tool(
                "embed",
                json!({"texts": format!("invoice {i} for the team"), "dimensions": 256}),
            )
            .unwrap();
        assert_ne!(answer["isError"], true, "{answer}");
    });
    rows.push(("embed", direct_embeds, mcp_embeds));

    print_table("mcp-openai", "a direct call of the endpoint", calls, rows);
    let _ = standin.kill();
    let _ = std::fs::remove_file(&audit);
}
