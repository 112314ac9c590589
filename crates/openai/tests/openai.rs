//! mcp-openai end to end: the real binary over stdio against the OpenAI-compatible stand-in
//! (`tests/standins/openai`) served in process on a loopback port, with faults injected where a
//! real endpoint would stall, refuse or rate-limit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::path::Path;
use std::time::{Duration, Instant};

use mcp_conformance::StdioServer;
use openai_standin::{AppState, RecordedRequest, StreamOutcome, StreamPlan};
use serde_json::{Value, json};
use standin_kit::Hosted;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-openai");
/// A key distinctive enough that finding it anywhere means it leaked.
const KEY: &str = "sk-mcp-openai-test-Zq8vX3kP9wL2";

/// The stand-in on its own runtime while the test thread drives the server.
struct Stand(Hosted<AppState>);

impl Stand {
    fn start() -> Stand {
        Stand(Hosted::start(|| {
            openai_standin::spawn_with_key(Some(KEY.to_owned()))
        }))
    }

    fn base_url(&self) -> String {
        format!("{}/v1", self.0.url())
    }

    fn fault(&self, body: Value) {
        self.0.control("fault", body);
    }

    fn stream_plan(&self, stall_after: Option<usize>, chunk_delay_ms: u64, count: u64) {
        self.0.state().set_stream_plan(Some(StreamPlan {
            stall_after,
            chunk_delay: Duration::from_millis(chunk_delay_ms),
            remaining: Some(count),
        }));
    }

    fn requests(&self, path: &str) -> Vec<RecordedRequest> {
        self.0
            .state()
            .requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    fn chats(&self) -> Vec<RecordedRequest> {
        self.requests("/v1/chat/completions")
    }
}

fn server(stand: &Stand, extra: &[(&str, &str)]) -> StdioServer {
    let url = stand.base_url();
    let env = [
        ("OPENAI_BASE_URL", url.as_str()),
        ("OPENAI_API_KEY", KEY),
        ("MCP_AUDIT_LOG", "stderr"),
        ("OPENAI_TIMEOUT_SECS", "3"),
    ];
    StdioServer::started(Path::new(BIN), &env, extra)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_chat_streams_its_text_as_progress_notifications_and_reports_usage() {
    let stand = Stand::start();
    let mut server = server(&stand, &[]);
    // A pause between pieces, so they arrive as separate notifications.
    stand.stream_plan(None, 30, 1);
    let answer = server
        .request(
            "tools/call",
            json!({"name": "chat", "arguments": {"prompt": "name three primary colours please", "system": "Be brief"}, "_meta": {"progressToken": "chat-1"}}),
        )
        .unwrap();
    let result = &answer["result"];
    assert_ne!(result["isError"], true, "{answer}");
    let chat = &result["structuredContent"];
    assert_eq!(chat["text"], "You said: name three primary colours please");
    assert_eq!(chat["model"], "gpt-4o-mini");
    assert_eq!(chat["finish_reason"], "stop");
    // The stand-in counts words: 3 framing + (2 + 4) system + (5 + 4) user.
    assert_eq!(chat["usage"]["prompt_tokens"], 18);
    assert_eq!(chat["usage"]["completion_tokens"], 7);
    assert_eq!(chat["usage"]["estimated"], false);
    assert_eq!(chat["session"]["used_tokens"], 25);

    let progress: Vec<&Value> = server
        .notifications
        .iter()
        .filter(|n| n["method"] == "notifications/progress")
        .map(|n| &n["params"])
        .collect();
    assert!(progress.len() >= 3, "{progress:?}");
    assert!(progress.iter().all(|p| p["progressToken"] == "chat-1"));
    let values: Vec<f64> = progress
        .iter()
        .map(|p| p["progress"].as_f64().unwrap())
        .collect();
    assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
    let messages: Vec<&str> = progress
        .iter()
        .map(|p| p["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.windows(2).all(|w| w[1].starts_with(w[0])),
        "{messages:?}"
    );
    assert_eq!(
        messages.last().copied(),
        Some("You said: name three primary colours please")
    );

    let sent = &stand.chats()[0];
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["stream_options"]["include_usage"], true);
    assert_eq!(sent.body["messages"][0]["role"], "system");
    assert_eq!(sent.stream, Some(StreamOutcome::Completed));
    let audit = server.stderr();
    assert!(
        audit.contains("\"tool\":\"chat\"") && audit.contains("\"total_tokens\":25"),
        "the audit line holds the usage: {audit}"
    );
}

#[test]
fn a_reasoning_model_called_with_temperature_succeeds_with_the_adjustment_noted() {
    let stand = Stand::start();
    let mut server = server(&stand, &[]);
    let chat = server.call_ok("chat",
        json!({"prompt": "plan the sprint", "model": "o3-mini", "temperature": 0.2, "max_tokens": 200}),
    );
    assert_eq!(chat["text"], "You said: plan the sprint");
    assert_eq!(chat["usage"]["reasoning_tokens"], 16);
    let adjustments = strings(&chat["adjustments"]);
    assert!(
        adjustments
            .iter()
            .any(|a| a.starts_with("temperature 0.2 was left out")),
        "{adjustments:?}"
    );
    assert!(
        adjustments
            .iter()
            .any(|a| a.contains("sent as max_completion_tokens")),
        "{adjustments:?}"
    );
    let sent = &stand.chats()[0].body;
    assert!(sent.get("temperature").is_none(), "{sent}");
    assert!(sent.get("max_tokens").is_none(), "{sent}");
    assert_eq!(sent["max_completion_tokens"], 200);
    // One request: nothing was refused on the way.
    assert_eq!(stand.chats().len(), 1);

    // gpt-5 keeps a temperature of 1, the only one it takes.
    let gpt5 = server.call_ok(
        "chat",
        json!({"prompt": "hi", "model": "gpt-5-mini", "temperature": 1}),
    );
    assert!(gpt5.get("adjustments").is_none(), "{gpt5}");
    assert_eq!(stand.chats()[1].body["temperature"], 1.0);

    // A reasoning model its name does not betray: the endpoint's 400 names the parameter, the
    // server sends again without it and remembers, so the next call leaves it out at once.
    let first = server.call_ok(
        "chat",
        json!({"prompt": "think", "model": "local-reasoner", "temperature": 0.7}),
    );
    let adjustments = strings(&first["adjustments"]);
    assert_eq!(
        adjustments,
        ["temperature 0.7 was left out, because the endpoint refused it for local-reasoner"]
    );
    let statuses: Vec<u16> = stand.chats()[2..].iter().map(|r| r.status).collect();
    assert_eq!(statuses, [400, 200]);
    let again = server.call_ok(
        "chat",
        json!({"prompt": "think again", "model": "local-reasoner", "temperature": 0.7}),
    );
    assert_eq!(strings(&again["adjustments"]).len(), 1);
    assert_eq!(stand.chats().len(), 5, "the second call was sent once");
}

#[test]
fn a_400_that_still_comes_back_names_the_parameter() {
    let stand = Stand::start();
    let mut server = server(&stand, &[]);
    let error = server.call_err(
        "embed",
        json!({"texts": "hello", "model": "text-embedding-ada-002", "dimensions": 64}),
    );
    assert!(
        error.starts_with("OpenAI rejected embed: HTTP 400 Bad Request: This model does not support specifying dimensions (parameter `dimensions`)"),
        "{error}"
    );
    assert!(
        error.contains("change or leave out `dimensions`"),
        "{error}"
    );
    let missing = server.call_err("chat", json!({"prompt": "hi", "model": "gpt-9"}));
    assert!(
        missing.contains("The model `gpt-9` does not exist") && missing.contains("list_models"),
        "{missing}"
    );
}

#[test]
fn a_429_is_retried_after_its_retry_after() {
    let stand = Stand::start();
    let mut server = server(&stand, &[]);
    stand.fault(
        json!({"mode": "status", "status": 429, "retry_after": 2, "path": "/v1/chat/completions"}),
    );
    let started = Instant::now();
    let chat = server.call_ok("chat", json!({"prompt": "hello there"}));
    let waited = started.elapsed();
    assert_eq!(chat["text"], "You said: hello there");
    assert!(waited >= Duration::from_secs(2), "retried after {waited:?}");
    // The 429 was answered by the fault plan before the stand-in's handler, which recorded the retry.
    let calls = stand.0.calls("POST /v1/chat/completions");
    assert_eq!(calls, 2);
    let statuses: Vec<u16> = stand.chats().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200]);
    assert!(
        server.stderr().contains("backend call failed; retrying"),
        "{}",
        server.stderr()
    );
}

#[test]
fn a_stalled_stream_ends_in_the_timeout_with_a_clear_error() {
    let stand = Stand::start();
    let mut server = server(
        &stand,
        &[("OPENAI_TIMEOUT_SECS", "1"), ("OPENAI_RETRIES", "1")],
    );
    // Both attempts stall after the role and the first word.
    stand.stream_plan(Some(2), 0, 2);
    let started = Instant::now();
    let error = server.call_err("chat", json!({"prompt": "tell me a long story"}));
    assert!(started.elapsed() < Duration::from_secs(10));
    let expected = format!(
        "OpenAI at {} did not answer chat in time: the stream stalled: nothing arrived for 1 s after 1 piece of the answer, after 2 attempts",
        stand.base_url()
    );
    assert!(error.starts_with(&expected), "{error}");
    // The server hung up on both stalled streams.
    let mut outcomes = Vec::new();
    for _ in 0..50 {
        outcomes = stand.chats().iter().map(|r| r.stream).collect();
        if outcomes.iter().all(|o| *o == Some(StreamOutcome::Aborted)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(outcomes, [Some(StreamOutcome::Aborted); 2]);
    // An unreachable endpoint says so, naming it.
    let mut nowhere = server_at(&stand, "http://127.0.0.1:9/v1");
    let error = nowhere.call_err("list_models", json!({}));
    assert!(
        error
            .starts_with("error connecting to OpenAI at http://127.0.0.1:9/v1: connection refused"),
        "{error}"
    );
}

fn server_at(stand: &Stand, url: &str) -> StdioServer {
    server(stand, &[("OPENAI_BASE_URL", url), ("OPENAI_RETRIES", "0")])
}

#[test]
fn cancelling_a_chat_aborts_the_request_to_the_endpoint() {
    let stand = Stand::start();
    let mut server = server(&stand, &[]);
    stand.stream_plan(None, 300, 1);
    server
        .send_line(
            &json!({"jsonrpc": "2.0", "id": 77, "method": "tools/call", "params": {"name": "chat", "arguments": {"prompt": "one two three four five six seven eight"}, "_meta": {"progressToken": 77}}})
                .to_string(),
        )
        .unwrap();
    // Wait for the first piece, then cancel.
    loop {
        let message = server.next_message(Duration::from_secs(10)).unwrap();
        assert_ne!(
            message["id"], 77,
            "answered before it could be cancelled: {message}"
        );
        if message["method"] == "notifications/progress" {
            break;
        }
    }
    server
        .notify(
            "notifications/cancelled",
            json!({"requestId": 77, "reason": "user pressed stop"}),
        )
        .unwrap();
    let mut outcome = None;
    for _ in 0..100 {
        outcome = stand.chats().first().and_then(|r| r.stream);
        if outcome == Some(StreamOutcome::Aborted) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(outcome, Some(StreamOutcome::Aborted));
    // The server carries on.
    let models = server.call_ok("list_models", json!({}));
    assert!(models["count"].as_u64().unwrap() > 5);
    assert!(
        server.stderr().contains("\"cancelled\":true"),
        "{}",
        server.stderr()
    );
}

#[test]
fn json_schema_output_validates_against_the_schema() {
    let stand = Stand::start();
    let mut server = server(&stand, &[]);
    let schema = json!({
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 3},
            "priority": {"type": "string", "enum": ["low", "medium", "high"]},
            "estimate_days": {"type": "integer", "minimum": 1, "maximum": 30},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1}
        },
        "required": ["title", "priority", "estimate_days", "tags"],
        "additionalProperties": false
    });
    let chat = server.call_ok("chat",
        json!({"prompt": "Turn this into a ticket: the login page is slow", "response_format": {"type": "json_schema", "name": "ticket", "schema": schema.to_string()}}),
    );
    let parsed = &chat["json"];
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(parsed), "{parsed}");
    assert_eq!(
        serde_json::from_str::<Value>(chat["text"].as_str().unwrap()).unwrap(),
        *parsed
    );
    let sent = &stand.chats()[0].body["response_format"];
    assert_eq!(sent["type"], "json_schema");
    assert_eq!(
        sent["json_schema"]["strict"], true,
        "a strict-form schema goes strict"
    );
    assert_eq!(sent["json_schema"]["name"], "ticket");

    // A schema outside the strict form goes without strict mode, and is still validated.
    let loose = json!({"type": "object", "properties": {"answer": {"type": "string"}}});
    let chat = server.call_ok("chat",
        json!({"prompt": "Answer", "response_format": {"type": "json_schema", "schema": loose.to_string()}}),
    );
    assert!(chat["json"]["answer"].is_string(), "{chat}");
    assert!(
        strings(&chat["notes"])
            .iter()
            .any(|n| n.contains("without strict mode"))
    );
    assert_eq!(
        stand.chats()[1].body["response_format"]["json_schema"]["strict"],
        false
    );

    // json_object without the word JSON gets the system message OpenAI insists on.
    let object = server.call_ok(
        "chat",
        json!({"prompt": "Describe Lisbon", "response_format": {"type": "json_object"}}),
    );
    assert!(object["json"].is_object(), "{object}");

    // JSON cut at the token limit is an error that says so, and what the call cost.
    let cut = server.call_err("chat",
        json!({"prompt": "Turn this into a ticket: the login page is slow", "max_tokens": 2, "response_format": {"type": "json_schema", "name": "ticket", "schema": schema.to_string()}}),
    );
    assert!(
        cut.starts_with("the model's answer was cut at the token limit of 2 tokens before its JSON was complete: raise max_tokens; the call used "),
        "{cut}"
    );

    // Bad schemas are caught before anything is sent.
    let before = stand.chats().len();
    // (schema text, what the error says)
    let cases = [
        (
            "{not json",
            "invalid argument `response_format.schema`: expected a JSON Schema as JSON text",
        ),
        (
            r#"{"type": "array"}"#,
            "invalid argument `response_format.schema`: expected a schema whose root is",
        ),
        (
            r#"{"type": "object", "properties": {"a": {"type": 5}}}"#,
            "invalid argument `response_format.schema`: expected a valid JSON Schema",
        ),
    ];
    for (schema, expected) in cases {
        let error = server.call_err(
            "chat",
            json!({"prompt": "x", "response_format": {"type": "json_schema", "schema": schema}}),
        );
        assert!(error.starts_with(expected), "{schema}: {error}");
    }
    assert_eq!(stand.chats().len(), before);
}

#[test]
fn the_key_never_appears_in_logs_audit_or_output() {
    let stand = Stand::start();
    let mut server = server(&stand, &[("MCP_LOG_LEVEL", "debug")]);
    let mut outputs = Vec::new();
    for (tool, arguments) in [
        ("chat", json!({"prompt": format!("repeat my key {KEY}")})),
        ("embed", json!({"texts": ["a", "b"], "dimensions": 8})),
        ("list_models", json!({})),
        ("moderate", json!({"input": "hello"})),
        ("chat", json!({"prompt": "x", "model": "gpt-9"})),
    ] {
        let result = server.call_tool(tool, arguments).unwrap();
        outputs.push(result.to_string());
    }
    // The key as the caller's own text is scrubbed too: the server treats it as the secret it is.
    let echoed = &outputs[0];
    assert!(echoed.contains("[redacted]"), "{echoed}");
    // A wrong key: the endpoint's refusal is passed on without the key.
    let mut wrong = server_with_key(&stand, "sk-mcp-openai-wrong-Yt5Rb8Nc1Hd4");
    let refused = wrong.call_err("list_models", json!({}));
    assert!(
        refused.starts_with(
            "OpenAI rejected list_models: HTTP 401 Unauthorized: Incorrect API key provided"
        ) && refused.ends_with("— check OPENAI_API_KEY"),
        "{refused}"
    );
    assert!(!refused.contains("Yt5Rb8Nc1Hd4"), "{refused}");
    let logs = server.stderr() + &wrong.stderr();
    assert!(
        logs.contains("\"tool\":\"embed\""),
        "the audit is on stderr: {logs}"
    );
    for (what, text) in [
        ("stderr and audit", &logs),
        ("results", &outputs.join("\n")),
    ] {
        assert!(!text.contains(KEY), "the key leaked into {what}: {text}");
        assert!(
            !text.contains("Zq8vX3kP9wL2"),
            "part of the key leaked into {what}"
        );
    }
    // The stand-in got the right key on every request but the wrong server's one.
    let auths: Vec<&str> = stand.0.state().requests().iter().map(|r| r.auth).collect();
    assert_eq!(
        auths.iter().filter(|a| **a != "valid").count(),
        1,
        "{auths:?}"
    );
}

fn server_with_key(stand: &Stand, key: &str) -> StdioServer {
    server(stand, &[("OPENAI_API_KEY", key), ("OPENAI_RETRIES", "0")])
}

#[test]
fn budgets_refuse_calls_with_the_numbers_and_nothing_is_sent() {
    let stand = Stand::start();
    let mut server = server(
        &stand,
        &[
            ("OPENAI_MAX_TOKENS_PER_CALL", "100"),
            ("OPENAI_MAX_TOKENS_PER_SESSION", "150"),
        ],
    );
    let refused = server.call_err("chat", json!({"prompt": "hello", "max_tokens": 200}));
    assert!(
        refused
            .starts_with("refused: this call could use up to 206 tokens (about 6 for the prompt")
            && refused.contains("more than the 100 allowed per call (OPENAI_MAX_TOKENS_PER_CALL)"),
        "{refused}"
    );
    assert!(stand.chats().is_empty());
    // Without max_tokens the server sets the largest limit that fits, and says so.
    let chat = server.call_ok("chat", json!({"prompt": "hello"}));
    assert_eq!(stand.chats()[0].body["max_tokens"], 94);
    assert!(
        strings(&chat["notes"])
            .iter()
            .any(|n| n.starts_with("max_tokens was set to 94"))
    );
    let used = chat["session"]["used_tokens"].as_u64().unwrap();
    assert_eq!(chat["session"]["limit_tokens"], 150);
    // Spend the rest of the session.
    let text = "word ".repeat(10);
    let mut spent = used;
    while spent < 140 {
        let chat = server.call_ok("chat", json!({"prompt": "hi", "max_tokens": 5}));
        spent = chat["session"]["used_tokens"].as_u64().unwrap();
    }
    let refused = server.call_err("chat", json!({"prompt": text}));
    assert!(
        refused.contains(&format!(
            "this session has used {spent} of its 150 tokens (OPENAI_MAX_TOKENS_PER_SESSION)"
        )),
        "{refused}"
    );
    let sent = stand.chats().len();
    let refused = server.call_err("embed", json!({"texts": ["x".repeat(600)]}));
    assert!(
        refused.contains("the texts are about 150 tokens"),
        "{refused}"
    );
    assert_eq!(stand.chats().len(), sent);
    assert!(stand.requests("/v1/embeddings").is_empty());
}

#[test]
fn long_answers_are_cut_with_a_note() {
    let stand = Stand::start();
    let mut server = server(&stand, &[("OPENAI_MAX_OUTPUT_CHARS", "1000")]);
    let prompt = "lorem ipsum dolor sit amet ".repeat(60);
    let chat = server.call_ok("chat", json!({"prompt": prompt}));
    assert_eq!(chat["truncated"], true);
    assert_eq!(chat["text"].as_str().unwrap().chars().count(), 1000);
    assert!(
        chat["text"]
            .as_str()
            .unwrap()
            .starts_with("You said: lorem ipsum")
    );
    let notes = strings(&chat["notes"]);
    assert!(
        notes.iter().any(|n| n == "the answer is 1629 characters; only the first 1000 are returned (OPENAI_MAX_OUTPUT_CHARS)"),
        "{notes:?}"
    );
    // The token limit shows as the finish reason, with a note.
    let cut = server.call_ok(
        "chat",
        json!({"prompt": "one two three four five", "max_tokens": 3}),
    );
    assert_eq!(cut["finish_reason"], "length");
    assert_eq!(cut["text"], "You said: one");
    assert!(
        strings(&cut["notes"])
            .iter()
            .any(|n| n.contains("cut at the token limit (3 tokens)"))
    );
}

#[test]
fn embeddings_models_and_moderation_answer_or_say_the_endpoint_lacks_them() {
    let stand = Stand::start();
    let mut server = server(&stand, &[]);
    let embedded = server.call_ok("embed",
        json!({"texts": ["the cat sat on the mat", "a cat on a mat", "quarterly revenue grew"], "dimensions": 32}),
    );
    assert_eq!(embedded["dimensions"], 32);
    assert_eq!(embedded["model"], "text-embedding-3-small");
    let vectors: Vec<Vec<f64>> = embedded["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();
    let cosine = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    assert!(cosine(&vectors[0], &vectors[1]) > cosine(&vectors[0], &vectors[2]));
    // The stand-in counts words: 6 + 5 + 3.
    assert_eq!(embedded["usage"]["prompt_tokens"], 14);
    let one = server.call_ok("embed", json!({"texts": "just one"}));
    assert_eq!(one["vectors"].as_array().unwrap().len(), 1);
    assert_eq!(one["dimensions"], 1536);

    let models = server.call_ok("list_models", json!({}));
    let o3 = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "o3-mini")
        .unwrap();
    assert_eq!(o3["reasoning"], true);
    assert_eq!(models["default_model"], "gpt-4o-mini");

    let moderated = server.call_ok(
        "moderate",
        json!({"input": ["I will kill the zombie process", "good morning"]}),
    );
    assert_eq!(moderated["flagged"], true);
    assert_eq!(
        strings(&moderated["results"][0]["categories"]),
        ["violence"]
    );
    assert_eq!(moderated["results"][1]["flagged"], false);
    stand.0.state().set_moderations(false);
    let unsupported = server.call_err("moderate", json!({"input": "hello"}));
    assert_eq!(
        unsupported,
        format!(
            "moderation is not supported by this endpoint: {}/moderations answered HTTP 404; OpenAI's own API (https://api.openai.com/v1) has it",
            stand.base_url()
        )
    );
    // A conversation: the earlier turns, then the prompt as the user's next message.
    let turn = server.call_ok("chat",
        json!({"prompt": "and in Porto?", "system": "Be brief", "messages": [{"role": "user", "content": "Weather in Lisbon?"}, {"role": "assistant", "content": "Sunny."}]}),
    );
    assert_eq!(turn["text"], "You said: and in Porto?");
    let sent = stand.chats().last().unwrap().body["messages"].clone();
    let roles: Vec<&str> = sent
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    // Bad input names the field.
    let cases = [
        (
            "chat",
            json!({}),
            "invalid arguments for `chat`: `prompt`: missing required argument (expected a string)",
        ),
        (
            "chat",
            json!({"prompt": " "}),
            "invalid argument `prompt`: expected a message that is not empty",
        ),
        (
            "chat",
            json!({"prompt": "a", "messages": [{"role": "user", "content": " "}]}),
            "invalid argument `messages[0].content`",
        ),
        (
            "chat",
            json!({"prompt": "a", "temperature": 3}),
            "invalid argument `temperature`: expected a number from 0 to 2",
        ),
        ("embed", json!({"texts": []}), "invalid argument `texts`"),
    ];
    for (tool, arguments, expected) in cases {
        let error = server.call_err(tool, arguments.clone());
        assert!(error.starts_with(expected), "{tool} {arguments}: {error}");
    }
}
