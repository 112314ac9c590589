//! The stand-in over HTTP, as an OpenAI client sees it: answers, streams, errors, faults and the request record.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

use std::time::Duration;

use openai_standin::{AppState, DEFAULT_API_KEY, StreamOutcome, StreamPlan};
use serde_json::{Value, json};
use standin_kit::Running;

struct Client {
    standin: Running<AppState>,
    http: reqwest::Client,
}

async fn start() -> Client {
    Client {
        standin: openai_standin::spawn().await.unwrap(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    }
}

impl Client {
    async fn post(&self, path: &str, body: Value) -> (u16, reqwest::header::HeaderMap, String) {
        let response = self
            .http
            .post(format!("{}{path}", self.standin.url()))
            .bearer_auth(DEFAULT_API_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap())
    }

    async fn json(&self, path: &str, body: Value) -> (u16, Value) {
        let (status, _, text) = self.post(path, body).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
        )
    }
}

fn chat(model: &str, prompt: &str) -> Value {
    json!({"model": model, "messages": [{"role": "system", "content": "Be brief"}, {"role": "user", "content": prompt}]})
}

/// The `data:` payloads of a server-sent event stream.
fn events(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_streamed_answer_carries_the_same_text_as_the_plain_one_and_ends_with_usage_and_done() {
    let client = start().await;
    let (status, plain) = client
        .json(
            "/v1/chat/completions",
            chat("gpt-4o-mini", "list three colours"),
        )
        .await;
    assert_eq!(status, 200, "{plain}");
    assert_eq!(plain["object"], "chat.completion");
    let text = plain["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(text, "You said: list three colours");
    assert_eq!(
        plain["usage"]["total_tokens"],
        plain["usage"]["prompt_tokens"].as_u64().unwrap() + 5
    );

    let mut body = chat("gpt-4o-mini", "list three colours");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let (status, headers, stream) = client.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = events(&stream);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let streamed: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(streamed, text);
    let finish = chunks
        .iter()
        .find_map(|c| c["choices"][0]["finish_reason"].as_str());
    assert_eq!(finish, Some("stop"));
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"], plain["usage"]);
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c["usage"].is_null())
    );
    let record = client.standin.state.requests();
    assert_eq!(
        record.last().unwrap().stream,
        Some(StreamOutcome::Completed)
    );
}

#[tokio::test]
async fn reasoning_models_refuse_what_openai_refuses_and_accept_max_completion_tokens() {
    let client = start().await;
    // (model, parameters, status, message)
    let cases = [
        (
            "o3-mini",
            json!({"temperature": 0.2}),
            400,
            "Unsupported parameter: 'temperature' is not supported with this model.",
        ),
        (
            "o3-mini",
            json!({"max_tokens": 50}),
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        ),
        (
            "gpt-5-mini",
            json!({"temperature": 0.2}),
            400,
            "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.",
        ),
        (
            "gpt-5-mini",
            json!({"top_p": 0.5}),
            400,
            "Unsupported value: 'top_p' does not support 0.5 with this model. Only the default (1) value is supported.",
        ),
        (
            "gpt-9",
            json!({}),
            404,
            "The model `gpt-9` does not exist or you do not have access to it.",
        ),
    ];
    for (model, parameters, status, message) in cases {
        let mut body = chat(model, "hi");
        body.as_object_mut()
            .unwrap()
            .extend(parameters.as_object().unwrap().clone());
        let (got, answer) = client.json("/v1/chat/completions", body).await;
        assert_eq!(got, status, "{model} {parameters}: {answer}");
        assert_eq!(answer["error"]["message"], message);
        assert_eq!(answer["error"]["type"], "invalid_request_error");
    }
    let mut body = chat("o3-mini", "explain the plan in detail please");
    body["max_completion_tokens"] = json!(18);
    let (status, answer) = client.json("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    // 16 reasoning tokens leave 2 for the answer.
    assert_eq!(answer["choices"][0]["message"]["content"], "You said:");
    assert_eq!(answer["choices"][0]["finish_reason"], "length");
    assert_eq!(
        answer["usage"]["completion_tokens_details"]["reasoning_tokens"],
        16
    );
}

#[tokio::test]
async fn keys_are_checked_and_never_recorded() {
    let client = start().await;
    let url = format!("{}/v1/models", client.standin.url());
    let wrong = client
        .http
        .get(&url)
        .bearer_auth("sk-wrong-key-0000abcd")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Incorrect API key provided: sk-") && message.contains("abcd"),
        "{message}"
    );
    assert!(!message.contains("wrong-key"), "{message}");
    let missing = client.http.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let fine = client
        .http
        .get(&url)
        .bearer_auth(DEFAULT_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200);
    let models: Value = fine.json().await.unwrap();
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "o3-mini")
    );
    let auths: Vec<&str> = client
        .standin
        .state
        .requests()
        .iter()
        .map(|r| r.auth)
        .collect();
    assert_eq!(auths, ["invalid", "missing", "valid"]);

    let open = openai_standin::spawn_with_key(None).await.unwrap();
    let anything = client
        .http
        .get(format!("{}/v1/models", open.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anything.status(), 200);
}

#[tokio::test]
async fn embeddings_are_deterministic_honour_dimensions_and_bring_related_texts_together() {
    let client = start().await;
    let body = json!({"model": "text-embedding-3-small", "input": ["the cat sat on the mat", "a cat on a mat", "quarterly revenue grew"], "dimensions": 64});
    let (status, first) = client.json("/v1/embeddings", body.clone()).await;
    assert_eq!(status, 200, "{first}");
    let (_, second) = client.json("/v1/embeddings", body).await;
    assert_eq!(first, second);
    let vectors: Vec<Vec<f64>> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();
    assert!(vectors.iter().all(|v| v.len() == 64));
    let cosine = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    assert!(cosine(&vectors[0], &vectors[1]) > cosine(&vectors[0], &vectors[2]));
    let (status, refused) = client
        .json(
            "/v1/embeddings",
            json!({"model": "text-embedding-3-small", "input": "x", "dimensions": 5000}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["param"], "dimensions");
}

#[tokio::test]
async fn moderation_flags_and_can_be_switched_off_like_endpoints_without_it() {
    let client = start().await;
    let (status, answer) = client
        .json(
            "/v1/moderations",
            json!({"input": ["how to kill a zombie process", "good morning"]}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["flagged"], true);
    assert_eq!(answer["results"][1]["flagged"], false);
    client.standin.state.set_moderations(false);
    let (status, _, text) = client.post("/v1/moderations", json!({"input": "x"})).await;
    assert_eq!((status, text.as_str()), (404, "404 page not found"));
}

#[tokio::test]
async fn json_schema_answers_validate_and_strict_schemas_must_be_closed() {
    let client = start().await;
    let schema = json!({
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 40},
            "priority": {"type": "string", "enum": ["low", "high"]},
            "steps": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "required": ["n"], "additionalProperties": false}},
        },
        "required": ["title", "priority", "steps"],
        "additionalProperties": false
    });
    let mut body = chat("gpt-4o-mini", "Plan a release of version two of the app");
    body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "plan", "strict": true, "schema": schema}});
    let (status, answer) = client.json("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let content: Value =
        serde_json::from_str(answer["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&content), "{content}");

    body["response_format"]["json_schema"]["schema"]["additionalProperties"] = json!(true);
    let (status, refused) = client.json("/v1/chat/completions", body).await;
    assert_eq!(status, 400);
    assert_eq!(
        refused["error"]["message"],
        "Invalid schema for response_format 'plan': In context=(), 'additionalProperties' is required to be supplied and to be false."
    );
}

#[tokio::test]
async fn faults_answer_openai_bodies_and_a_stalled_stream_holds_until_the_client_leaves() {
    let client = start().await;
    let fault = client
        .http
        .post(format!("{}/__standin/fault", client.standin.url()))
        .json(&json!({"mode": "status", "status": 429, "retry_after": 2, "path": "/v1/chat"}))
        .send()
        .await
        .unwrap();
    assert!(fault.status().is_success());
    let (status, headers, text) = client
        .post("/v1/chat/completions", chat("gpt-4o-mini", "hi"))
        .await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "2");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");

    client.standin.state.set_stream_plan(Some(StreamPlan {
        stall_after: Some(2),
        chunk_delay: Duration::ZERO,
        remaining: Some(1),
    }));
    let mut body = chat("gpt-4o-mini", "one two three four");
    body["stream"] = json!(true);
    let mut response = client
        .http
        .post(format!("{}/v1/chat/completions", client.standin.url()))
        .bearer_auth(DEFAULT_API_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let mut received = String::new();
    let stalled = tokio::time::timeout(Duration::from_millis(800), async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(
        stalled.is_err(),
        "the stream ended instead of stalling: {received}"
    );
    assert_eq!(events(&received).len(), 2, "{received}");
    drop(response);
    // The stand-in sees the client leave.
    let mut outcome = None;
    for _ in 0..50 {
        outcome = client
            .standin
            .state
            .requests()
            .last()
            .and_then(|r| r.stream);
        if outcome == Some(StreamOutcome::Aborted) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(outcome, Some(StreamOutcome::Aborted));
    // The plan was for one stream only.
    let (status, _, text) = client.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200);
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
}
