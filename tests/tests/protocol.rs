//! Protocol checks run against every server in servers.json, over stdio and streamable HTTP.
//! A server added to servers.json is covered without editing this file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::time::Duration;

use mcp_conformance::results::for_each_server;
use mcp_conformance::servers::{ServerEntry, pairs, test_environment};
use mcp_conformance::{HttpServer, StdioServer, binary_path};
use serde_json::{Value, json};
use tempfile::TempDir;

/// Each server runs with its data under a fresh temporary directory and servers.json's env.
fn spawn_stdio(server: &ServerEntry, dir: &TempDir) -> StdioServer {
    let env = test_environment(server, dir.path());
    let args: Vec<&str> = server.args.iter().map(String::as_str).collect();
    let mcp = StdioServer::spawn(&binary_path(&server.command), &args, &pairs(&env)).unwrap();
    // The environment holds the stand-in backend, if any: it must outlive the server.
    mcp.keep_alive(env)
}

fn start_http(
    server: &ServerEntry,
    dir: &TempDir,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> HttpServer {
    let mut env = test_environment(server, dir.path());
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let http = HttpServer::start(&binary_path(&server.command), args, &pairs(&env)).unwrap();
    // The environment holds the stand-in backend, if any: it must outlive the server.
    http.keep_alive(env)
}

fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn property_keys(schema: &Value, keys: &mut Vec<String>) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (key, inner) in properties {
            keys.push(key.clone());
            property_keys(inner, keys);
        }
    }
    for keyword in ["$defs", "definitions"] {
        if let Some(defs) = schema.get(keyword).and_then(Value::as_object) {
            defs.values().for_each(|inner| property_keys(inner, keys));
        }
    }
    if let Some(items) = schema.get("items") {
        property_keys(items, keys);
    }
}

/// Problems with one tool of a `tools/list` answer.
fn tool_problems(server: &str, tool: &Value) -> Vec<String> {
    let name = tool["name"].as_str().unwrap_or_default();
    let mut problems = Vec::new();
    let mut fail = |what: String| problems.push(format!("{server}: tool `{name}`: {what}"));
    if !is_valid_name(name) {
        fail("name must be 1-64 characters of [a-zA-Z0-9_-]".into());
    }
    if tool["description"]
        .as_str()
        .is_none_or(|d| d.trim().is_empty())
    {
        fail("no description".into());
    }
    if tool["inputSchema"]["type"] != "object" {
        fail(format!(
            "inputSchema type is {} instead of object",
            tool["inputSchema"]["type"]
        ));
    }
    if tool["outputSchema"]["type"] != "object" {
        fail("no object outputSchema".into());
    }
    if !tool["annotations"]["readOnlyHint"].is_boolean() {
        fail("annotations.readOnlyHint missing".into());
    }
    if tool["annotations"]["readOnlyHint"] == false
        && !tool["annotations"]["destructiveHint"].is_boolean()
    {
        fail("a tool that is not read-only must say destructiveHint".into());
    }
    match mcp_conformance::strict::to_strict(&tool["inputSchema"]) {
        Err(reasons) => fail(format!(
            "cannot be converted to OpenAI strict form: {}",
            reasons.join("; ")
        )),
        Ok(strict) => {
            let before = mcp_conformance::strict::property_paths(&tool["inputSchema"]);
            let after = mcp_conformance::strict::property_paths(&strict);
            if before != after {
                fail(format!(
                    "OpenAI strict conversion lost fields: {before:?} became {after:?}"
                ));
            }
        }
    }
    let mut keys = Vec::new();
    property_keys(&tool["inputSchema"], &mut keys);
    property_keys(&tool["outputSchema"], &mut keys);
    for key in keys {
        if !(1..=64).contains(&key.len())
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            fail(format!(
                "property key `{key}` breaks ^[a-zA-Z0-9_.-]{{1,64}}$"
            ));
        }
    }
    problems
}

/// Requests that are not valid JSON although a quick skim accepts them, with their ids: a lone
/// surrogate escape, a byte that is not UTF-8, and nesting at serde_json's limit of 128 levels.
fn malformed_lines() -> Vec<(u64, Vec<u8>, &'static str)> {
    let surrogate =
        br#"{"jsonrpc":"2.0","id":81,"method":"ping","params":{"x":"\ud800"}}"#.to_vec();
    let mut not_utf8 = br#"{"jsonrpc":"2.0","id":82,"method":"ping","params":{"x":""#.to_vec();
    not_utf8.extend_from_slice(b"\xff\"}}");
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":83,"method":"ping","params":{{"x":{}{}}}}}"#,
        "[".repeat(126),
        "]".repeat(126)
    )
    .into_bytes();
    vec![
        (81, surrogate, "a lone surrogate escape"),
        (82, not_utf8, "a \\xff byte"),
        (83, deep, "JSON nested 128 levels deep"),
    ]
}

#[test]
fn stdio_lifecycle_and_listings() {
    for_each_server("stdio", "lifecycle, listings and tool rules", |server| {
        let dir = TempDir::new().unwrap();
        let mut mcp = spawn_stdio(server, &dir);
        let name = &server.name;

        // A request before initialize gets an error, never silence.
        let early = mcp.request("tools/list", json!({})).unwrap();
        assert!(
            early.get("error").is_some(),
            "{name}/stdio: tools/list before initialize answered {early}"
        );

        let init = mcp.initialize().unwrap();
        assert_eq!(
            init["protocolVersion"],
            mcp_conformance::PROTOCOL_VERSION,
            "{name}/stdio: initialize answered {init}"
        );
        assert!(
            init["capabilities"]["tools"].is_object(),
            "{name}/stdio: no tools capability in {init}"
        );
        assert_eq!(
            init["serverInfo"]["name"], server.command,
            "{name}/stdio: serverInfo names the binary: {init}"
        );
        assert!(
            init["serverInfo"]["version"]
                .as_str()
                .is_some_and(|v| !v.is_empty()),
            "{name}/stdio: no serverInfo version in {init}"
        );

        let tools = mcp.request("tools/list", json!({})).unwrap();
        let listed = tools["result"]["tools"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            !listed.is_empty(),
            "{name}/stdio: tools/list answered {tools}"
        );
        let problems: Vec<String> = listed.iter().flat_map(|t| tool_problems(name, t)).collect();
        assert!(problems.is_empty(), "{}", problems.join("\n"));

        for (method, params) in [
            ("ping", json!({})),
            ("resources/list", json!({})),
            ("resources/templates/list", json!({})),
            ("prompts/list", json!({})),
            ("logging/setLevel", json!({"level": "debug"})),
        ] {
            let answer = mcp.request(method, params.clone()).unwrap();
            assert!(
                answer.get("result").is_some(),
                "{name}/stdio: {method} {params} answered {answer}"
            );
        }

        let unknown = mcp
            .request(
                "tools/call",
                json!({"name": "no_such_tool_xyz", "arguments": {}}),
            )
            .unwrap();
        assert!(
            unknown["error"]["code"].is_i64(),
            "{name}/stdio: an unknown tool must be a JSON-RPC error, got {unknown}"
        );

        mcp.close_stdin();
        let status = mcp.wait_exit(Duration::from_secs(10));
        assert!(
            status.is_some_and(|s| s.success()),
            "{name}/stdio: did not exit cleanly on stdin EOF ({status:?})\n{}",
            mcp.stderr()
        );
    });
}

#[test]
fn stdio_survives_abuse() {
    for_each_server(
        "stdio",
        "garbage, truncated, batch, oversized, surrogate, invalid UTF-8 and deep input",
        |server| {
            let dir = TempDir::new().unwrap();
            let mut mcp = spawn_stdio(server, &dir);
            let name = &server.name;
            mcp.initialize().unwrap();

            mcp.send_line("this is not json").unwrap();
            let parse_error = mcp.next_message(Duration::from_secs(10)).unwrap();
            assert_eq!(
                parse_error["error"]["code"], -32700,
                "{name}/stdio: garbage line answered {parse_error}"
            );

            mcp.send_line(r#"{"jsonrpc":"2.0","id":77,"method":"tools/li"#)
                .unwrap();
            let truncated = mcp.next_message(Duration::from_secs(10)).unwrap();
            assert_eq!(
                truncated["error"]["code"], -32700,
                "{name}/stdio: truncated object answered {truncated}"
            );

            // Lines rmcp would drop without a word: each gets a parse error with its id.
            for (id, line, what) in malformed_lines() {
                mcp.send_bytes(&line).unwrap();
                mcp.send_bytes(b"\n").unwrap();
                let answer = mcp.next_message(Duration::from_secs(10)).unwrap();
                assert_eq!(
                    (&answer["error"]["code"], &answer["id"]),
                    (&json!(-32700), &json!(id)),
                    "{name}/stdio: {what} answered {answer}"
                );
            }

            mcp.send_line(r#"[{"jsonrpc":"2.0","id":78,"method":"ping"}]"#)
                .unwrap();
            let batch = mcp.next_message(Duration::from_secs(10)).unwrap();
            assert!(
                batch.get("error").is_some(),
                "{name}/stdio: a batch must be rejected, got {batch}"
            );

            // Over the 4 MiB default limit: an error that carries the request's id.
            let huge = format!(
                r#"{{"jsonrpc":"2.0","id":79,"method":"tools/call","params":{{"name":"x","arguments":{{"text":"{}"}}}}}}"#,
                "a".repeat(5 * 1024 * 1024)
            );
            mcp.send_line(&huge).unwrap();
            let too_big = mcp
                .answer_to(&json!(79), &json!("oversized request"))
                .unwrap();
            assert_eq!(
                too_big["error"]["code"], -32600,
                "{name}/stdio: oversized line answered {too_big}"
            );
            assert!(
                too_big["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("exceeds the limit"),
                "{too_big}"
            );

            let ping = mcp.request("ping", json!({})).unwrap();
            assert!(
                ping.get("result").is_some(),
                "{name}/stdio: not serving after abuse: {ping}"
            );
        },
    );
}

#[test]
fn http_sessions_follow_the_spec() {
    for_each_server("http", "sessions and status codes", |server| {
        let dir = TempDir::new().unwrap();
        let http = start_http(server, &dir, &[], &[]);
        let name = &server.name;
        let (session, init) = http.initialize(&[]).unwrap();
        let session =
            session.unwrap_or_else(|| panic!("{name}/http: initialize returned no mcp-session-id"));
        assert_eq!(init["protocolVersion"], mcp_conformance::PROTOCOL_VERSION);

        let list = http
            .post(
                &json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
                Some(&session),
                &[],
            )
            .unwrap();
        assert!(
            list.message_with_id(&json!(2))
                .is_some_and(|m| m["result"]["tools"].is_array()),
            "{name}/http: tools/list got {} {}",
            list.status,
            list.body
        );

        let missing = http
            .post(
                &json!({"jsonrpc":"2.0","id":3,"method":"tools/list"}),
                None,
                &[],
            )
            .unwrap();
        assert_eq!(
            missing.status, 400,
            "{name}/http: a request without a session id must get 400, got {} {}",
            missing.status, missing.body
        );
        let unknown = http
            .post(
                &json!({"jsonrpc":"2.0","id":4,"method":"tools/list"}),
                Some("no-such-session"),
                &[],
            )
            .unwrap();
        assert_eq!(
            unknown.status, 404,
            "{name}/http: an unknown session must get 404, got {}",
            unknown.status
        );

        let notification = http.post(&json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":99}}), Some(&session), &[]).unwrap();
        assert_eq!(
            notification.status, 202,
            "{name}/http: a notification must get 202"
        );

        let wrong_accept = http
            .client
            .post(http.mcp_url())
            .header("content-type", "application/json")
            .header("accept", "text/plain")
            .header("mcp-session-id", &session)
            .body(json!({"jsonrpc":"2.0","id":5,"method":"ping"}).to_string())
            .send()
            .unwrap();
        assert_eq!(
            wrong_accept.status().as_u16(),
            406,
            "{name}/http: Accept without JSON and SSE must get 406"
        );

        let deleted = http
            .client
            .delete(http.mcp_url())
            .header("mcp-session-id", &session)
            .send()
            .unwrap();
        assert_eq!(
            deleted.status().as_u16(),
            200,
            "{name}/http: DELETE of a session got {}",
            deleted.status()
        );
        let after = http
            .post(
                &json!({"jsonrpc":"2.0","id":6,"method":"tools/list"}),
                Some(&session),
                &[],
            )
            .unwrap();
        assert_eq!(
            after.status, 404,
            "{name}/http: a deleted session must get 404, got {}",
            after.status
        );

        let health = http
            .client
            .get(format!("{}/healthz", http.base))
            .send()
            .unwrap();
        assert_eq!(health.status().as_u16(), 200);
        let ready = http
            .client
            .get(format!("{}/readyz", http.base))
            .send()
            .unwrap();
        assert_eq!(
            ready.status().as_u16(),
            200,
            "{name}/http: /readyz not ready"
        );
        let report: Value = ready.json().unwrap();
        assert!(
            report["checks"].is_array(),
            "{name}/http: without tokens configured (loopback) /readyz keeps its details: {report}"
        );
        let metrics = http
            .client
            .get(format!("{}/metrics", http.base))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(
            metrics.contains("# TYPE mcp_tool_calls_total counter"),
            "{name}/http: /metrics answered {metrics}"
        );
    });
}

#[test]
fn http_rejects_rebinding_oversize_and_missing_tokens() {
    for_each_server("http", "Host, Origin, token and body limit", |server| {
        let dir = TempDir::new().unwrap();
        let token = "test-token-0123456789";
        let http = start_http(
            server,
            &dir,
            &[],
            &[
                ("MCP_AUTH_TOKEN", token),
                ("MCP_MAX_REQUEST_BYTES", "65536"),
            ],
        );
        let name = &server.name;
        let bearer = format!("Bearer {token}");
        let auth = [("authorization", bearer.as_str())];

        let (no_token, _) = (http.initialize(&[]).unwrap_err(), ());
        assert!(
            no_token.to_string().contains("401"),
            "{name}/http: initialize without the token: {no_token}"
        );
        let wrong = http
            .post(
                &json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
                None,
                &[("authorization", "Bearer wrong")],
            )
            .unwrap();
        assert_eq!(wrong.status, 401, "{name}/http: a wrong token must get 401");

        let (session, _) = http.initialize(&auth).unwrap();
        let session = session.unwrap();
        for (header, value) in [("host", "evil.example"), ("origin", "http://evil.example")] {
            let answer = http
                .post(
                    &json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
                    Some(&session),
                    &[auth[0], (header, value)],
                )
                .unwrap();
            assert_eq!(
                answer.status, 403,
                "{name}/http: {header}: {value} must be rejected, got {} {}",
                answer.status, answer.body
            );
        }
        let local_origin = format!("http://{}", http.base.trim_start_matches("http://"));
        let answer = http
            .post(
                &json!({"jsonrpc":"2.0","id":3,"method":"tools/list"}),
                Some(&session),
                &[auth[0], ("origin", &local_origin)],
            )
            .unwrap();
        assert_eq!(
            answer.status, 200,
            "{name}/http: a same-host Origin must pass, got {}",
            answer.status
        );

        let big =
            json!({"jsonrpc":"2.0","id":4,"method":"ping","params":{"pad":"x".repeat(70_000)}});
        let answer = http.post(&big, Some(&session), &auth).unwrap();
        assert_eq!(
            answer.status, 413,
            "{name}/http: a body over MCP_MAX_REQUEST_BYTES must get 413"
        );

        let readyz = format!("{}/readyz", http.base);
        // A fresh client: the server closes the connection that carried the oversized body
        // without reading it, and a pooled client could send the next request on it.
        let client = reqwest::blocking::Client::new();
        for (headers, detailed) in [
            (vec![], false),
            (vec![("authorization", "Bearer wrong")], false),
            (vec![auth[0]], true),
        ] {
            let mut request = client.get(&readyz);
            for (header, value) in &headers {
                request = request.header(*header, *value);
            }
            let response = request.send().unwrap();
            assert_eq!(response.status().as_u16(), 200, "{name}/http: /readyz");
            let report: Value = response.json().unwrap();
            if detailed {
                assert!(
                    report["ready"] == true && report["checks"].is_array(),
                    "{name}/http: /readyz with the token shows the details: {report}"
                );
            } else {
                assert_eq!(
                    report,
                    json!({"ready": true}),
                    "{name}/http: /readyz with {headers:?} must show only the status"
                );
            }
        }

        let stderr = http.stderr();
        assert!(
            !stderr.contains(token),
            "{name}/http: the token appeared in the logs"
        );
    });
}

#[test]
fn http_answers_malformed_bodies_with_json_rpc_errors() {
    for_each_server(
        "http",
        "garbage, surrogate, invalid UTF-8, deep and batch bodies",
        |server| {
            let dir = TempDir::new().unwrap();
            let http = start_http(server, &dir, &[], &[]);
            let name = &server.name;
            let (session, _) = http.initialize(&[]).unwrap();
            let session = session.unwrap();
            let mut bodies: Vec<(Value, Vec<u8>, i64, String)> = malformed_lines()
                .into_iter()
                .map(|(id, body, what)| (json!(id), body, -32700, what.to_owned()))
                .collect();
            bodies.extend([
                (
                    Value::Null,
                    b"this is not json".to_vec(),
                    -32700,
                    "garbage".to_owned(),
                ),
                (
                    json!(77),
                    br#"{"jsonrpc":"2.0","id":77,"method":"tools/li"#.to_vec(),
                    -32700,
                    "a truncated object".to_owned(),
                ),
                (
                    Value::Null,
                    br#"[{"jsonrpc":"2.0","id":78,"method":"ping"}]"#.to_vec(),
                    -32600,
                    "a batch".to_owned(),
                ),
                (
                    json!(79),
                    br#"{"jsonrpc":"2.0","id":79,"hello":"world"}"#.to_vec(),
                    -32600,
                    "JSON that is not JSON-RPC".to_owned(),
                ),
            ]);
            for (id, body, code, what) in bodies {
                let response = http
                    .client
                    .post(http.mcp_url())
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .header("mcp-session-id", &session)
                    .body(body)
                    .send()
                    .unwrap();
                let status = response.status().as_u16();
                let text = response.text().unwrap();
                assert_eq!(status, 400, "{name}/http: {what} got {status} {text}");
                let answer: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{name}/http: {what}: not JSON ({e}): {text}"));
                assert_eq!(
                    (&answer["jsonrpc"], &answer["error"]["code"], &answer["id"]),
                    (&json!("2.0"), &json!(code), &id),
                    "{name}/http: {what} answered {answer}"
                );
            }
            // Still serving, and a good request on the same session works.
            let ping = http
                .post(
                    &json!({"jsonrpc":"2.0","id":90,"method":"ping"}),
                    Some(&session),
                    &[],
                )
                .unwrap();
            assert!(
                ping.message_with_id(&json!(90))
                    .is_some_and(|m| m.get("result").is_some()),
                "{name}/http: ping after malformed bodies got {} {}",
                ping.status,
                ping.body
            );
        },
    );
}

#[test]
fn http_refuses_to_listen_beyond_loopback_without_a_token() {
    for_each_server("http", "no exposure without a token", |server| {
        let dir = TempDir::new().unwrap();
        let env = test_environment(server, dir.path());
        let output = std::process::Command::new(binary_path(&server.command))
            .args(["--transport", "http", "--listen", "0.0.0.0:0"])
            .env_clear()
            .envs(env.vars.clone())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{}: exit status {:?}, stderr {stderr}",
            server.name,
            output.status
        );
        assert_eq!(
            stderr
                .matches("refusing to listen on 0.0.0.0:0 without authentication")
                .count(),
            1,
            "{}: the start-up error must be printed exactly once: {stderr}",
            server.name
        );

        // A token short enough to guess is refused too, naming the variable and the minimum.
        let output = std::process::Command::new(binary_path(&server.command))
            .args(["--transport", "http", "--listen", "0.0.0.0:0"])
            .env_clear()
            .envs(env.vars.clone())
            .env("MCP_AUTH_TOKEN", "x")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{}: {stderr}", server.name);
        assert_eq!(
            stderr
                .matches(
                    "MCP_AUTH_TOKEN is 1 character long, and tokens must be at least 16 characters"
                )
                .count(),
            1,
            "{}: {stderr}",
            server.name
        );
    });
}

#[test]
fn http_stateless_mode_answers_without_sessions() {
    for_each_server("http", "stateless mode", |server| {
        let dir = TempDir::new().unwrap();
        let http = start_http(server, &dir, &["--stateless"], &[]);
        let answer = http
            .post(
                &json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
                None,
                &[],
            )
            .unwrap();
        let message = answer.message_with_id(&json!(1));
        assert!(
            message.is_some_and(|m| m["result"]["tools"].is_array()),
            "{}/http-stateless: tools/list got {} {}",
            server.name,
            answer.status,
            answer.body
        );
        assert!(
            answer.content_type.starts_with("application/json"),
            "{}: stateless answers are plain JSON",
            server.name
        );
    });
}

#[test]
fn http_get_opens_an_sse_stream_and_idle_sessions_expire() {
    for_each_server("http", "GET SSE stream and idle expiry", |server| {
        let dir = TempDir::new().unwrap();
        let http = start_http(server, &dir, &[], &[("MCP_SESSION_IDLE_SECS", "1")]);
        let name = &server.name;
        let (session, _) = http.initialize(&[]).unwrap();
        let session = session.unwrap();
        let stream = http
            .client
            .get(http.mcp_url())
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &session)
            .send()
            .unwrap();
        assert_eq!(
            stream.status().as_u16(),
            200,
            "{name}/http: GET /mcp got {}",
            stream.status()
        );
        let content_type = stream
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{name}/http: GET /mcp answered {content_type}"
        );
        drop(stream);

        std::thread::sleep(Duration::from_millis(2500));
        let expired = http
            .post(
                &json!({"jsonrpc":"2.0","id":9,"method":"tools/list"}),
                Some(&session),
                &[],
            )
            .unwrap();
        assert_eq!(
            expired.status, 404,
            "{name}/http: a session idle beyond MCP_SESSION_IDLE_SECS must be gone, got {}",
            expired.status
        );
    });
}

#[test]
fn stdio_exits_on_sigterm_and_logs_json_when_asked() {
    for_each_server("stdio", "SIGTERM and JSON logs", |server| {
        let dir = TempDir::new().unwrap();
        let mut env = test_environment(server, dir.path());
        env.push(("MCP_LOG_FORMAT".into(), "json".into()));
        let env = pairs(&env);
        let mut mcp = StdioServer::spawn(&binary_path(&server.command), &[], &env).unwrap();
        mcp.initialize().unwrap();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &mcp.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = mcp.wait_exit(Duration::from_secs(10));
        assert!(
            exit.is_some_and(|s| s.success()),
            "{}/stdio: SIGTERM did not end the server cleanly: {exit:?}",
            server.name
        );
        let stderr = mcp.stderr();
        assert!(
            stderr.lines().count() >= 2,
            "{}: expected log lines, got {stderr}",
            server.name
        );
        for line in stderr.lines() {
            let parsed: Result<Value, _> = serde_json::from_str(line);
            assert!(
                parsed.is_ok_and(|v| v.is_object()),
                "{}: with MCP_LOG_FORMAT=json every stderr line must be JSON: {line}",
                server.name
            );
        }
    });
}

#[test]
fn http_shuts_down_gracefully_on_sigterm() {
    for_each_server("http", "graceful shutdown", |server| {
        let dir = TempDir::new().unwrap();
        let mut http = start_http(server, &dir, &[], &[]);
        let (session, _) = http.initialize(&[]).unwrap();
        assert!(session.is_some());
        let status = std::process::Command::new("kill")
            .args(["-TERM", &http.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = http.wait_exit(Duration::from_secs(15));
        assert!(
            exit.is_some_and(|s| s.success()),
            "{}/http: SIGTERM did not end the server cleanly: {exit:?}\n{}",
            server.name,
            http.stderr()
        );
    });
}

#[test]
fn settings_from_a_dotenv_file_are_read_and_checked() {
    for_each_server("stdio", ".env settings", |server| {
        let dir = TempDir::new().unwrap();
        std::fs::write(dir.path().join(".env"), "MCP_TRANSPORT=carrier-pigeon\n").unwrap();
        let env = test_environment(server, dir.path());
        let output = std::process::Command::new(binary_path(&server.command))
            .current_dir(dir.path())
            .env_clear()
            .envs(env.vars.clone())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{}: an invalid setting in .env must stop start-up: {stderr}",
            server.name
        );
        assert_eq!(
            stderr
                .matches("MCP_TRANSPORT must be stdio or http (found \"carrier-pigeon\")")
                .count(),
            1,
            "{}: the message must name the variable and what it expects, once: {stderr}",
            server.name
        );
        assert!(
            output.stdout.is_empty(),
            "{}: nothing may reach stdout",
            server.name
        );
    });
}

#[test]
fn every_protocol_version_is_negotiated_and_unknown_ones_are_counter_offered() {
    for_each_server("stdio", "protocol versions", |server| {
        // (version asked, version the server must answer)
        let cases = [
            ("2024-11-05", "2024-11-05"),
            ("2025-03-26", "2025-03-26"),
            ("2025-06-18", "2025-06-18"),
            ("2025-11-25", "2025-11-25"),
            ("2099-01-01", "2025-11-25"),
        ];
        for (asked, expected) in cases {
            let dir = TempDir::new().unwrap();
            let mut mcp = spawn_stdio(server, &dir);
            let answer = mcp
                .request(
                    "initialize",
                    json!({"protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "versions", "version": "1"}}),
                )
                .unwrap();
            assert_eq!(
                answer["result"]["protocolVersion"], expected,
                "{}/stdio: initialize with {asked} must answer {expected}, got {answer}",
                server.name
            );
        }
    });
}

#[test]
fn the_2026_request_level_lifecycle_works_without_initialize() {
    for_each_server("stdio+http", "2026-07-28 request lifecycle", |server| {
        let dir = TempDir::new().unwrap();
        let mut mcp = spawn_stdio(server, &dir);
        let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
        let discover = mcp
            .request("server/discover", json!({"_meta": meta}))
            .unwrap();
        let versions = discover["result"]["supportedVersions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            versions.contains(&json!("2026-07-28")) && versions.contains(&json!("2025-11-25")),
            "{}/stdio: server/discover answered {discover}",
            server.name
        );
        let tools = mcp.request("tools/list", json!({"_meta": meta})).unwrap();
        assert_eq!(
            tools["result"]["resultType"], "complete",
            "{}/stdio: tools/list with 2026 _meta answered {tools}",
            server.name
        );
        assert!(
            tools["result"]["tools"]
                .as_array()
                .is_some_and(|t| !t.is_empty())
        );

        let dir = TempDir::new().unwrap();
        let http = start_http(server, &dir, &["--stateless"], &[]);
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}});
        let answer = http
            .post(
                &body,
                None,
                &[
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "tools/list"),
                ],
            )
            .unwrap();
        let message = answer.message_with_id(&json!(1));
        assert!(
            message
                .as_ref()
                .is_some_and(|m| m["result"]["tools"].is_array()),
            "{}/http: a 2026-07-28 tools/list got {} {}",
            server.name,
            answer.status,
            answer.body
        );
    });
}
