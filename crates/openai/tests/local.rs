//! mcp-openai with no configuration and the local model present (SmolLM2-135M-Instruct, fetched
//! by `just tools` and named by `MCP_LOCAL_MODEL`): the real binary over stdio picks the local
//! provider, says so, answers chats with progress, and holds JSON answers to their schema.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::path::Path;

use mcp_conformance::StdioServer;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-openai");

/// A data directory holding the model where the server looks by default, and the server
/// started with nothing else configured. `None` when the model was not fetched (outside CI).
fn unconfigured_server() -> Option<(StdioServer, tempfile::TempDir)> {
    let model = mcp_conformance::tool_paths(&["MCP_LOCAL_MODEL"])?.remove(0);
    let data = tempfile::tempdir().unwrap();
    let path = local_model::default_path(data.path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&model, &path).unwrap();
    let env = [
        ("XDG_DATA_HOME", data.path().to_str().unwrap()),
        ("MCP_AUDIT_LOG", "stderr"),
    ];
    let server = StdioServer::spawn(Path::new(BIN), &[], &env).unwrap();
    Some((server, data))
}

#[test]
fn with_nothing_configured_the_local_model_answers_and_says_so() {
    let Some((mut server, _data)) = unconfigured_server() else {
        return;
    };
    let info = server.initialize().unwrap();
    let instructions = info["instructions"].as_str().unwrap();
    assert!(
        instructions.contains("SmolLM2-135M-Instruct") && instructions.contains("local provider"),
        "{instructions}"
    );

    let answer = server
        .request(
            "tools/call",
            json!({"name": "chat", "arguments": {"prompt": "What is the capital of France? Answer in one word.", "max_tokens": 16}, "_meta": {"progressToken": "local-1"}}),
        )
        .unwrap();
    let result = &answer["result"];
    assert_ne!(result["isError"], true, "{answer}\n{}", server.stderr());
    let chat = &result["structuredContent"];
    assert!(chat["text"].as_str().unwrap().contains("Paris"), "{chat}");
    assert_eq!(chat["model"], "SmolLM2-135M-Instruct.Q4_1");
    assert_eq!(chat["usage"]["estimated"], false);
    assert!(
        chat["usage"]["prompt_tokens"].as_u64().unwrap() > 10,
        "{chat}"
    );
    let progress: Vec<&str> = server
        .notifications
        .iter()
        .filter(|n| n["method"] == "notifications/progress")
        .filter_map(|n| n["params"]["message"].as_str())
        .collect();
    assert!(!progress.is_empty(), "the text arrives as progress");
    assert!(
        progress.windows(2).all(|w| w[1].starts_with(w[0])),
        "{progress:?}"
    );

    let models = server.call_ok("list_models", json!({}));
    assert_eq!(models["count"], 1);
    assert_eq!(models["models"][0]["id"], "SmolLM2-135M-Instruct.Q4_1");
    let embed = server.call_err("embed", json!({"texts": "hello"}));
    assert!(embed.contains("not supported"), "{embed}");
    let moderate = server.call_err("moderate", json!({"input": "hello"}));
    assert!(
        moderate.contains("not supported by this endpoint"),
        "{moderate}"
    );
}

/// Twenty requests for JSON of different shapes: every answer parses and matches its schema.
#[test]
fn json_schema_answers_are_valid_for_twenty_varied_prompts() {
    let Some((mut server, _data)) = unconfigured_server() else {
        return;
    };
    server.initialize().unwrap();
    let string = json!({"type": "string"});
    let cases: Vec<(&str, Value)> = vec![
        (
            "Describe Paris.",
            json!({"type": "object", "properties": {"city": string, "country": string}, "required": ["city", "country"], "additionalProperties": false}),
        ),
        (
            "Is the sky blue?",
            json!({"type": "object", "properties": {"answer": {"type": "boolean"}}, "required": ["answer"], "additionalProperties": false}),
        ),
        (
            "How many legs does a spider have?",
            json!({"type": "object", "properties": {"legs": {"type": "integer", "minimum": 0}}, "required": ["legs"], "additionalProperties": false}),
        ),
        (
            "List three fruits.",
            json!({"type": "object", "properties": {"fruits": {"type": "array", "items": string, "minItems": 3, "maxItems": 3}}, "required": ["fruits"], "additionalProperties": false}),
        ),
        (
            "Classify the sentiment of: I love this product!",
            json!({"type": "object", "properties": {"sentiment": {"enum": ["positive", "negative", "neutral"]}}, "required": ["sentiment"], "additionalProperties": false}),
        ),
        (
            "Extract the person: John Smith is 42 years old.",
            json!({"type": "object", "properties": {"name": string, "age": {"type": "integer"}}, "required": ["name", "age"], "additionalProperties": false}),
        ),
        (
            "Give the price of a coffee in euros.",
            json!({"type": "object", "properties": {"price": {"type": "number"}, "currency": {"const": "EUR"}}, "required": ["price", "currency"], "additionalProperties": false}),
        ),
        (
            "Summarise: The meeting is moved to Friday at 10am.",
            json!({"type": "object", "properties": {"summary": {"type": "string", "maxLength": 80}}, "required": ["summary"], "additionalProperties": false}),
        ),
        (
            "Create a to-do item to buy milk.",
            json!({"type": "object", "properties": {"title": string, "done": {"type": "boolean"}, "priority": {"enum": ["low", "medium", "high"]}}, "required": ["title", "done", "priority"], "additionalProperties": false}),
        ),
        (
            "Name two colours with their hex codes.",
            json!({"type": "object", "properties": {"colours": {"type": "array", "maxItems": 2, "items": {"type": "object", "properties": {"name": string, "hex": string}, "required": ["name", "hex"], "additionalProperties": false}}}, "required": ["colours"], "additionalProperties": false}),
        ),
        (
            "What is 7 times 6?",
            json!({"type": "object", "properties": {"result": {"type": "number"}}, "required": ["result"], "additionalProperties": false}),
        ),
        (
            "Translate 'good morning' to Spanish.",
            json!({"type": "object", "properties": {"translation": string, "language": string}, "required": ["translation", "language"], "additionalProperties": false}),
        ),
        (
            "Which company makes the iPhone?",
            json!({"type": "object", "properties": {"company": {"type": ["string", "null"]}}, "required": ["company"], "additionalProperties": false}),
        ),
        (
            "Give a customer record for Acme Corp in Madrid.",
            json!({"type": "object", "properties": {"customer": {"$ref": "#/$defs/customer"}}, "required": ["customer"], "additionalProperties": false, "$defs": {"customer": {"type": "object", "properties": {"name": string, "city": string, "active": {"type": "boolean"}}, "required": ["name", "city", "active"], "additionalProperties": false}}}),
        ),
        (
            "Rate the movie Titanic from 1 to 5.",
            json!({"type": "object", "properties": {"rating": {"type": "integer", "minimum": 1, "maximum": 5}}, "required": ["rating"], "additionalProperties": false}),
        ),
        (
            "Tag this text: Python is a programming language.",
            json!({"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 4}}, "required": ["tags"], "additionalProperties": false}),
        ),
        (
            "Give an address in Berlin.",
            json!({"type": "object", "properties": {"street": string, "postcode": string, "city": string, "country_code": {"enum": ["DE", "FR", "ES"]}}, "required": ["street", "postcode", "city", "country_code"], "additionalProperties": false}),
        ),
        (
            "Answer yes or no: is water wet?",
            json!({"type": "object", "properties": {"reply": {"anyOf": [{"const": "yes"}, {"const": "no"}]}, "confidence": {"type": "number"}}, "required": ["reply", "confidence"], "additionalProperties": false}),
        ),
        (
            "Describe a dog with optional details.",
            json!({"type": "object", "properties": {"breed": string, "age_years": {"type": "integer"}, "nickname": string}, "required": ["breed"], "additionalProperties": false}),
        ),
        (
            "Plan a trip to Rome for two days.",
            json!({"type": "object", "properties": {"destination": string, "days": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "object", "properties": {"day": {"type": "integer"}, "activity": string}, "required": ["day", "activity"], "additionalProperties": false}}}, "required": ["destination", "days"], "additionalProperties": false}),
        ),
    ];
    assert_eq!(cases.len(), 20);
    let mut valid = 0;
    for (prompt, schema) in &cases {
        let chat = server.call_ok(
            "chat",
            json!({"prompt": prompt, "max_tokens": 96, "response_format": {"type": "json_schema", "schema": schema.to_string()}}),
        );
        let validator = jsonschema::validator_for(schema).unwrap();
        let parsed: Value = serde_json::from_str(chat["text"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{prompt}: not JSON ({e}): {chat}"));
        assert_eq!(
            parsed, chat["json"],
            "{prompt}: the parsed JSON is returned"
        );
        assert!(
            validator.is_valid(&parsed),
            "{prompt}: {parsed} does not match {schema}"
        );
        valid += 1;
        eprintln!("{prompt} -> {parsed}");
    }
    assert_eq!(valid, 20);
}

/// Over HTTP the readiness report names the local provider once the model is loaded.
#[test]
fn readyz_says_the_local_model_is_loaded() {
    let Some(model) = mcp_conformance::tool_paths(&["MCP_LOCAL_MODEL"]) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let path = local_model::default_path(data.path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&model[0], &path).unwrap();
    let http = mcp_conformance::HttpServer::start(
        Path::new(BIN),
        &[],
        &[("XDG_DATA_HOME", data.path().to_str().unwrap())],
    )
    .unwrap();
    // The model loads in the background: ready once it has.
    let mut report = Value::Null;
    for _ in 0..100 {
        let ready = http
            .client
            .get(format!("{}/readyz", http.base))
            .send()
            .unwrap();
        let ok = ready.status().is_success();
        report = ready.json().unwrap();
        if ok {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let text = report.to_string();
    assert!(
        text.contains("local provider: SmolLM2-135M-Instruct.Q4_1 loaded"),
        "{text}"
    );
}

/// A cancelled chat stops generating at the next token: the server says so, and the next chat
/// is answered.
#[test]
fn a_cancelled_chat_stops_the_generation() {
    let Some((mut server, _data)) = unconfigured_server() else {
        return;
    };
    server.initialize().unwrap();
    server
        .send_line(
            &json!({"jsonrpc": "2.0", "id": 77, "method": "tools/call", "params": {"name": "chat", "arguments": {"prompt": "Tell me a very long story about the sea.", "max_tokens": 400}, "_meta": {"progressToken": "long"}}})
                .to_string(),
        )
        .unwrap();
    // Wait for the first piece: the generation is running.
    loop {
        let message = server
            .next_message(std::time::Duration::from_secs(30))
            .unwrap();
        if message["method"] == "notifications/progress" {
            break;
        }
    }
    server
        .notify(
            "notifications/cancelled",
            json!({"requestId": 77, "reason": "the user changed their mind"}),
        )
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !server.stderr().contains("local generation cancelled") {
        assert!(
            std::time::Instant::now() < deadline,
            "no cancellation in the log:\n{}",
            server.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let tokens = server
        .stderr()
        .lines()
        .find(|l| l.contains("local generation cancelled"))
        .unwrap_or_default()
        .to_owned();
    assert!(!tokens.contains("tokens=400"), "{tokens}");
    let next = server.call_ok("chat", json!({"prompt": "Say hi.", "max_tokens": 4}));
    assert!(
        next["usage"]["completion_tokens"].as_u64().unwrap() >= 1,
        "{next}"
    );
}
