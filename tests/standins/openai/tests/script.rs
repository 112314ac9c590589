//! Scripted mode over HTTP: posted turns answer chat completions in order (text, parallel tool
//! calls with raw arguments, errors, a streamed tool call), every request is still recorded, a
//! request past the end fails visibly, and a reset returns to unscripted answers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

use std::time::Duration;

use openai_standin::DEFAULT_API_KEY;
use serde_json::{Value, json};

#[tokio::test]
async fn scripted_turns_answer_in_order_and_requests_are_recorded() {
    let standin = openai_standin::spawn().await.unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let post = |path: &str, body: Value| {
        http.post(format!("{}{path}", standin.url()))
            .bearer_auth(DEFAULT_API_KEY)
            .json(&body)
            .send()
    };
    let chat = json!({"model": "any-model", "messages": [{"role": "user", "content": "hola"}], "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]});

    let refused = post("/__standin/script", json!({"turns": [{}]}))
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    assert!(refused.text().await.unwrap().contains("turns[0]"));

    let script = json!({"turns": [
        {"tool_calls": [{"name": "f", "arguments": {"a": 1}, "id": "c1"}, {"name": "g", "arguments": "{not json"}]},
        {"error": {"status": 400, "message": "model does not support tools", "param": "tools"}},
        {"content": "done"}
    ]});
    assert!(
        post("/__standin/script", script)
            .await
            .unwrap()
            .status()
            .is_success()
    );

    let first: Value = post("/v1/chat/completions", chat.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let message = &first["choices"][0]["message"];
    assert_eq!(first["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(message["tool_calls"][0]["id"], "c1");
    assert_eq!(
        message["tool_calls"][0]["function"]["arguments"],
        "{\"a\":1}"
    );
    assert_eq!(message["tool_calls"][1]["function"]["name"], "g");
    assert_eq!(
        message["tool_calls"][1]["function"]["arguments"],
        "{not json"
    );

    let second = post("/v1/chat/completions", chat.clone()).await.unwrap();
    assert_eq!(second.status().as_u16(), 400);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["error"]["param"], "tools");

    let third: Value = post("/v1/chat/completions", chat.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(third["choices"][0]["message"]["content"], "done");

    // The same kind of turn streamed: the call's id and name first, its arguments in pieces.
    standin.state.script().set(vec![
        openai_standin::script::Turn::from_json(
            0,
            &json!({"tool_calls": [{"name": "f", "arguments": {"a": 1}, "id": "s1"}]}),
        )
        .unwrap(),
    ]);
    let mut streamed_chat = chat.clone();
    streamed_chat["stream"] = json!(true);
    let streamed = post("/v1/chat/completions", streamed_chat).await.unwrap();
    assert!(
        streamed.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events: Vec<Value> = streamed
        .text()
        .await
        .unwrap()
        .split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .filter(|data| *data != "[DONE]")
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    let pieces: Vec<&Value> = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(pieces[0]["id"], "s1");
    assert_eq!(pieces[0]["function"]["name"], "f");
    let arguments: String = pieces
        .iter()
        .filter_map(|p| p["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, "{\"a\":1}");
    assert!(pieces.len() >= 3, "arguments not split: {pieces:?}");
    assert!(
        events
            .iter()
            .any(|e| e["choices"][0]["finish_reason"] == "tool_calls")
    );

    let past_the_end = post("/v1/chat/completions", chat.clone()).await.unwrap();
    assert_eq!(past_the_end.status().as_u16(), 500);
    assert!(past_the_end.text().await.unwrap().contains("no turns left"));

    let recorded = standin.state.requests();
    let chats: Vec<_> = recorded
        .iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .collect();
    assert_eq!(chats.len(), 5);
    assert_eq!(chats[0].body["tools"][0]["function"]["name"], "f");

    assert!(
        post("/__standin/reset", json!({}))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let unscripted: Value = post(
        "/v1/chat/completions",
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hola"}]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        unscripted["choices"][0]["message"]["content"],
        "You said: hola"
    );
}
