//! The real model (SmolLM2-135M-Instruct, fetched by `just tools` and named by
//! `MCP_LOCAL_MODEL`): tokenization, greedy determinism, JSON held to a schema, limits and
//! cancellation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, OnceLock};

use local_model::{Finish, GenerateError, JsonGuide, Limits, LocalModel, Request, Turn};
use serde_json::{Value, json};

/// One load for every test of this binary; the model is immutable once loaded.
fn model() -> Option<&'static LocalModel> {
    static MODEL: OnceLock<Option<LocalModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let path = mcp_conformance::tool_paths(&["MCP_LOCAL_MODEL"])?.remove(0);
            Some(LocalModel::load(std::path::Path::new(&path)).expect("the local model loads"))
        })
        .as_ref()
}

/// Generations take turns: two at once on two cores only make both slow.
static TURN: Mutex<()> = Mutex::new(());

fn generate(
    model: &LocalModel,
    turns: &[Turn],
    max_tokens: usize,
    guide: Option<&JsonGuide>,
) -> (local_model::Output, String) {
    let _turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut streamed = String::new();
    let request = Request {
        turns,
        max_tokens,
        temperature: 0.0,
        seed: 0,
        guide,
    };
    let output = model
        .generate(&request, &AtomicBool::new(false), &mut |piece| {
            streamed.push_str(piece)
        })
        .expect("generation succeeds");
    (output, streamed)
}

#[test]
fn answers_greedily_and_the_same_way_twice() {
    let Some(model) = model() else { return };
    let turns = [Turn::new(
        "user",
        "What is the capital of France? Answer in one word.",
    )];
    let (first, streamed) = generate(model, &turns, 16, None);
    let (second, _) = generate(model, &turns, 16, None);
    assert!(first.text.contains("Paris"), "answer: {:?}", first.text);
    assert_eq!(first.text, second.text, "greedy decoding is deterministic");
    assert_eq!(
        streamed, first.text,
        "the streamed pieces make the whole answer"
    );
    assert!(first.prompt_tokens > 10 && first.completion_tokens >= 1);
    assert!(first.completion_tokens <= 16);
}

#[test]
fn a_prompt_that_begins_like_an_earlier_one_reads_only_the_rest_and_answers_the_same() {
    // Its own copy: the shared one's kept prompts change as the other tests run.
    let Some(path) = mcp_conformance::tool_paths(&["MCP_LOCAL_MODEL"]) else {
        return;
    };
    let own = LocalModel::load(std::path::Path::new(&path[0])).unwrap();
    let model = &own;
    let system = Turn::new("system", "You are a terse assistant. Answer in one word.");
    let question = Turn::new("user", "What colour is the sky on a clear day?");
    let turns = [system.clone(), question.clone()];
    let (first, _) = generate(model, &[Turn::new("user", "warm-up")], 1, None);
    assert_eq!(first.completion_tokens, 1);
    model.forget_prompts();
    let (cold, _) = generate(model, &turns, 12, None);
    assert_eq!(cold.cached_prompt_tokens, 0);
    // Another question after the same system message starts from the system turn.
    let (other, _) = generate(
        model,
        &[system.clone(), Turn::new("user", "Name a fruit.")],
        4,
        None,
    );
    assert!(other.cached_prompt_tokens > 5, "{other:?}");
    assert!(other.cached_prompt_tokens < other.prompt_tokens);
    // The same prompt again is read from its snapshot, and the answer does not change.
    let (warm, _) = generate(model, &turns, 12, None);
    assert_eq!(warm.cached_prompt_tokens, warm.prompt_tokens);
    assert_eq!(warm.text, cold.text);
    // A longer conversation that begins with it reads only what was added.
    let longer = [
        system,
        question,
        Turn::new("assistant", cold.text.clone()),
        Turn::new("user", "And at night?"),
    ];
    let (next, _) = generate(model, &longer, 4, None);
    assert_eq!(next.cached_prompt_tokens, cold.prompt_tokens);
}

#[test]
fn counts_tokens_with_the_models_own_vocabulary() {
    let Some(model) = model() else { return };
    // SmolLM2's pre-tokenizer splits digits one by one.
    assert_eq!(model.count_tokens("2026"), 4);
    assert!(model.count_tokens("Hello world") <= 3);
    assert_eq!(model.name(), "SmolLM2-135M-Instruct.Q4_1");
}

#[test]
fn json_answers_match_the_schema_even_when_cut_short() {
    let Some(model) = model() else { return };
    let schema = json!({
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "country": {"type": "string"},
            "population_millions": {"type": "number"},
            "landmarks": {"type": "array", "items": {"type": "string"}, "maxItems": 3}
        },
        "required": ["city", "country", "population_millions", "landmarks"],
        "additionalProperties": false
    });
    let guide = JsonGuide::from_schema(&schema, Limits::default()).expect("schema compiles");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let turns = [Turn::new("user", "Describe Paris as JSON.")];
    for max_tokens in [200, 12, 3] {
        let (output, _) = generate(model, &turns, max_tokens, Some(&guide));
        let value: Value = serde_json::from_str(&output.text)
            .unwrap_or_else(|e| panic!("{max_tokens} tokens: not JSON ({e}): {}", output.text));
        assert!(
            validator.is_valid(&value),
            "{max_tokens} tokens: {value} does not match the schema"
        );
        if max_tokens == 3 {
            assert_eq!(output.finish, Finish::Length, "cut at the limit and closed");
        }
    }
}

#[test]
fn a_conversation_too_long_for_the_context_is_refused_before_running() {
    let Some(model) = model() else { return };
    let long = "word ".repeat(model.context());
    let turns = [Turn::new("user", long)];
    let request = Request {
        turns: &turns,
        max_tokens: 10,
        temperature: 0.0,
        seed: 0,
        guide: None,
    };
    let error = model
        .generate(&request, &AtomicBool::new(false), &mut |_| {})
        .unwrap_err();
    assert!(matches!(error, GenerateError::TooLong { .. }), "{error}");
}

#[test]
fn a_cancelled_generation_stops_before_the_next_token() {
    let Some(model) = model() else { return };
    let turns = [Turn::new("user", "Tell me a long story.")];
    let request = Request {
        turns: &turns,
        max_tokens: 200,
        temperature: 0.0,
        seed: 0,
        guide: None,
    };
    let cancel = AtomicBool::new(true);
    let output = model.generate(&request, &cancel, &mut |_| {}).unwrap();
    assert_eq!(output.finish, Finish::Cancelled);
    assert_eq!(output.completion_tokens, 0);
}

#[test]
fn sampling_follows_its_seed() {
    let Some(model) = model() else { return };
    let turns = [Turn::new("user", "Name a colour.")];
    let run = |seed| {
        let _turn = TURN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let request = Request {
            turns: &turns,
            max_tokens: 8,
            temperature: 0.9,
            seed,
            guide: None,
        };
        model
            .generate(&request, &AtomicBool::new(false), &mut |_| {})
            .unwrap()
            .text
    };
    assert_eq!(run(7), run(7), "the same seed draws the same answer");
}
